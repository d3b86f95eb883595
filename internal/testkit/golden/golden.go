// Package golden holds compiled objects against golden files, one per
// stack: the way every compiler in infra/ is tested, so a change to a
// compiler or a stack shows as a reviewable diff. `go test <pkg> -update`
// rewrites the files.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// Stacks is every stack with a file in stacks/.
var Stacks = []string{"local", "ci", "dev", "staging", "prod"}

// PerStack loads each stack's configuration from the checkout at root,
// renders it and compares the bytes with testdata/golden/<stack>.yaml.
func PerStack(t *testing.T, root string, render func(*config.Config) ([]byte, error)) {
	t.Helper()
	for _, stack := range Stacks {
		t.Run(stack, func(t *testing.T) {
			cfg, err := config.LoadStack(root, stack)
			if err != nil {
				t.Fatal(err)
			}
			got, err := render(cfg)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join("testdata", "golden", stack+".yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("stack %s renders differently from %s; review the change and rerun with -update", stack, file)
			}
		})
	}
}
