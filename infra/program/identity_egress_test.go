package program

import (
	"slices"
	"testing"

	"github.com/bulwark-platform/bulwark/internal/testkit/mocktest"
)

// A REGISTRY_ONLY prod mesh with an external identity provider registers
// it in each application namespace through the mesh policy, beside the
// services' egress to its address; with the operator's Keycloak in the
// cluster (prod's default) no external entry is registered (the issuer's
// host leads to Keycloak's Service instead: identity-keycloak).
func TestAnExternalIdentityProviderIsRegisteredWithTheMesh(t *testing.T) {
	entries := func(m *mocktest.Mocks) []string {
		var out []string
		for _, se := range m.ByType("kubernetes:networking.istio.io/v1:ServiceEntry") {
			if mocktest.Get(se.Inputs, "metadata", "name") == "identity-external" {
				out = append(out, mocktest.Get(se.Inputs, "metadata", "namespace").(string))
			}
		}
		slices.Sort(out)
		return out
	}
	m, err := runStack(t, "prod", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := entries(m); len(got) != 0 {
		t.Errorf("Keycloak in the cluster: identity ServiceEntries in %v", got)
	}
	m, err = runStack(t, "prod", map[string]string{"bulwark:identity": `{"install": false, "external": {"host": "id.prod.bulwark.example.com", "port": 443, "cidr": "203.0.113.0/24", "tls": true}}`})
	if err != nil {
		t.Fatal(err)
	}
	if got := entries(m); !slices.Equal(got, []string{"payments", "shop"}) {
		t.Errorf("identity ServiceEntries in %v, want payments and shop", got)
	}
	for _, np := range m.ByType("kubernetes:networking.k8s.io/v1:NetworkPolicy") {
		if mocktest.Get(np.Inputs, "metadata", "name") == "payment-to-identity" {
			return
		}
	}
	t.Error("no payment-to-identity NetworkPolicy registered")
}
