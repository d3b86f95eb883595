package policy

import (
	"path/filepath"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/peers"
	"github.com/bulwark-platform/bulwark/internal/testkit/golden"
)

// The compiled policy set of each stack is kept as a golden file.
// go test ./infra/policy -run TestGoldenPolicySets -update rewrites them.
func TestGoldenPolicySets(t *testing.T) {
	golden.PerStack(t, filepath.Join("..", ".."), func(cfg *config.Config) ([]byte, error) {
		return Compile(&cfg.Graph, cfg.Mesh, peers.Of(cfg)).Manifests()
	})
}
