package identityprovider

import (
	"context"
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/identity"
	"github.com/bulwark-platform/bulwark/internal/testkit/mocktest"
)

func keycloakSet(t *testing.T) identity.KeycloakSet {
	t.Helper()
	cfg := config.Defaults(config.Prod)
	m, err := identity.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	set, err := identity.Keycloak(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// The operator's manifests go to the configured namespace: namespaced
// objects without one get it, the ClusterRoleBinding's subject follows,
// cluster-scoped objects are left alone.
func TestRelocate(t *testing.T) {
	deploy := pulumi.Map{"kind": pulumi.String("Deployment"), "metadata": pulumi.Map{"name": pulumi.String("keycloak-operator")}}
	got := RelocateProps(deploy, "identity")
	if ns := got["metadata"].(pulumi.Map)["namespace"]; ns != pulumi.String("identity") {
		t.Errorf("Deployment namespace %v, want identity", ns)
	}
	if _, had := deploy["metadata"].(pulumi.Map)["namespace"]; had {
		t.Error("the input was changed in place")
	}
	crb := pulumi.Map{"kind": pulumi.String("ClusterRoleBinding"), "metadata": pulumi.Map{"name": pulumi.String("b")},
		"subjects": pulumi.Array{pulumi.Map{"kind": pulumi.String("ServiceAccount"), "name": pulumi.String("keycloak-operator"), "namespace": pulumi.String("keycloak")}}}
	got = RelocateProps(crb, "identity")
	if ns := got["subjects"].(pulumi.Array)[0].(pulumi.Map)["namespace"]; ns != pulumi.String("identity") {
		t.Errorf("subject namespace %v, want identity", ns)
	}
	if _, has := got["metadata"].(pulumi.Map)["namespace"]; has {
		t.Error("a ClusterRoleBinding got a namespace")
	}
	role := pulumi.Map{"kind": pulumi.String("ClusterRole"), "metadata": pulumi.Map{"name": pulumi.String("r")}}
	if RelocateProps(role, "identity") != nil {
		t.Error("a ClusterRole was changed")
	}
	other := pulumi.Map{"kind": pulumi.String("Service"), "metadata": pulumi.Map{"name": pulumi.String("s"), "namespace": pulumi.String("elsewhere")}}
	if RelocateProps(other, "identity") != nil {
		t.Error("an object in another namespace than the assumed one was moved")
	}
}

// The operator is applied from the pinned release, then Keycloak, then
// the realm import after it.
func TestRegistersOperatorThenKeycloakThenRealm(t *testing.T) {
	set := keycloakSet(t)
	m, err := mocktest.RunWithProvider("test", func(ctx *pulumi.Context, p pulumi.ProviderResource) error {
		_, err := New(ctx, "identity", &Args{Keycloak: set, InstallOperator: true, Provider: p})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	op := mocktest.Must(t, m, "identity-operator")
	files := mocktest.Strings(mocktest.Get(op.Inputs, "files"))
	if !slices.Equal(files, ManifestURLs()) {
		t.Errorf("operator files %v, want %v", files, ManifestURLs())
	}
	// The transform registered on the release moves its Deployment into
	// the configured namespace.
	if len(op.Transforms) != 1 {
		t.Fatalf("operator release has %d transforms, want 1", len(op.Transforms))
	}
	res := op.Transforms[0](context.Background(), &pulumi.ResourceTransformArgs{Type: "kubernetes:apps/v1:Deployment", Name: "keycloak-operator",
		Props: pulumi.Map{"kind": pulumi.String("Deployment"), "metadata": pulumi.Map{"name": pulumi.String("keycloak-operator")}}})
	if res == nil || res.Props["metadata"].(pulumi.Map)["namespace"] != pulumi.String(set.Namespace) {
		t.Errorf("the operator's Deployment is not moved into %s: %+v", set.Namespace, res)
	}
	kc := mocktest.Must(t, m, "identity-keycloak")
	if !mocktest.DependsOn(kc, "identity-operator") {
		t.Error("Keycloak does not wait for its operator (its CRDs)")
	}
	realm := mocktest.Must(t, m, "identity-realm")
	if !mocktest.DependsOn(realm, "identity-keycloak") {
		t.Error("the realm import does not wait for Keycloak")
	}
	if got := mocktest.Get(realm.Inputs, "spec", "keycloakCRName"); got != set.Server.Name {
		t.Errorf("realm import for %v, want %s", got, set.Server.Name)
	}
	if got := mocktest.Get(kc.Inputs, "metadata", "namespace"); got != set.Namespace {
		t.Errorf("Keycloak in %v, want %s", got, set.Namespace)
	}
}

// Adopting an operator registers only Keycloak and the realm.
func TestAdoptedOperator(t *testing.T) {
	set := keycloakSet(t)
	m, err := mocktest.RunWithProvider("test", func(ctx *pulumi.Context, p pulumi.ProviderResource) error {
		_, err := New(ctx, "identity", &Args{Keycloak: set, Provider: p})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Named("identity-operator"); ok {
		t.Error("an adopted operator was installed")
	}
	mocktest.Must(t, m, "identity-realm")
}
