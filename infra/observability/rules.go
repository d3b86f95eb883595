// Package observability compiles the service graph and bulwark:observability
// into the platform's alerting: per service, multi-window multi-burn-rate
// alerts on its availability and latency objectives, RED alerts, an open
// circuit breaker, degraded readiness and an autoscaler at its maximum;
// for the platform, certificates near expiry and the data stores and
// Vault down or sealed. Pure functions, golden-tested per stack; every
// rule is checked with promtool (check rules, and test rules: each alert
// fires on injected series and stays silent on healthy ones).
//
// The per-service selectors are the labels the stack's ServiceMonitors
// put on every scraped series: namespace and service (the Kubernetes
// Service, named after the graph's service).
package observability

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/services/contract"
)

// serviceGroupPrefix starts each service's rule group's name.
const serviceGroupPrefix = "bulwark-service-"

// Severities route alerts (Alertmanager): critical pages, warning opens a
// ticket.
const (
	Critical = "critical"
	Warning  = "warning"
)

// Burn-rate windows (Google SRE workbook, ch. 5, for a 30-day budget): a
// fast burn of 14.4x over 1 h (confirmed over 5 m) spends 2 % of the
// budget in an hour and pages; a slow burn of 6x over 6 h (confirmed over
// 30 m) spends 5 % in six hours and opens a ticket.
var burns = []struct {
	suffix            string
	long, short       string
	factor            float64
	forDuration       string
	severity, meaning string
}{
	{"Fast", "1h", "5m", 14.4, "2m", Critical, "2 % of the 30-day error budget in an hour"},
	{"Slow", "6h", "30m", 6, "15m", Warning, "5 % of the 30-day error budget in six hours"},
}

// Rules are the environment's alerting rule groups: one per service (in
// graph order), then the platform's.
func Rules(cfg *config.Config) monitoringv1.PrometheusRuleSpec {
	var spec monitoringv1.PrometheusRuleSpec
	for i := range cfg.Graph.Services {
		spec.Groups = append(spec.Groups, serviceGroup(cfg, &cfg.Graph.Services[i]))
	}
	spec.Groups = append(spec.Groups, platformGroup(cfg))
	return spec
}

func serviceGroup(cfg *config.Config, s *graph.Service) monitoringv1.RuleGroup {
	slo := cfg.Observability.SLOOf(s.Name)
	sel := fmt.Sprintf(`namespace=%q,service=%q`, s.Namespace, s.Name)
	who := s.Namespace + "/" + s.Name
	labels := func(severity string) map[string]string {
		return map[string]string{"severity": severity, "namespace": s.Namespace, "service": s.Name}
	}
	errRatio := func(w string) string {
		return fmt.Sprintf(`(sum(rate(%s{%s,code=~"5.."}[%s])) / sum(rate(%s{%s}[%s])))`, contract.MetricRequests, sel, w, contract.MetricRequests, sel, w)
	}
	slowRatio := func(w string) string {
		return fmt.Sprintf(`(1 - sum(rate(%s_bucket{%s,le=%q}[%s])) / sum(rate(%s_count{%s}[%s])))`,
			contract.MetricRequestDuration, sel, slo.LE(), w, contract.MetricRequestDuration, sel, w)
	}
	g := monitoringv1.RuleGroup{Name: serviceGroupPrefix + s.Name}
	for _, b := range burns {
		for _, o := range []struct {
			name, what string
			ratio      func(string) string
			budget     float64
		}{
			{"Availability", fmt.Sprintf("%s%% of requests succeed", pct(slo.Availability)), errRatio, 1 - slo.Availability},
			{"Latency", fmt.Sprintf("%s%% of requests finish within %s", pct(slo.LatencyTarget), slo.LatencyThreshold), slowRatio, 1 - slo.LatencyTarget},
		} {
			threshold := num(b.factor * o.budget)
			g.Rules = append(g.Rules, alert("Service"+o.name+"Burn"+b.suffix,
				fmt.Sprintf("%s > %s and %s > %s", o.ratio(b.long), threshold, o.ratio(b.short), threshold), b.forDuration, labels(b.severity),
				fmt.Sprintf("%s burns its %s budget %sx too fast", who, strings.ToLower(o.name), num(b.factor)),
				fmt.Sprintf("Objective: %s. At this rate the service spends %s (over %s, confirmed over %s).", o.what, b.meaning, b.long, b.short)))
		}
	}
	g.Rules = append(g.Rules,
		alert("ServiceHighErrorRate", errRatio("5m")+" > 0.05", "5m", labels(Warning),
			who+" answers more than 5 % of requests with a 5xx", "Rate of 5xx responses over 5 minutes, all routes."),
		alert("ServiceHighLatency",
			fmt.Sprintf("histogram_quantile(0.99, sum by (le) (rate(%s_bucket{%s}[5m]))) > %s", contract.MetricRequestDuration, sel, slo.LE()),
			"10m", labels(Warning), fmt.Sprintf("%s's 99th percentile latency is above %s", who, slo.LatencyThreshold),
			"The 99th percentile of request durations over 5 minutes, all routes."),
		alert("CircuitBreakerOpen",
			fmt.Sprintf("max by (namespace, service, dependency) (%s{%s}) == %d", contract.MetricBreakerState, sel, contract.BreakerOpen),
			"1m", labels(Warning), who+" has stopped calling a dependency (circuit breaker open)",
			"The dependency label names it; the breaker closes again once trial calls succeed."),
		alert("ServiceReadinessDegraded",
			fmt.Sprintf(`kube_deployment_status_replicas_available{namespace=%q,deployment=%q} < kube_deployment_spec_replicas{namespace=%q,deployment=%q}`, s.Namespace, s.Name, s.Namespace, s.Name),
			"10m", labels(Warning), who+" has fewer ready replicas than it wants",
			"Readiness checks the service's dependencies: a failing database, Redis or identity provider shows here first."),
		alert("ServiceAutoscalerAtMaximum",
			fmt.Sprintf(`kube_horizontalpodautoscaler_status_current_replicas{namespace=%q,horizontalpodautoscaler=%q} >= kube_horizontalpodautoscaler_spec_max_replicas{namespace=%q,horizontalpodautoscaler=%q}`, s.Namespace, s.Name, s.Namespace, s.Name),
			"15m", labels(Warning), who+" runs at its autoscaler's maximum",
			"It cannot scale further: raise workloads.autoscaling.maxReplicas or find the load."),
	)
	return g
}

