package datastore

import (
	"path/filepath"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/internal/testkit/golden"
)

// The compiled data stores of each stack are kept as golden files.
// go test ./infra/datastore -run TestGoldenDataStores -update rewrites them.
func TestGoldenDataStores(t *testing.T) {
	golden.PerStack(t, filepath.Join("..", ".."), func(cfg *config.Config) ([]byte, error) {
		set, err := Compile(&cfg.Graph, cfg.Data)
		if err != nil {
			return nil, err
		}
		return set.Manifests()
	})
}
