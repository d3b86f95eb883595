package datastore

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/config"
)

var update = flag.Bool("update", false, "rewrite the golden data stores in testdata/")

func stackConfig(t *testing.T, stack string) *config.Config {
	t.Helper()
	cfg, err := config.LoadStack(filepath.Join("..", ".."), stack)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The compiled data stores of each stack are kept as golden files: a change
// to the compiler or a stack shows as a reviewable diff.
// go test ./infra/datastore -run TestGoldenDataStores -update rewrites them.
func TestGoldenDataStores(t *testing.T) {
	for _, stack := range []string{"local", "ci", "dev", "staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			cfg := stackConfig(t, stack)
			set, err := Compile(&cfg.Graph, cfg.Data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := set.Manifests()
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
				t.Errorf("compiled data stores of stack %s differ from %s; review the change and rerun with -update", stack, golden)
			}
		})
	}
}
