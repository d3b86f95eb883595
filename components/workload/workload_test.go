package workload

import (
	"errors"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/testkit/mocktest"
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

func TestDisruptionBudgetIsTheConfiguredBound(t *testing.T) {
	tests := []struct {
		replicas                     int
		budget                       DisruptionBudget
		wantMinAvailable, wantMaxUna any
	}{
		{1, DisruptionBudget{}, nil, 1.0}, // the default: one pod may go
		{2, DisruptionBudget{MinAvailable: 1}, 1.0, nil},
		{3, DisruptionBudget{MinAvailable: 2}, 2.0, nil},
		{5, DisruptionBudget{MaxUnavailable: 2}, nil, 2.0},
	}
	for _, tc := range tests {
		m := deploy(t, func(a *Args) {
			a.Replicas, a.Autoscaling.MinReplicas, a.DisruptionBudget = tc.replicas, tc.replicas, tc.budget
		})
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
		kind   error
	}{
		{"a bad name", func(a *Args) { a.Name = "Order" }, "workload order: name:", fielderr.ErrInvalid},
		{"no image", func(a *Args) { a.Image = "" }, "workload order: image: must be a container image reference", fielderr.ErrInvalid},
		{"zero replicas below the autoscaler", func(a *Args) { a.Replicas = 2; a.Autoscaling.MinReplicas = 3 }, "replicas: 2 lies outside", fielderr.ErrConflict},
		{"a bad quantity", func(a *Args) { a.Resources.RequestsCPU = "x" }, "resources.requestsCPU", fielderr.ErrInvalid},
		{"a request above its limit", func(a *Args) { a.Resources.RequestsEphemeralStorage = "1Gi" }, "resources.requestsEphemeralStorage: the ephemeral storage request exceeds its limit", fielderr.ErrConflict},
		{"/tmp as large as the ephemeral-storage limit", func(a *Args) { a.TmpSize = "256Mi" }, "resources.limitsEphemeralStorage: must exceed tmpSize 256Mi", fielderr.ErrConflict},
		{"a PDB that blocks every drain", func(a *Args) { a.DisruptionBudget = DisruptionBudget{MinAvailable: 3} }, "disruptionBudget.minAvailable: 3 must be below replicas (3)", fielderr.ErrConflict},
		{"both PDB bounds", func(a *Args) { a.DisruptionBudget = DisruptionBudget{MinAvailable: 1, MaxUnavailable: 1} }, "disruptionBudget: set exactly one", fielderr.ErrConflict},
		{"an unknown VPA mode", func(a *Args) { a.VPAMode = "Auto" }, "vpaMode", fielderr.ErrUnsupported},
		{"preStop as long as the grace period", func(a *Args) { a.PreStopSleepSeconds = 30 }, "preStopSleepSeconds", fielderr.ErrOutOfRange},
		{"a selector label", func(a *Args) { a.Labels = map[string]string{"app.kubernetes.io/name": "x"} }, "labels.app.kubernetes.io/name", fielderr.ErrForbidden},
		{"no provider", func(a *Args) { a.Provider = nil }, "provider: is required", fielderr.ErrRequired},
		{"no namespace", func(a *Args) { a.Namespace = nil }, "namespace: is required", fielderr.ErrRequired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := mocktest.RunWithProvider("test", func(ctx *pulumi.Context, p pulumi.ProviderResource) error {
				a := &Args{Name: "order", Namespace: pulumi.String("shop"), Image: "example/order:1", Replicas: 3, Provider: p}
				tc.mutate(a)
				_, err := New(ctx, "order", a)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, tc.kind) {
				t.Fatalf("error %v, want one containing %q (%v)", err, tc.want, tc.kind)
			}
			for _, r := range m.All() {
				if r.Type != "pulumi:providers:kubernetes" {
					t.Errorf("registered %s %s despite invalid args", r.Type, r.Name)
				}
			}
		})
	}
}

// Images referenced by tag are pulled Always (a tag can move; Always also
// re-checks the pod's pull credentials); images pinned by digest can't
// change, so IfNotPresent.
func TestPullPolicyFollowsHowTheImageIsReferenced(t *testing.T) {
	digest := "@sha256:" + strings.Repeat("ab", 32)
	for image, want := range map[string]string{
		"ghcr.io/x/order:0.1.0":          "Always",
		"ghcr.io/x/order":                "Always",
		"ghcr.io/x/order:0.1.0" + digest: "IfNotPresent",
		"ghcr.io/x/order" + digest:       "IfNotPresent",
		"ghcr.io/x/order@sha256:short":   "Always",
	} {
		m := deploy(t, func(a *Args) { a.Image = image })
		d := one(t, m, "kubernetes:apps/v1:Deployment")
		c := containers(d)[0]
		if c["imagePullPolicy"] != want || c["image"] != image {
			t.Errorf("%s: pull policy %v, want %s", image, c["imagePullPolicy"], want)
		}
	}
}

// Every container requests and limits ephemeral storage, and /tmp is
// bounded below that limit.
func TestEphemeralStorageIsRequestedLimitedAndBounded(t *testing.T) {
	m := deploy(t, nil)
	d := one(t, m, "kubernetes:apps/v1:Deployment")
	c := containers(d)[0]
	if mocktest.Dig(c, "resources", "requests", "ephemeral-storage") != "128Mi" || mocktest.Dig(c, "resources", "limits", "ephemeral-storage") != "256Mi" {
		t.Errorf("ephemeral storage %v", c["resources"])
	}
	vols := mocktest.Get(d.Inputs, "spec", "template", "spec", "volumes").([]any)
	if mocktest.Dig(vols[0], "emptyDir", "sizeLimit") != "64Mi" {
		t.Errorf("/tmp volume %v", vols[0])
	}
}

func containers(d mocktest.Resource) []map[string]any {
	var out []map[string]any
	for _, c := range mocktest.Get(d.Inputs, "spec", "template", "spec", "containers").([]any) {
		out = append(out, c.(map[string]any))
	}
	return out
}
