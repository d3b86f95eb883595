package observability

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"sigs.k8s.io/yaml"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/internal/testkit/golden"
	"github.com/bulwark-platform/bulwark/services/contract"
)

// Every stack's rules are kept as golden files: go test
// ./infra/observability -update rewrites them, and the diff is the review.
func TestGoldenRules(t *testing.T) {
	golden.PerStack(t, filepath.Join("..", ".."), RulesFile)
}

// promtool is Prometheus's rule checker (the Debian package prometheus,
// which .ci/run installs). Evaluating every alert twice per stack takes
// about a minute, so it runs in the integration tier
// (BULWARK_INTEGRATION=1), which requires it.
func promtool(t *testing.T) string {
	t.Helper()
	if os.Getenv("BULWARK_INTEGRATION") != "1" {
		t.Skip("promtool check and test rules: set BULWARK_INTEGRATION=1 (make test-integration does)")
	}
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed (apt-get install prometheus; .ci/run does)")
	}
	return p
}

// series is one input series of a promtool test.
type series struct{ name, values string }

// scenario is how an alert is exercised: the series that make it fire,
// the healthy ones, and the labels its expression yields when firing.
type scenario struct {
	firing, healthy []series
	result          map[string]string
}

func sel(labels map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, labels[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// evalMinutes is when the alerts are evaluated: past the longest "for"
// (the certificate's hour). The 6 h windows then hold 75 minutes of
// samples, which rate() reads just as well, so the slow burns are
// exercised without six hours of series to evaluate.
const evalMinutes = 75

// scenarioOf builds the scenario of a rule, from its alert name and its
// labels; an alert without one fails the test (every alert is tested).
func scenarioOf(cfg *config.Config, r monitoringv1.Rule) (scenario, bool) {
	ns, svc := r.Labels["namespace"], r.Labels["service"]
	slo := cfg.Observability.SLOOf(svc)
	steady := func(v float64) string { return fmt.Sprintf("%gx%d", v, evalMinutes) }
	perMinute := func(v int) string { return fmt.Sprintf("0+%dx%d", v, evalMinutes) }
	req := func(code string) string {
		return contract.MetricRequests + sel(map[string]string{"namespace": ns, "service": svc, "code": code, "route": "/api/v1/x", "method": "GET"})
	}
	bucket := func(le string) string {
		return contract.MetricRequestDuration + "_bucket" + sel(map[string]string{"namespace": ns, "service": svc, "le": le, "route": "/api/v1/x", "method": "GET"})
	}
	count := contract.MetricRequestDuration + "_count" + sel(map[string]string{"namespace": ns, "service": svc, "route": "/api/v1/x", "method": "GET"})
	// The bucket above the threshold (validation keeps the threshold
	// below the largest), so a slow percentile lands above the threshold.
	above := fmt.Sprint(contract.LatencyBuckets[slices.Index(contract.LatencyBuckets, slo.LatencyThreshold.Seconds())+1])
	errors := scenario{
		firing:  []series{{req("500"), perMinute(30)}, {req("200"), perMinute(30)}},
		healthy: []series{{req("500"), perMinute(0)}, {req("200"), perMinute(60)}},
	}
	slow := scenario{
		firing:  []series{{bucket(slo.LE()), perMinute(0)}, {bucket(above), perMinute(0)}, {bucket("+Inf"), perMinute(60)}, {count, perMinute(60)}},
		healthy: []series{{bucket(slo.LE()), perMinute(60)}, {bucket(above), perMinute(60)}, {bucket("+Inf"), perMinute(60)}, {count, perMinute(60)}},
	}
	pod := func(metric string, labels map[string]string, bad, good float64) scenario {
		return scenario{firing: []series{{metric + sel(labels), steady(bad)}}, healthy: []series{{metric + sel(labels), steady(good)}}, result: labels}
	}
	switch r.Alert {
	case "ServiceAvailabilityBurnFast", "ServiceAvailabilityBurnSlow", "ServiceHighErrorRate":
		return errors, true
	case "ServiceLatencyBurnFast", "ServiceLatencyBurnSlow", "ServiceHighLatency":
		return slow, true
	case "CircuitBreakerOpen":
		return pod(contract.MetricBreakerState, map[string]string{"namespace": ns, "service": svc, "dependency": "payment"}, contract.BreakerOpen, 0), true
	case "ServiceReadinessDegraded":
		l := map[string]string{"namespace": ns, "deployment": svc}
		return scenario{
			firing:  []series{{"kube_deployment_status_replicas_available" + sel(l), steady(1)}, {"kube_deployment_spec_replicas" + sel(l), steady(3)}},
			healthy: []series{{"kube_deployment_status_replicas_available" + sel(l), steady(3)}, {"kube_deployment_spec_replicas" + sel(l), steady(3)}},
			result:  l,
		}, true
	case "ServiceAutoscalerAtMaximum":
		l := map[string]string{"namespace": ns, "horizontalpodautoscaler": svc}
		return scenario{
			firing:  []series{{"kube_horizontalpodautoscaler_status_current_replicas" + sel(l), steady(12)}, {"kube_horizontalpodautoscaler_spec_max_replicas" + sel(l), steady(12)}},
			healthy: []series{{"kube_horizontalpodautoscaler_status_current_replicas" + sel(l), steady(3)}, {"kube_horizontalpodautoscaler_spec_max_replicas" + sel(l), steady(12)}},
			result:  l,
		}, true
	case "CertificateExpiresSoon":
		// One minute after the evaluation time, against ten years.
		return pod("certmanager_certificate_expiration_timestamp_seconds", map[string]string{"namespace": "shop", "name": "order-tls"},
			float64(evalMinutes*60+60), float64(evalMinutes*60+10*365*24*3600)), true
	case "PostgresDown":
		return pod("cnpg_collector_up", map[string]string{"namespace": cfg.Data.Postgres.Namespace, "pod": "pg-1"}, 0, 1), true
	case "RedisDown":
		return pod("redis_up", map[string]string{"namespace": cfg.Data.Redis.Namespace, "pod": "redis-0"}, 0, 1), true
	case "VaultSealed":
		return pod("vault_core_unsealed", map[string]string{"namespace": cfg.Vault.Namespace, "pod": "vault-0"}, 0, 1), true
	case "VaultDown":
		return pod("up", map[string]string{"namespace": cfg.Vault.Namespace, "service": "vault", "pod": "vault-0"}, 0, 1), true
	}
	return scenario{}, false
}

// promtool test rules file structures.
type (
	testFile struct {
		RuleFiles          []string    `json:"rule_files"`
		EvaluationInterval string      `json:"evaluation_interval"`
		Tests              []ruleTests `json:"tests"`
	}
	ruleTests struct {
		Name        string      `json:"name"`
		Interval    string      `json:"interval"`
		InputSeries []input     `json:"input_series"`
		AlertTests  []alertTest `json:"alert_rule_test"`
	}
	input struct {
		Series string `json:"series"`
		Values string `json:"values"`
	}
	alertTest struct {
		EvalTime  string     `json:"eval_time"`
		AlertName string     `json:"alertname"`
		ExpAlerts []expAlert `json:"exp_alerts"`
	}
	expAlert struct {
		ExpLabels      map[string]string `json:"exp_labels"`
		ExpAnnotations map[string]string `json:"exp_annotations"`
	}
)

func inputs(ss []series) []input {
	out := make([]input, 0, len(ss))
	for _, s := range ss {
		out = append(out, input{Series: s.name, Values: s.values})
	}
	return out
}

// Every rule of every stack parses (promtool check rules), and every
// alert fires on injected series with exactly its labels and annotations
// and stays silent on healthy ones (promtool test rules).
func TestEveryAlertFiresOnlyWhenItShould(t *testing.T) {
	bin := promtool(t)
	for _, stack := range golden.Stacks {
		t.Run(stack, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.LoadStack(filepath.Join("..", ".."), stack)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			rules, err := RulesFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, "check", "rules", filepath.Join(dir, "rules.yaml")).CombinedOutput(); err != nil {
				t.Fatalf("promtool check rules: %v\n%s", err, out)
			}
			tf := testFile{RuleFiles: []string{"rules.yaml"}, EvaluationInterval: "1m"}
			alerts := 0
			for _, g := range Rules(cfg).Groups {
				for _, r := range g.Rules {
					sc, ok := scenarioOf(cfg, r)
					if !ok {
						t.Errorf("alert %s has no test scenario", r.Alert)
						continue
					}
					alerts++
					labels := maps.Clone(sc.result)
					if labels == nil {
						labels = map[string]string{}
					}
					maps.Copy(labels, r.Labels)
					at := fmt.Sprintf("%dm", evalMinutes)
					tf.Tests = append(tf.Tests,
						ruleTests{Name: g.Name + " " + r.Alert + " fires", Interval: "1m", InputSeries: inputs(sc.firing),
							AlertTests: []alertTest{{EvalTime: at, AlertName: r.Alert, ExpAlerts: []expAlert{{ExpLabels: labels, ExpAnnotations: r.Annotations}}}}},
						ruleTests{Name: g.Name + " " + r.Alert + " is silent", Interval: "1m", InputSeries: inputs(sc.healthy),
							AlertTests: []alertTest{{EvalTime: at, AlertName: r.Alert, ExpAlerts: []expAlert{}}}},
					)
				}
			}
			raw, err := yaml.Marshal(tf)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "tests.yaml"), raw, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "test", "rules", filepath.Join(dir, "tests.yaml")).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool test rules: %v\n%s", err, out)
			}
			t.Logf("%s: %d alerts, each fires and stays silent as it should", stack, alerts)
		})
	}
}

