package identity

import (
	"path/filepath"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/internal/testkit/golden"
)

// Every stack's identity model (realm, scopes, the browser client, the
// services' clients) is kept as a golden file: go test ./infra/identity
// -run TestGoldenIdentity -update rewrites them, and the diff is the review.
func TestGoldenIdentity(t *testing.T) {
	golden.PerStack(t, filepath.Join("..", ".."), func(cfg *config.Config) ([]byte, error) {
		m, err := Compile(cfg)
		if err != nil {
			return nil, err
		}
		return m.Manifests()
	})
}

// Every stack's Keycloak objects (the Keycloak resource and the realm
// import) as golden files in testdata/keycloak.
func TestGoldenKeycloak(t *testing.T) {
	golden.PerStackIn(t, filepath.Join("..", ".."), filepath.Join("testdata", "keycloak"), func(cfg *config.Config) ([]byte, error) {
		m, err := Compile(cfg)
		if err != nil {
			return nil, err
		}
		set, err := Keycloak(m, cfg)
		if err != nil {
			return nil, err
		}
		return set.Manifests()
	})
}
