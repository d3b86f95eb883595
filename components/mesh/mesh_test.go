package mesh

import (
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bulwark-platform/bulwark/internal/testkit/mocktest"
)

func run(t *testing.T, install bool) *mocktest.Mocks {
	t.Helper()
	m, err := mocktest.RunWithProvider("test", func(ctx *pulumi.Context, p pulumi.ProviderResource) error {
		_, err := New(ctx, "istio", &Args{
			Install: install, RootNamespace: "istio-system", GatewayNamespace: "istio-ingress",
			GatewayLabels: map[string]string{"istio": "ingressgateway"}, GatewayServiceAccount: "istio-ingressgateway",
			RegistryOnly: true, CollectorHost: "otel.obs.svc.cluster.local", CollectorPort: 4317, SamplingRatio: 0.05, Provider: p,
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestInstallUsesThePinnedChartsInOrder(t *testing.T) {
	m := run(t, true)
	charts := m.ByType("kubernetes:helm.sh/v4:Chart")
	var names []string
	for _, c := range charts {
		names = append(names, mocktest.Get(c.Inputs, "chart").(string))
		if mocktest.Get(c.Inputs, "version") != ChartVersion || mocktest.Get(c.Inputs, "repositoryOpts", "repo") != ChartRepo {
			t.Errorf("chart %s not pinned: %v", c.Name, c.Inputs.Mappable())
		}
	}
	if !slices.Equal(names, []string{"base", "cni", "istiod", "gateway"}) {
		t.Errorf("charts %v", names)
	}
	gw, _ := m.Named("istio-gateway")
	if mocktest.Get(gw.Inputs, "name") != "istio-ingressgateway" {
		t.Errorf("gateway release %v: its service account must be the graph's gateway identity", mocktest.Get(gw.Inputs, "name"))
	}
	istiod, _ := m.Named("istio-istiod")
	if !slices.ContainsFunc(istiod.Dependencies, func(u string) bool {
		return u == "urn:pulumi:test::bulwark::"+Token+"$kubernetes:helm.sh/v4:Chart::istio-cni"
	}) {
		t.Errorf("istiod does not wait for the CNI agent: %v", istiod.Dependencies)
	}
	mc := mocktest.Get(istiod.Inputs, "values", "meshConfig").(map[string]any)
	if mocktest.Dig(mc, "outboundTrafficPolicy", "mode") != "REGISTRY_ONLY" || mc["accessLogFile"] != "/dev/stdout" {
		t.Errorf("mesh config %v", mc)
	}
	if mocktest.Get(istiod.Inputs, "values", "pilot", "cni", "enabled") != true {
		t.Error("istiod not told to use the CNI agent (Pod Security restricted needs it)")
	}
}

func TestAdoptedMeshGetsOnlyTelemetry(t *testing.T) {
	m := run(t, false)
	if n := len(m.ByType("kubernetes:helm.sh/v4:Chart")); n != 0 {
		t.Errorf("%d charts installed although install is false", n)
	}
	tel := m.ByType("kubernetes:telemetry.istio.io/v1:Telemetry")
	if len(tel) != 1 {
		t.Fatalf("got %d Telemetry objects", len(tel))
	}
	tracing := mocktest.Get(tel[0].Inputs, "spec", "tracing").([]any)[0].(map[string]any)
	if tracing["randomSamplingPercentage"] != 5.0 || mocktest.Dig(tracing["providers"].([]any)[0], "name") != TracingProvider {
		t.Errorf("tracing %v", tracing)
	}
}
