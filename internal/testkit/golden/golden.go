// Package golden holds compiled objects against golden files, one per
// stack: the way every compiler in infra/ is tested, so a change to a
// compiler or a stack shows as a reviewable diff. `go test <pkg> -update`
// rewrites the files.
package golden

import (
	"flag"
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
	PerStackIn(t, root, filepath.Join("testdata", "golden"), render)
}
