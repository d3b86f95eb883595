package main

import (
	"testing"

	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc/graphcheck"
)

// The graph the platform compiles its allows from and this service's
// route table agree: methods, paths and scopes.
func TestGraphAgreesWithTheRouteTable(t *testing.T) {
	graphcheck.GraphAgrees(t, "order", (&api{}).routes())
}

// Every callee the graph gives this service has a variable for its base
// URL in the config contract, and no URL variable lacks an edge.
func TestGraphAgreesWithTheConfigContract(t *testing.T) {
	graphcheck.ContractAgrees(t, "order")
}
