package namespace

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bulwark-platform/bulwark/internal/testkit/mocktest"
)

func run(t *testing.T, args func(p pulumi.ProviderResource) *Args) (*mocktest.Mocks, error) {
	t.Helper()
	return mocktest.RunWithProvider("test", func(ctx *pulumi.Context, p pulumi.ProviderResource) error {
		_, err := New(ctx, "shop", args(p))
		return err
	})
}

func TestNamespaceEnforcesRestricted(t *testing.T) {
	m, err := run(t, func(p pulumi.ProviderResource) *Args {
		return &Args{Name: "shop", Labels: map[string]string{"team": "checkout"}, Provider: p}
	})
	if err != nil {
		t.Fatal(err)
	}
	nss := m.ByType("kubernetes:core/v1:Namespace")
	if len(nss) != 1 {
		t.Fatalf("got %d namespaces", len(nss))
	}
	ns := nss[0]
	labels := mocktest.Get(ns.Inputs, "metadata", "labels").(map[string]any)
	for _, mode := range []string{"enforce", "audit", "warn"} {
		if labels["pod-security.kubernetes.io/"+mode] != "restricted" {
			t.Errorf("%s level = %v, want restricted", mode, labels["pod-security.kubernetes.io/"+mode])
		}
		if labels["pod-security.kubernetes.io/"+mode+"-version"] != "latest" {
			t.Errorf("%s version = %v", mode, labels["pod-security.kubernetes.io/"+mode+"-version"])
		}
	}
	if labels["team"] != "checkout" {
		t.Error("extra label lost")
	}
	if ns.Parent != "urn:pulumi:test::bulwark::"+Token+"::shop" || !strings.Contains(ns.Provider, "::k8s::") {
		t.Errorf("namespace parent %q provider %q", ns.Parent, ns.Provider)
	}
}

func TestNamespaceRejectsBadArgs(t *testing.T) {
	tests := []struct {
		name string
		args func(p pulumi.ProviderResource) *Args
		want string
	}{
		{"privileged level", func(p pulumi.ProviderResource) *Args {
			return &Args{Name: "shop", PodSecurity: "privileged", Provider: p}
		}, "namespace shop: privilegedReason"},
		{"overriding a Pod Security label", func(p pulumi.ProviderResource) *Args {
			return &Args{Name: "shop", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}, Provider: p}
		}, "reserved"},
		{"a bad name", func(p pulumi.ProviderResource) *Args { return &Args{Name: "Shop_1", Provider: p} }, "DNS-1123"},
		{"no provider", func(pulumi.ProviderResource) *Args { return &Args{Name: "shop"} }, "namespace shop: provider: is required"},
		{"nil args", func(pulumi.ProviderResource) *Args { return nil }, "namespace shop: args: are required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := run(t, tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if got := len(m.ByType("kubernetes:core/v1:Namespace")); got != 0 {
				t.Errorf("registered %d namespaces despite bad args", got)
			}
		})
	}
}
