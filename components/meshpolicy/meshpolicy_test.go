package meshpolicy

import (
	"errors"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
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
		_, err := New(ctx, "mesh", &Args{AuthorizationPolicies: []kinds.Object[*securityv1beta1.AuthorizationPolicy]{ap("cluster.local/ns/a/sa/b")}, Provider: p})
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
}
