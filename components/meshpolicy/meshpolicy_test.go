package meshpolicy

import (
	"errors"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	securityv1beta1 "istio.io/api/security/v1beta1"

	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/testkit/mocktest"
)

func ap(principals ...string) kinds.Object[*securityv1beta1.AuthorizationPolicy] {
	return kinds.Object[*securityv1beta1.AuthorizationPolicy]{Name: "x", Namespace: "shop", Spec: &securityv1beta1.AuthorizationPolicy{
		Rules: []*securityv1beta1.Rule{{From: []*securityv1beta1.Rule_From{{Source: &securityv1beta1.Source{Principals: principals}}}}},
	}}
}

func se(host string, exportTo []string, loc networkingv1alpha3.ServiceEntry_Location) kinds.Object[*networkingv1alpha3.ServiceEntry] {
	return kinds.ServiceEntry.Of("vault", "shop", nil, &networkingv1alpha3.ServiceEntry{
		Hosts: []string{host}, ExportTo: exportTo, Location: loc,
		Ports: []*networkingv1alpha3.ServicePort{{Number: 8200, Name: "https", Protocol: "TLS"}},
	})
}

func TestMeshSecurityRefusesWeakPolicy(t *testing.T) {
	strict := kinds.Object[*securityv1beta1.PeerAuthentication]{Name: "default", Namespace: "shop", Spec: &securityv1beta1.PeerAuthentication{
		Mtls: &securityv1beta1.PeerAuthentication_MutualTLS{Mode: securityv1beta1.PeerAuthentication_MutualTLS_STRICT}}}
	permissive := strict
	permissive.Spec = &securityv1beta1.PeerAuthentication{Mtls: &securityv1beta1.PeerAuthentication_MutualTLS{Mode: securityv1beta1.PeerAuthentication_MutualTLS_PERMISSIVE}}
	portPermissive := strict
	portPermissive.Spec = &securityv1beta1.PeerAuthentication{
		Mtls:          &securityv1beta1.PeerAuthentication_MutualTLS{Mode: securityv1beta1.PeerAuthentication_MutualTLS_STRICT},
		PortLevelMtls: map[uint32]*securityv1beta1.PeerAuthentication_MutualTLS{9090: {Mode: securityv1beta1.PeerAuthentication_MutualTLS_DISABLE}},
	}
	tests := []struct {
		name string
		args Args
		want string
		kind error
	}{
		{"permissive mTLS", Args{PeerAuthentications: []kinds.Object[*securityv1beta1.PeerAuthentication]{permissive}}, "only STRICT", fielderr.ErrForbidden},
		{"a plaintext port", Args{PeerAuthentications: []kinds.Object[*securityv1beta1.PeerAuthentication]{portPermissive}}, "portLevelMtls[9090]: shop/default is DISABLE", fielderr.ErrForbidden},
		{"a wildcard principal", Args{AuthorizationPolicies: []kinds.Object[*securityv1beta1.AuthorizationPolicy]{ap("*")}}, `wildcard source "*"`, fielderr.ErrForbidden},
		{"a rule without sources", Args{AuthorizationPolicies: []kinds.Object[*securityv1beta1.AuthorizationPolicy]{{Name: "x", Namespace: "shop", Spec: &securityv1beta1.AuthorizationPolicy{Rules: []*securityv1beta1.Rule{{}}}}}}, "admits every source", fielderr.ErrForbidden},
		{"a source without principals", Args{AuthorizationPolicies: []kinds.Object[*securityv1beta1.AuthorizationPolicy]{ap()}}, "without principals", fielderr.ErrForbidden},
		{"a wildcard external host", Args{ServiceEntries: []kinds.Object[*networkingv1alpha3.ServiceEntry]{se("*.example.com", []string{"."}, networkingv1alpha3.ServiceEntry_MESH_EXTERNAL)}}, `serviceEntries[0].hosts: shop/vault names wildcard host "*.example.com"`, fielderr.ErrForbidden},
		{"an external service exported mesh-wide", Args{ServiceEntries: []kinds.Object[*networkingv1alpha3.ServiceEntry]{se("vault.example.com", nil, networkingv1alpha3.ServiceEntry_MESH_EXTERNAL)}}, "serviceEntries[0].exportTo", fielderr.ErrForbidden},
		{"an external service inside the mesh", Args{ServiceEntries: []kinds.Object[*networkingv1alpha3.ServiceEntry]{se("vault.example.com", []string{"."}, networkingv1alpha3.ServiceEntry_MESH_INTERNAL)}}, "serviceEntries[0].location", fielderr.ErrForbidden},
		{"a policy twice", Args{PeerAuthentications: []kinds.Object[*securityv1beta1.PeerAuthentication]{strict, strict}}, "peerAuthentications[1]: PeerAuthentication shop/default is also peerAuthentications[0]", fielderr.ErrDuplicate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := mocktest.RunWithProvider("test", func(ctx *pulumi.Context, p pulumi.ProviderResource) error {
				a := tc.args
				a.Provider = p
				_, err := New(ctx, "mesh", &a)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, tc.kind) {
				t.Fatalf("error %v, want %q (%v)", err, tc.want, tc.kind)
			}
			if n := len(m.All()); n != 1 {
				t.Errorf("%d resources registered despite bad policy", n-1)
			}
		})
	}
}

func TestMeshSecurityRegistersEachPolicyUnderTheComponent(t *testing.T) {
	m, err := mocktest.RunWithProvider("test", func(ctx *pulumi.Context, p pulumi.ProviderResource) error {
		_, err := New(ctx, "mesh", &Args{AuthorizationPolicies: []kinds.Object[*securityv1beta1.AuthorizationPolicy]{ap("cluster.local/ns/a/sa/b")},
			ServiceEntries: []kinds.Object[*networkingv1alpha3.ServiceEntry]{se("vault.example.com", []string{"."}, networkingv1alpha3.ServiceEntry_MESH_EXTERNAL)},
			Provider:       p})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	aps := m.ByType("kubernetes:security.istio.io/v1:AuthorizationPolicy")
	if len(aps) != 1 || aps[0].Parent != "urn:pulumi:test::bulwark::"+Token+"::mesh" || !strings.Contains(aps[0].Provider, "::k8s::") {
		t.Fatalf("%+v", aps)
	}
	if got := mocktest.Get(aps[0].Inputs, "spec", "rules"); got == nil {
		t.Error("spec lost in registration")
	}
	ses := m.ByType("kubernetes:networking.istio.io/v1:ServiceEntry")
	// MESH_EXTERNAL is the enum's zero value, which the protobuf JSON
	// form leaves out: absent means external.
	loc := mocktest.Get(ses[0].Inputs, "spec", "location")
	if len(ses) != 1 || ses[0].Parent != aps[0].Parent || (loc != nil && loc != "MESH_EXTERNAL") || mocktest.Get(ses[0].Inputs, "spec", "hosts") == nil {
		t.Fatalf("ServiceEntry: %+v", ses)
	}
}
