package golden

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/config"
)

// PerStackIn is PerStack with the golden files in dir
// (dir/<stack>.yaml): for a package that keeps more than one rendering
// per stack.
func PerStackIn(t *testing.T, root, dir string, render func(*config.Config) ([]byte, error)) {
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
			file := filepath.Join(dir, stack+".yaml")
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