// A service's own objectives (observability.slos) set its thresholds;
// the others keep observability.slo's.
func TestPerServiceObjectives(t *testing.T) {
	cfg := config.Defaults(config.Prod)
	cfg.Observability.SLOs = map[string]config.SLO{"order": {Availability: 0.99, LatencyTarget: 0.95, LatencyThreshold: 250 * time.Millisecond}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	exprs := map[string]string{}
	for _, g := range Rules(cfg).Groups {
		for _, r := range g.Rules {
			if r.Alert == "ServiceAvailabilityBurnFast" || r.Alert == "ServiceLatencyBurnFast" {
				exprs[r.Labels["service"]+" "+r.Alert] = r.Expr.String()
			}
		}
	}
	for key, want := range map[string][]string{
		"order ServiceAvailabilityBurnFast": {"> 0.144 "},
		"user ServiceAvailabilityBurnFast":  {"> 0.0144 "},
		"order ServiceLatencyBurnFast":      {`le="0.25"`, "> 0.72 "},
		"user ServiceLatencyBurnFast":       {`le="0.5"`, "> 0.144 "},
	} {
		for _, w := range want {
			if !strings.Contains(exprs[key], w) {
				t.Errorf("%s: %q lacks %q", key, exprs[key], w)
			}
		}
	}
}

// The rules read the services' request counter, latency histogram and
// breaker gauge from the services' own /metrics (and nothing else there):
// services/order's fault test scrapes a running order service for them.
func TestServiceMetricsAreTheContractsNames(t *testing.T) {
	got := ServiceMetrics(config.Defaults(config.Prod))
	want := []string{contract.MetricBreakerState, contract.MetricRequestDuration, contract.MetricRequests}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("rules read %v from the services, want %v", got, want)
	}
}
