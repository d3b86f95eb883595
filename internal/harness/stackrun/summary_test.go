package stackrun

import (
	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/datastore"
	"github.com/bulwark-platform/bulwark/infra/program"
	"github.com/bulwark-platform/bulwark/infra/secrets"

	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

func obj(t *testing.T, typ, raw string) Resource {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	return Resource{Type: typ, Outputs: m}
}

const goodDeployment = `{"metadata": {"name": "order", "namespace": "shop"},
 "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "order"}}, "template": {"spec": {
  "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
  "containers": [{"name": "order",
   "livenessProbe": {}, "readinessProbe": {}, "startupProbe": {},
   "resources": {"requests": {"cpu": "1", "memory": "1Mi", "ephemeral-storage": "1Mi"}, "limits": {"cpu": "1", "memory": "1Mi", "ephemeral-storage": "2Mi"}},
   "securityContext": {"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}}},
 "status": {"readyReplicas": 2}}`

func fixtures(t *testing.T, deployment string) []Resource {
	return []Resource{
		obj(t, "kubernetes:core/v1:Namespace", `{"metadata": {"name": "shop", "labels": {"pod-security.kubernetes.io/enforce": "restricted", "istio-injection": "enabled"}}}`),
		obj(t, "kubernetes:security.istio.io/v1:PeerAuthentication", `{"metadata": {"name": "default", "namespace": "shop"}, "spec": {"mtls": {"mode": "STRICT"}}}`),
		obj(t, "kubernetes:security.istio.io/v1:AuthorizationPolicy", `{"metadata": {"name": "deny-all", "namespace": "shop"}, "spec": {}}`),
		obj(t, "kubernetes:networking.k8s.io/v1:NetworkPolicy", `{"metadata": {"name": "default-deny", "namespace": "shop"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}`),
		obj(t, "kubernetes:apps/v1:Deployment", deployment),
		obj(t, "kubernetes:policy/v1:PodDisruptionBudget", `{"metadata": {"name": "order", "namespace": "shop"}, "spec": {"selector": {"matchLabels": {"app": "order"}}}}`),
		obj(t, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", `{"metadata": {"name": "order", "namespace": "shop"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "order"}}}`),
		obj(t, "kubernetes:autoscaling.k8s.io/v1:VerticalPodAutoscaler", `{"metadata": {"name": "order", "namespace": "shop"}, "spec": {"targetRef": {"kind": "Deployment", "name": "order"}}}`),
	}
}

func TestPosturePassesAHardenedStack(t *testing.T) {
	for _, c := range Posture(fixtures(t, goodDeployment)) {
		if !c.OK() {
			t.Errorf("%s: %d/%d %v", c.Name, c.Pass, c.Of, c.Offenders)
		}
	}
}

func TestPostureNamesEachWeakness(t *testing.T) {
	tests := []struct {
		name, from, to, failing string
	}{
		{"root allowed", `"runAsNonRoot": true`, `"runAsNonRoot": false`, "restricted securityContext"},
		{"capabilities kept", `"drop": ["ALL"]`, `"drop": []`, "restricted securityContext"},
		{"no startup probe", `"startupProbe": {},`, ``, "probes"},
		{"no memory limit", `"limits": {"cpu": "1", "memory": "1Mi",`, `"limits": {"cpu": "1",`, "requests and limits"},
		{"no ephemeral-storage request", `"memory": "1Mi", "ephemeral-storage": "1Mi"}`, `"memory": "1Mi"}`, "requests and limits"},
		{"not ready", `"readyReplicas": 2`, `"readyReplicas": 1`, "every replica ready"},
		{"PDB selects other pods", `"name": "order", "namespace": "shop"},
 "spec": {"replicas"`, `"name": "order", "namespace": "other"},
 "spec": {"replicas"`, "PodDisruptionBudget"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := strings.Replace(goodDeployment, tc.from, tc.to, 1)
			if d == goodDeployment {
				t.Fatalf("fixture edit %q did not apply", tc.from)
			}
			failed := false
			for _, c := range Posture(fixtures(t, d)) {
				if strings.Contains(c.Name, tc.failing) {
					failed = !c.OK()
					if failed && (len(c.Offenders) != 1 || !strings.HasSuffix(c.Offenders[0], "/order")) {
						t.Errorf("offenders = %v", c.Offenders)
					}
				}
			}
			if !failed {
				t.Errorf("posture check %q still passes", tc.failing)
			}
		})
	}
}

func TestPostureFlagsANamespaceWithoutMeshDefaults(t *testing.T) {
	rs := fixtures(t, goodDeployment)
	rs = append(rs, obj(t, "kubernetes:core/v1:Namespace", `{"metadata": {"name": "open", "labels": {"pod-security.kubernetes.io/enforce": "restricted", "istio-injection": "enabled"}}}`))
	for _, c := range Posture(rs) {
		if strings.HasPrefix(c.Name, "namespaces with") || strings.HasPrefix(c.Name, "namespaces denying") {
			if c.OK() || len(c.Offenders) != 1 || c.Offenders[0] != "open" {
				t.Errorf("%s: %d/%d %v", c.Name, c.Pass, c.Of, c.Offenders)
			}
		}
	}
}

func TestSummaryListsKindsPostureAndOutputs(t *testing.T) {
	changes := map[string]int{"create": 5}
	res := &Result{
		Stack:     "ci",
		Up:        auto.UpResult{Outputs: auto.OutputMap{"environment": {Value: "ci"}}},
		Resources: fixtures(t, goodDeployment),
	}
	res.Up.Summary.Result = "succeeded"
	res.Up.Summary.ResourceChanges = &changes
	var buf bytes.Buffer
	if err := WriteSummary(&buf, res); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`stack "ci": succeeded (5 create)`, "Deployment", "[ok  ] namespaces enforcing", `environment:  "ci"`} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("summary reports a failure:\n%s", out)
	}
}