func platformGroup(cfg *config.Config) monitoringv1.RuleGroup {
	g := monitoringv1.RuleGroup{Name: "bulwark-platform"}
	third := cfg.Certificates.LeafDuration / 3
	g.Rules = append(g.Rules, alert("CertificateExpiresSoon",
		fmt.Sprintf("certmanager_certificate_expiration_timestamp_seconds - time() < %d", int64(third/time.Second)), "1h",
		map[string]string{"severity": Critical}, "A certificate has less than a third of its lifetime left",
		fmt.Sprintf("cert-manager renews at two thirds of a certificate's lifetime (leaves live %s): one this close to expiry failed to renew.", cfg.Certificates.LeafDuration)))
	if cfg.Data.Postgres.Install {
		g.Rules = append(g.Rules, alert("PostgresDown", fmt.Sprintf(`cnpg_collector_up{namespace=%q} == 0`, cfg.Data.Postgres.Namespace), "5m",
			map[string]string{"severity": Critical}, "A PostgreSQL instance is down", "CloudNativePG's exporter cannot reach its instance."))
	}
	if cfg.Data.Redis.Install {
		g.Rules = append(g.Rules, alert("RedisDown", fmt.Sprintf(`redis_up{namespace=%q} == 0`, cfg.Data.Redis.Namespace), "5m",
			map[string]string{"severity": Warning}, "Redis is down", "The services fall back to their in-process cache and the origin."))
	}
	if cfg.Install.Vault {
		ns := cfg.Vault.Namespace
		g.Rules = append(g.Rules,
			alert("VaultSealed", fmt.Sprintf(`vault_core_unsealed{namespace=%q} == 0`, ns), "1m",
				map[string]string{"severity": Critical}, "A Vault server is sealed", "Sealed servers answer nothing: no database credentials, no synced secrets."),
			alert("VaultDown", fmt.Sprintf(`up{namespace=%q,service="vault"} == 0`, ns), "5m",
				map[string]string{"severity": Critical}, "A Vault server cannot be scraped", "Database credentials stop renewing once their leases end."))
	}
	return g
}

func alert(name, expr, forDuration string, labels map[string]string, summary, description string) monitoringv1.Rule {
	d := monitoringv1.Duration(forDuration)
	return monitoringv1.Rule{Alert: name, Expr: intstr.FromString(expr), For: &d, Labels: labels,
		Annotations: map[string]string{"summary": summary, "description": description}}
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

func pct(v float64) string { return strconv.FormatFloat(v*100, 'g', 6, 64) }

// RulesFile is the rules as Prometheus reads them (and promtool checks).
func RulesFile(cfg *config.Config) ([]byte, error) {
	out, err := yaml.Marshal(Rules(cfg))
	if err != nil {
		return nil, fmt.Errorf("observability: rules: %w", err)
	}
	return out, nil
}

// scraped matches a series the rules select from a service's own
// /metrics: its name, then the ServiceMonitor's namespace and service
// labels.
var scraped = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{namespace="[^"]*",service="`)

// ServiceMetrics are the metric families the rules read from the
// services' own /metrics (a histogram's _bucket and _count read as the
// histogram), each once, sorted: what a running service must expose.
func ServiceMetrics(cfg *config.Config) []string {
	seen := map[string]bool{}
	for _, g := range Rules(cfg).Groups {
		if !strings.HasPrefix(g.Name, serviceGroupPrefix) {
			continue // the platform's: exporters, not the services
		}
		for _, r := range g.Rules {
			for _, m := range scraped.FindAllStringSubmatch(r.Expr.String(), -1) {
				name := m[1]
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					name = strings.TrimSuffix(name, suffix)
				}
				seen[name] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
