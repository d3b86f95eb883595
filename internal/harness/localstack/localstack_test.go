package localstack

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-platform/bulwark/internal/harness/localcluster"
)

// Without PostgreSQL, redis-server or OpenBao the local cluster still
// runs, with them off: a stack that needs them is refused with the
// reason, destroy still proceeds, and a stack that installs its stores
// and Vault needs none of them.
func TestStacksWhenTheLocalStoresAreOff(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	off := &localcluster.Cluster{StoresOff: "redis-server is not installed", VaultOff: "bao is not built"}
	_, _, err := HandOver(context.Background(), root, "local", off, false)
	if err == nil || !strings.Contains(err.Error(), "they are off: redis-server is not installed") {
		t.Errorf("preview of local without stores: %v", err)
	}
	if s, v, err := HandOver(context.Background(), root, "local", off, true); err != nil || s != nil || v != nil {
		t.Errorf("destroy of local without stores: %v %v %v", s, v, err)
	}
	if s, v, err := HandOver(context.Background(), root, "dev", off, false); err != nil || s != nil || v != nil {
		t.Errorf("dev installs its stores and Vault and needs none of the local cluster's: %v %v %v", s, v, err)
	}
}
