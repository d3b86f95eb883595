// Package metrics holds a service's Prometheus metrics (client_golang) on
// a registry of its own: RED per route (requests by route template, method
// and code; a duration histogram), outgoing dependency calls, cache reads
// by level, circuit breaker state. Labels are route templates and fixed
// names only, so cardinality stays bounded whatever the traffic.
package metrics

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sony/gobreaker/v2"

	"github.com/bulwark-platform/bulwark/services/contract"
	"github.com/bulwark-platform/bulwark/services/internal/platform/cache"
	"github.com/bulwark-platform/bulwark/services/internal/platform/telemetry"
)

// Metrics of one service.
type Metrics struct {
	Registry *prometheus.Registry
	// AccessLog, when set, gets one line per request (route template,
	// method, status, duration), carrying the request's correlation ID.
	AccessLog    *slog.Logger
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	dependencies *prometheus.CounterVec
	cacheReads   *prometheus.CounterVec
	redisErrors  *prometheus.CounterVec
	breaker      *prometheus.GaugeVec
}

// New registers the platform metrics.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: contract.MetricRequests, Help: "HTTP requests by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: contract.MetricRequestDuration, Help: "HTTP request duration by route template and method.",
			Buckets: contract.LatencyBuckets,
		}, []string{"route", "method"}),
		dependencies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: contract.MetricDependencyRequests, Help: "Outgoing calls by dependency and outcome.",
		}, []string{"dependency", "outcome"}),
		cacheReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: contract.MetricCacheReads, Help: "Cache reads by cache and the level that served them (l1, l2, origin).",
		}, []string{"cache", "level"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: contract.MetricCacheRedisErrors, Help: "Redis failures the cache absorbed, by operation.",
		}, []string{"cache", "op"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: contract.MetricBreakerState, Help: "Circuit breaker state by dependency: 0 closed, 1 half-open, 2 open.",
		}, []string{"dependency"}),
	}
	reg.MustRegister(m.requests, m.duration, m.dependencies, m.cacheReads, m.redisErrors, m.breaker)
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Middleware records RED metrics and names the request's span. The route
// is the ServeMux pattern that matched ("GET /api/v1/users/{id}"), never
// the raw path. It must sit right outside the ServeMux: only the request
// the mux receives carries the pattern.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		telemetry.Annotate(r, r.Pattern, rec.code)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		took := time.Since(start)
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.code)).Inc()
		m.duration.WithLabelValues(route, r.Method).Observe(took.Seconds())
		if m.AccessLog != nil {
			m.AccessLog.InfoContext(r.Context(), "request", "route", route, "method", r.Method, "status", rec.code, "duration_ms", float64(took.Microseconds())/1000)
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the writer's features.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Dependency counts an outgoing call's outcome.
func (m *Metrics) Dependency(dependency, outcome string) {
	m.dependencies.WithLabelValues(dependency, outcome).Inc()
}

// BreakerChanged records a breaker transition.
func (m *Metrics) BreakerChanged(dependency string, _, to gobreaker.State) {
	m.breaker.WithLabelValues(dependency).Set(float64(to))
}

// Cache returns the observer of the cache called name, its counters
// resolved once so that an L1 hit costs one atomic increment.
func (m *Metrics) Cache(name string) cache.Observer {
	return &cacheObserver{
		l1:     m.cacheReads.WithLabelValues(name, string(cache.L1)),
		l2:     m.cacheReads.WithLabelValues(name, string(cache.L2)),
		origin: m.cacheReads.WithLabelValues(name, string(cache.Origin)),
		name:   name,
		errors: m.redisErrors,
	}
}

type cacheObserver struct {
	l1, l2, origin prometheus.Counter
	name           string
	errors         *prometheus.CounterVec
}

func (o *cacheObserver) Hit(level cache.Level) {
	switch level {
	case cache.L1:
		o.l1.Inc()
	case cache.L2:
		o.l2.Inc()
	default:
		o.origin.Inc()
	}
}

// RedisError counts by operation: get, set, del, decode (a fixed set).
// Failures are rare, so the label lookup is left on this path.
func (o *cacheObserver) RedisError(op string) { o.errors.WithLabelValues(o.name, op).Inc() }
