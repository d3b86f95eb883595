package workload

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bulwark-platform/bulwark/internal/mocktest"
)

// deploy registers one ServiceDeployment under mocks with args adjusted by mutate.
func deploy(t *testing.T, mutate func(*Args)) *mocktest.Mocks {
	t.Helper()
	m, err := mocktest.RunWithProvider("test", func(ctx *pulumi.Context, p pulumi.ProviderResource) error {
		a := &Args{Name: "order", Namespace: pulumi.String("shop"), Image: "example/order:1", Replicas: 3, Provider: p}
		if mutate != nil {
			mutate(a)
		}
		_, err := New(ctx, "order", a)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func one(t *testing.T, m *mocktest.Mocks, token string) mocktest.Resource {
	t.Helper()
	rs := m.ByType(token)
	if len(rs) != 1 {
		t.Fatalf("%s: got %d, want 1", token, len(rs))
	}
	return rs[0]
}

func TestEveryChildIsParentedAndUsesTheExplicitProvider(t *testing.T) {
	m := deploy(t, nil)
	var component string
	for _, r := range m.All() {
		if r.Type == Token {
			component = "urn:pulumi:test::bulwark::" + Token + "::order"
		}
	}
	if component == "" {
		t.Fatalf("no %s registered", Token)
	}
	children := 0
	for _, r := range m.All() {
		if !strings.HasPrefix(r.Type, "kubernetes:") || r.Type == "pulumi:providers:kubernetes" {
			continue
		}
		children++
		if r.Parent != component {
			t.Errorf("%s %s: parent %q, want the component", r.Type, r.Name, r.Parent)
		}
		if !strings.Contains(r.Provider, "pulumi:providers:kubernetes::k8s") {
			t.Errorf("%s %s: provider %q, want the explicit one", r.Type, r.Name, r.Provider)
		}
		if !strings.HasPrefix(r.Name, "order-") {
			t.Errorf("child name %q does not start with the component name", r.Name)
		}
	}
	if children != 6 {
		t.Errorf("got %d children, want 6 (ServiceAccount, Deployment, Service, PDB, HPA, VPA)", children)
	}
}

func TestContainerIsProbedLimitedAndRestricted(t *testing.T) {
	m := deploy(t, nil)
	d := one(t, m, "kubernetes:apps/v1:Deployment")
	pod := mocktest.Get(d.Inputs, "spec", "template", "spec").(map[string]any)
	containers := pod["containers"].([]any)
	if len(containers) != 1 {
		t.Fatalf("got %d containers", len(containers))
	}
	c := containers[0].(map[string]any)
	for probe, path := range map[string]string{"livenessProbe": LivePath, "readinessProbe": ReadyPath, "startupProbe": StartupPath} {
		got, _ := mocktest.Dig(c, probe, "httpGet", "path").(string)
		if got != path {
			t.Errorf("%s path = %q, want %q", probe, got, path)
		}
	}
	for _, k := range []string{"cpu", "memory"} {
		if mocktest.Dig(c, "resources", "limits", k) == nil || mocktest.Dig(c, "resources", "requests", k) == nil {
			t.Errorf("missing %s request or limit", k)
		}
	}
	sc := c["securityContext"].(map[string]any)
	if sc["runAsNonRoot"] != true || sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false || sc["privileged"] != false {
		t.Errorf("container securityContext not restricted: %v", sc)
	}
	if drop := mocktest.Dig(sc, "capabilities", "drop").([]any); len(drop) != 1 || drop[0] != "ALL" {
		t.Errorf("capabilities.drop = %v, want [ALL]", drop)
	}
	if mocktest.Dig(sc, "seccompProfile", "type") != "RuntimeDefault" || mocktest.Dig(pod, "securityContext", "seccompProfile", "type") != "RuntimeDefault" {
		t.Error("seccomp profile is not RuntimeDefault")
	}
	if mocktest.Dig(pod, "securityContext", "runAsNonRoot") != true {
		t.Error("pod securityContext allows root")
	}
	if mocktest.Dig(c, "lifecycle", "preStop", "sleep", "seconds") != 5.0 || pod["terminationGracePeriodSeconds"] != 30.0 {
		t.Errorf("preStop %v, grace %v", mocktest.Dig(c, "lifecycle", "preStop"), pod["terminationGracePeriodSeconds"])
	}
	if pod["automountServiceAccountToken"] != false {
		t.Error("service account token mounted by default")
	}
	if spread := pod["topologySpreadConstraints"].([]any); len(spread) != 2 {
		t.Errorf("got %d topology spread constraints, want zone and host", len(spread))
	}
	sa := one(t, m, "kubernetes:core/v1:ServiceAccount")
	if mocktest.Get(sa.Inputs, "automountServiceAccountToken") != false {
		t.Error("ServiceAccount automounts its token")
	}
}

func TestAutomountOnlyWhenAsked(t *testing.T) {
	m := deploy(t, func(a *Args) { a.AutomountServiceAccountToken = true })
	d := one(t, m, "kubernetes:apps/v1:Deployment")
	if mocktest.Get(d.Inputs, "spec", "template", "spec", "automountServiceAccountToken") != true {
		t.Error("automount requested but not set")
	}
}

func TestDisruptionBudgetFollowsReplicas(t *testing.T) {
	tests := []struct {
		replicas                     int
		wantMinAvailable, wantMaxUna any
	}{
		{1, nil, 1.0},
		{2, 1.0, nil},
		{3, 2.0, nil},
		{5, 4.0, nil},
	}
	for _, tc := range tests {
		m := deploy(t, func(a *Args) { a.Replicas = tc.replicas; a.Autoscaling.MinReplicas = tc.replicas })
		pdb := one(t, m, "kubernetes:policy/v1:PodDisruptionBudget")
		if got := mocktest.Get(pdb.Inputs, "spec", "minAvailable"); got != tc.wantMinAvailable {
			t.Errorf("replicas %d: minAvailable %v, want %v", tc.replicas, got, tc.wantMinAvailable)
		}
		if got := mocktest.Get(pdb.Inputs, "spec", "maxUnavailable"); got != tc.wantMaxUna {
			t.Errorf("replicas %d: maxUnavailable %v, want %v", tc.replicas, got, tc.wantMaxUna)
		}
	}
}

func TestAutoscalers(t *testing.T) {
	m := deploy(t, func(a *Args) { a.Autoscaling.MaxReplicas = 12 })
	hpa := one(t, m, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
	if mocktest.Get(hpa.Inputs, "spec", "minReplicas") != 3.0 || mocktest.Get(hpa.Inputs, "spec", "maxReplicas") != 12.0 {
		t.Errorf("HPA bounds: %v..%v", mocktest.Get(hpa.Inputs, "spec", "minReplicas"), mocktest.Get(hpa.Inputs, "spec", "maxReplicas"))
	}
	targets := map[string]float64{}
	for _, metric := range mocktest.Get(hpa.Inputs, "spec", "metrics").([]any) {
		targets[mocktest.Dig(metric, "resource", "name").(string)] = mocktest.Dig(metric, "resource", "target", "averageUtilization").(float64)
	}
	if targets["cpu"] != 70 || targets["memory"] != 80 {
		t.Errorf("HPA targets = %v, want cpu 70 memory 80", targets)
	}
	if mocktest.Get(hpa.Inputs, "spec", "behavior", "scaleDown", "stabilizationWindowSeconds") != 300.0 {
		t.Error("scale-down is not stabilised")
	}
	vpa := one(t, m, "kubernetes:autoscaling.k8s.io/v1:VerticalPodAutoscaler")
	if mocktest.Get(vpa.Inputs, "spec", "updatePolicy", "updateMode") != "Off" {
		t.Errorf("VPA mode = %v, want Off (recommendations only)", mocktest.Get(vpa.Inputs, "spec", "updatePolicy", "updateMode"))
	}
	if mocktest.Get(vpa.Inputs, "spec", "targetRef", "name") != "order" {
		t.Error("VPA does not target the deployment")
	}
}

func TestInvalidArgsRegisterNothing(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Args)
		want   string
	}{
		{"a bad name", func(a *Args) { a.Name = "Order" }, "name:"},
		{"no image", func(a *Args) { a.Image = "" }, "image: required"},
		{"zero replicas below the autoscaler", func(a *Args) { a.Replicas = 2; a.Autoscaling.MinReplicas = 3 }, "replicas: 2 lies outside"},
		{"a bad quantity", func(a *Args) {
			a.Resources = Resources{RequestsCPU: "x", RequestsMemory: "1Mi", LimitsCPU: "1", LimitsMemory: "1Mi"}
		}, "resources.requestsCPU"},
		{"an unknown VPA mode", func(a *Args) { a.VPAMode = "Auto" }, "vpaMode"},
		{"preStop as long as the grace period", func(a *Args) { a.PreStopSleepSeconds = 30 }, "preStopSleepSeconds"},
		{"no provider", func(a *Args) { a.Provider = nil }, "provider: required"},
		{"no namespace", func(a *Args) { a.Namespace = nil }, "namespace: required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := mocktest.RunWithProvider("test", func(ctx *pulumi.Context, p pulumi.ProviderResource) error {
				a := &Args{Name: "order", Namespace: pulumi.String("shop"), Image: "example/order:1", Replicas: 3, Provider: p}
				tc.mutate(a)
				_, err := New(ctx, "order", a)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			for _, r := range m.All() {
				if r.Type != "pulumi:providers:kubernetes" {
					t.Errorf("registered %s %s despite invalid args", r.Type, r.Name)
				}
			}
		})
	}
}
