package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-platform/bulwark/internal/harness/localcluster"
)

// Without PostgreSQL or redis-server the local cluster still runs, with its
// stores off: a stack that needs them is refused with the reason, destroy
// still proceeds, and a stack with installed stores doesn't need them.
func TestStacksWhenTheLocalStoresAreOff(t *testing.T) {
	root := filepath.Join("..", "..")
	off := &localcluster.Cluster{StoresOff: "redis-server is not installed"}
	_, err := localStores(context.Background(), root, "local", off, false)
	if err == nil || !strings.Contains(err.Error(), "they are off: redis-server is not installed") {
		t.Errorf("preview of local without stores: %v", err)
	}
	if s, err := localStores(context.Background(), root, "local", off, true); err != nil || s != nil {
		t.Errorf("destroy of local without stores: %v %v", s, err)
	}
	if s, err := localStores(context.Background(), root, "dev", off, false); err != nil || s != nil {
		t.Errorf("dev installs its stores and needs none of the local cluster's: %v %v", s, err)
	}
}
