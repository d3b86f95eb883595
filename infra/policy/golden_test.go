package policy

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/config"
)

var update = flag.Bool("update", false, "rewrite the golden policy sets in testdata/")

// The compiled policy set of each stack is kept as a golden file: a change
// to the compiler or a stack shows up as a reviewable diff of manifests.
// go test ./infra/policy -run TestGoldenPolicySets -update rewrites them.
func TestGoldenPolicySets(t *testing.T) {
	for _, stack := range []string{"local", "ci", "dev", "staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			values, err := config.ReadStackFile(filepath.Join("..", "..", "stacks", "Pulumi."+stack+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(config.MapGetter(values), config.Keys(values))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Compile(&cfg.Graph, cfg.Mesh, cfg.Data).Manifests()
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", stack+".yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("compiled policy of stack %s differs from %s; review the change and rerun with -update", stack, golden)
			}
		})
	}
}
