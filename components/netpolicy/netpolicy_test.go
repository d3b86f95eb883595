package netpolicy

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/testkit/mocktest"
)

func np(egress ...networkingv1.NetworkPolicyEgressRule) kinds.Object[networkingv1.NetworkPolicySpec] {
	return kinds.NetworkPolicy.Of("p", "shop", nil, networkingv1.NetworkPolicySpec{Egress: egress})
}

func TestNetworkSecurityRefusesOpenings(t *testing.T) {
	anywhere := networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}}}
	tests := []struct {
		name    string
		args    Args
		want    string
		accepts bool
	}{
		{"egress to everywhere", Args{Policies: []kinds.Object[networkingv1.NetworkPolicySpec]{np(networkingv1.NetworkPolicyEgressRule{})}}, "allows every destination", false},
		{"an undeclared CIDR", Args{Policies: []kinds.Object[networkingv1.NetworkPolicySpec]{np(anywhere)}}, "does not declare", false},
		{"a declared CIDR", Args{Policies: []kinds.Object[networkingv1.NetworkPolicySpec]{np(anywhere)}, AllowedCIDRs: []string{"0.0.0.0/0"}}, "", true},
		{"ingress from everywhere", Args{Policies: []kinds.Object[networkingv1.NetworkPolicySpec]{kinds.NetworkPolicy.Of("p", "shop", nil,
			networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{}}})}}, "admits every source", false},
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
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, fielderr.ErrForbidden) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if n := len(m.ByType("kubernetes:networking.k8s.io/v1:NetworkPolicy")); n != 0 {
				t.Errorf("%d policies registered despite the opening", n)
			}
		})
	}
}

// The SDK's typed NetworkPolicy receives exactly what the compiler's
// k8s.io/api object says: selectors, peers, ports and types.
func TestTypedRegistrationKeepsTheSpec(t *testing.T) {
	tcp := corev1.ProtocolTCP
	port := intstr.FromInt32(8080)
	policy := kinds.NetworkPolicy.Of("order-from-gateway", "shop", map[string]string{"bulwark.dev/edge": "x"}, networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "order"}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "istio-ingress"}},
				PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"istio": "ingressgateway"}},
			}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}},
		}},
	})
	m, err := mocktest.RunWithProvider("test", func(ctx *pulumi.Context, p pulumi.ProviderResource) error {
		_, err := New(ctx, "net", &Args{Policies: []kinds.Object[networkingv1.NetworkPolicySpec]{policy}, Provider: p})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	nps := m.ByType("kubernetes:networking.k8s.io/v1:NetworkPolicy")
	if len(nps) != 1 {
		t.Fatalf("got %d NetworkPolicies", len(nps))
	}
	got, err := json.Marshal(mocktest.Get(nps[0].Inputs, "spec"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(policy.Spec)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	_ = json.Unmarshal(got, &g)
	_ = json.Unmarshal(want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("registered spec\n%s\nwant\n%s", got, want)
	}
	if mocktest.Get(nps[0].Inputs, "metadata", "labels", "bulwark.dev/edge") != "x" {
		t.Error("labels lost")
	}
}