// The summary's data posture comes from the "data" output: where each store
// runs, the databases and their owners, backups, TLS and authentication.
func TestSummaryPrintsTheDataPosture(t *testing.T) {
	cfg := config.Defaults(config.Prod)
	set, err := datastore.Compile(&cfg.Graph, cfg.Data)
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	if err := writeDataPosture(&buf, program.DataPosture(cfg, set)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"CloudNativePG v1.29.0: 3 cluster(s) (perService) × 3 instance(s), 1 synchronous standby(s)",
		"order: order (owner order_owner), payment: payment (owner payment_owner), user: user (owner user_owner)",
		"kept 30d", "1 primary + 2 replica(s), sentinel true", "no @dangerous",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("data posture lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "off (local only)") {
		t.Errorf("prod stores without TLS:\n%s", out)
	}
	local := config.Defaults(config.Local)
	set, err = datastore.Compile(&local.Graph, local.Data)
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := writeDataPosture(&buf, program.DataPosture(local, set)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "external at 127.0.0.1 (the local cluster's") {
		t.Errorf("local data posture:\n%s", buf.String())
	}
}

// The secrets posture is read from both layers' outputs and says what is
// not synced and why.
func TestSummaryPrintsTheSecretsPosture(t *testing.T) {
	cfg := config.Defaults(config.Dev)
	set, err := secrets.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	platform := &Result{Stack: "dev", Up: auto.UpResult{Outputs: auto.OutputMap{
		"secrets": {Value: mustJSON(t, program.SecretsPosture(cfg, set))},
	}}}
	vault := &Result{Stack: "dev", Layer: Vault, Up: auto.UpResult{Outputs: auto.OutputMap{
		"policies": {Value: []any{"bulwark-dev-order", "bulwark-dev-user"}},
		"roles":    {Value: []any{"order", "user"}},
	}}}
	p, err := ReadSecretsPosture(platform, vault)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Secrets.ExternalSecrets) == 0 || len(p.Secrets.DatabaseCredentials) == 0 {
		t.Fatalf("posture read nothing: %+v", p.Secrets)
	}
	p.Synced = p.Secrets.ExternalSecrets[1:]
	p.NotSynced[p.Secrets.ExternalSecrets[0]] = "SecretSyncedError: 403"
	var buf bytes.Buffer
	if err := WriteSecretsPosture(&buf, p); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"policies", "2: bulwark-dev-order, bulwark-dev-user", "roles (one service account each)",
		"External Secrets synced", "(not yet: " + p.Secrets.ExternalSecrets[0] + ": SecretSyncedError: 403)",
		"config contract holds", "order", "payment", "user",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("secrets posture lacks %q:\n%s", want, out)
		}
	}
}

// mustJSON turns v into what an output holds after the engine: JSON values.
func mustJSON(t *testing.T, v any) any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
