package netpolicy

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bulwark-platform/bulwark/internal/mocktest"
)

func np(egress ...networkingv1.NetworkPolicyEgressRule) networkingv1.NetworkPolicy {
	return networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop"}, Spec: networkingv1.NetworkPolicySpec{Egress: egress}}
}

func TestNetworkSecurityRefusesOpenings(t *testing.T) {
	anywhere := networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}}}
	tests := []struct {
		name    string
		args    Args
		want    string
		accepts bool
	}{
		{"egress to everywhere", Args{Policies: []networkingv1.NetworkPolicy{np(networkingv1.NetworkPolicyEgressRule{})}}, "allows every destination", false},
		{"an undeclared CIDR", Args{Policies: []networkingv1.NetworkPolicy{np(anywhere)}}, "does not declare", false},
		{"a declared CIDR", Args{Policies: []networkingv1.NetworkPolicy{np(anywhere)}, AllowedCIDRs: []string{"0.0.0.0/0"}}, "", true},
		{"ingress from everywhere", Args{Policies: []networkingv1.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop"},
			Spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{}}}}}}, "admits every source", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := mocktest.RunWithProvider("test", func(ctx *pulumi.Context, p pulumi.ProviderResource) error {
				a := tc.args
				a.Provider = p
				_, err := New(ctx, "net", &a)
				return err
			})
			if tc.accepts {
				if err != nil {
					t.Fatal(err)
				}
				if len(m.ByType("kubernetes:networking.k8s.io/v1:NetworkPolicy")) != 1 {
					t.Error("policy not registered")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if n := len(m.ByType("kubernetes:networking.k8s.io/v1:NetworkPolicy")); n != 0 {
				t.Errorf("%d policies registered despite the opening", n)
			}
		})
	}
}
