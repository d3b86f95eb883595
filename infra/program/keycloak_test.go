package program

import (
	"slices"
	"testing"

	"github.com/bulwark-platform/bulwark/internal/testkit/mocktest"
)

// Where Keycloak is installed (dev, staging, prod) the program wires it
// whole: its namespace, certificate and trust bundle, its database and the
// copy of its owner's credentials, the synced client secrets, then the
// operator, Keycloak and the realm, each after what it needs. Local and ci
// (the runner's Hydra) register none of it, and an external Keycloak only
// the egress.
func TestKeycloakIsWiredWhereInstalled(t *testing.T) {
	named := func(m *mocktest.Mocks, typ, ns, name string) bool {
		return slices.ContainsFunc(m.ByType(typ), func(r mocktest.Resource) bool {
			return mocktest.Get(r.Inputs, "metadata", "name") == name && (ns == "" || mocktest.Get(r.Inputs, "metadata", "namespace") == ns)
		})
	}
	for _, stack := range []string{"dev", "staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			m, err := runStack(t, stack, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []struct{ typ, ns, name string }{
				{"kubernetes:core/v1:Namespace", "", "identity"},
				{"kubernetes:cert-manager.io/v1:Certificate", "identity", "keycloak-tls"},
				{"kubernetes:cert-manager.io/v1:Certificate", "identity", "bulwark-trust"},
				{"kubernetes:core/v1:Secret", "identity", "keycloak-db"},
				{"kubernetes:postgresql.cnpg.io/v1:Database", "", ""},
				{"kubernetes:external-secrets.io/v1:SecretStore", "identity", "vault"},
				{"kubernetes:external-secrets.io/v1:ExternalSecret", "identity", "keycloak-client-secrets"},
				{"kubernetes:k8s.keycloak.org/v2alpha1:Keycloak", "identity", "keycloak"},
				{"kubernetes:k8s.keycloak.org/v2alpha1:KeycloakRealmImport", "identity", "keycloak-bulwark"},
			} {
				if want.name == "" {
					// The CNPG Database for Keycloak, in whichever cluster.
					if !slices.ContainsFunc(m.ByType(want.typ), func(r mocktest.Resource) bool {
						return mocktest.Get(r.Inputs, "spec", "name") == "keycloak" && mocktest.Get(r.Inputs, "spec", "owner") == "keycloak_owner"
					}) {
						t.Errorf("no CloudNativePG Database keycloak owned by keycloak_owner")
					}
					continue
				}
				if !named(m, want.typ, want.ns, want.name) {
					t.Errorf("no %s %s/%s", want.typ, want.ns, want.name)
				}
			}
			kc := mocktest.Must(t, m, "identity-keycloak")
			// Its operator, certificate, database credentials and client
			// secrets come first.
			for _, dep := range []string{"identity-operator", "pki-cert-identity-keycloak-tls", "data-secret-identity-keycloak-db", "secrets-identity-keycloak-client-secrets"} {
				if !mocktest.DependsOn(kc, dep) {
					t.Errorf("Keycloak does not wait for %s", dep)
				}
			}
			// The copy follows the owner role's Secret, in the data namespace.
			cp := mocktest.Must(t, m, "data-secret-identity-keycloak-db")
			if mocktest.Get(cp.Inputs, "type") != "kubernetes.io/basic-auth" {
				t.Errorf("keycloak-db is a %v Secret", mocktest.Get(cp.Inputs, "type"))
			}
		})
	}
	for _, stack := range []string{"local", "ci"} {
		t.Run(stack, func(t *testing.T) {
			m, err := runStack(t, stack, nil)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(m.ByType("kubernetes:k8s.keycloak.org/v2alpha1:Keycloak")) + len(m.ByType("bulwark:identityprovider:IdentityProvider")); n != 0 {
				t.Errorf("%d Keycloak objects where Hydra is the provider", n)
			}
		})
	}
}
