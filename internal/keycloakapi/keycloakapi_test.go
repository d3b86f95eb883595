package keycloakapi

import (
	"os"
	"regexp"
	"testing"
)

// The operator release the platform applies is the one whose CRDs
// `make tools` installs into the local cluster for the stack check.
func TestOperatorVersionMatchesTools(t *testing.T) {
	raw, err := os.ReadFile("../../hack/tools.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^KEYCLOAK_OPERATOR_VERSION=(\S+)$`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("hack/tools.sh pins no KEYCLOAK_OPERATOR_VERSION")
	}
	if string(m[1]) != OperatorVersion {
		t.Errorf("hack/tools.sh installs the CRDs of operator %s, the platform applies %s", m[1], OperatorVersion)
	}
}
