package pki

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bulwark-platform/bulwark/internal/testkit/mocktest"
)

func run(t *testing.T, mutate func(*Args)) (*mocktest.Mocks, error) {
	t.Helper()
	return mocktest.RunWithProvider("test", func(ctx *pulumi.Context, p pulumi.ProviderResource) error {
		a := &Args{
			Environment: "test", Install: true, RootCADuration: 9 * time.Hour, LeafDuration: 3 * time.Hour,
			Certificates: []Certificate{{Name: "gw", Namespace: "edge", SecretName: "gw-tls", DNSNames: []string{"api.example.com"}}},
			Provider:     p,
		}
		if mutate != nil {
			mutate(a)
		}
		_, err := New(ctx, "pki", a)
		return err
	})
}

func must(t *testing.T, m *mocktest.Mocks, name string) mocktest.Resource {
	t.Helper()
	r, ok := m.Named(name)
	if !ok {
		t.Fatalf("no resource %s", name)
	}
	return r
}

// cert-manager#2908: an issuer created before the webhook serves is
// refused. Every issuer and certificate must wait for the chart.
func TestIssuersWaitForTheCertManagerChart(t *testing.T) {
	m, err := run(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	chart := must(t, m, "pki-cert-manager")
	if chart.Type != "kubernetes:helm.sh/v4:Chart" || mocktest.Get(chart.Inputs, "version") != ChartVersion || mocktest.Get(chart.Inputs, "repositoryOpts", "repo") != ChartRepo {
		t.Errorf("chart %s %v", chart.Type, chart.Inputs.Mappable())
	}
	chartURN := "urn:pulumi:test::bulwark::" + Token + "$kubernetes:helm.sh/v4:Chart::pki-cert-manager"
	for _, name := range []string{"pki-bootstrap-issuer", "pki-root-ca", "pki-ca-issuer", "pki-cert-edge-gw"} {
		r := must(t, m, name)
		if !slices.Contains(r.Dependencies, chartURN) {
			t.Errorf("%s does not depend on the cert-manager chart: %v", name, r.Dependencies)
		}
	}
	if !slices.ContainsFunc(must(t, m, "pki-root-ca").Dependencies, func(u string) bool { return strings.HasSuffix(u, "::pki-bootstrap-issuer") }) {
		t.Error("root CA does not wait for its issuer")
	}
	if !slices.ContainsFunc(must(t, m, "pki-ca-issuer").Dependencies, func(u string) bool { return strings.HasSuffix(u, "::pki-root-ca") }) {
		t.Error("CA issuer does not wait for the root CA")
	}
}

func TestAdoptedCertManagerInstallsNothing(t *testing.T) {
	m, err := run(t, func(a *Args) { a.Install = false })
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Named("pki-cert-manager"); ok {
		t.Error("chart installed although install is false")
	}
	if _, ok := m.Named("pki-ca-issuer"); !ok {
		t.Error("CA issuer missing")
	}
}

func TestChainAndRenewal(t *testing.T) {
	m, err := run(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	root := must(t, m, "pki-root-ca")
	if mocktest.Get(root.Inputs, "spec", "isCA") != true || mocktest.Get(root.Inputs, "spec", "issuerRef", "name") != BootstrapIssuer {
		t.Errorf("root CA spec %v", mocktest.Get(root.Inputs, "spec"))
	}
	if mocktest.Get(root.Inputs, "spec", "privateKey", "algorithm") != "ECDSA" || mocktest.Get(root.Inputs, "spec", "privateKey", "size") != 256.0 {
		t.Errorf("root key %v, want ECDSA P-256", mocktest.Get(root.Inputs, "spec", "privateKey"))
	}
	if mocktest.Get(root.Inputs, "spec", "duration") != "9h0m0s" || mocktest.Get(root.Inputs, "spec", "renewBefore") != "3h0m0s" {
		t.Errorf("root lifetime %v renewBefore %v, want 9h and a third of it", mocktest.Get(root.Inputs, "spec", "duration"), mocktest.Get(root.Inputs, "spec", "renewBefore"))
	}
	ca := must(t, m, "pki-ca-issuer")
	if mocktest.Get(ca.Inputs, "spec", "ca", "secretName") != RootCASecret {
		t.Errorf("CA issuer %v", mocktest.Get(ca.Inputs, "spec"))
	}
	leaf := must(t, m, "pki-cert-edge-gw")
	if mocktest.Get(leaf.Inputs, "spec", "issuerRef", "name") != CAIssuer || mocktest.Get(leaf.Inputs, "spec", "renewBefore") != "1h0m0s" ||
		mocktest.Get(leaf.Inputs, "spec", "secretName") != "gw-tls" || mocktest.Get(leaf.Inputs, "metadata", "namespace") != "edge" {
		t.Errorf("leaf %v", leaf.Inputs.Mappable())
	}
}

func TestBadArgsRegisterNothing(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Args)
		want   string
	}{
		{"leaf outliving the root", func(a *Args) { a.LeafDuration = 10 * time.Hour }, "pki pki: leafDuration: need 1h <= leaf"},
		{"a certificate without names", func(a *Args) { a.Certificates[0].DNSNames = nil }, "certificates[0].dnsNames: at least one DNS name"},
		{"a certificate twice", func(a *Args) { a.Certificates = append(a.Certificates, a.Certificates[0]) }, "certificates[1]: edge/gw is also certificates[0]"},
		{"a bad secret name", func(a *Args) { a.Certificates[0].SecretName = "GW_TLS" }, "certificates[0].secretName"},
		{"no provider", func(a *Args) { a.Provider = nil }, "pki pki: provider: is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := run(t, tc.mutate)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			for _, r := range m.All() {
				if r.Type != "pulumi:providers:kubernetes" {
					t.Errorf("registered %s despite bad args", r.Name)
				}
			}
		})
	}
}
