package secrets

import (
	"path/filepath"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/internal/testkit/golden"
)

// Every stack's compiled secrets, Vault policies as HCL included, are
// kept as golden files: go test ./infra/secrets -run TestGoldenSecrets
// -update rewrites them, and the diff is the review.
func TestGoldenSecrets(t *testing.T) {
	golden.PerStack(t, filepath.Join("..", ".."), func(cfg *config.Config) ([]byte, error) {
		set, err := Compile(cfg)
		if err != nil {
			return nil, err
		}
		return set.Manifests()
	})
}
