package contract

// The metrics every service exposes on METRICS_PORT (/metrics), named
// once: services/internal/platform/metrics registers them, and the
// platform's alert rules and dashboards query them. The stack's
// ServiceMonitors add the namespace and service labels.
const (
	// MetricRequests counts HTTP requests by route, method and code.
	MetricRequests = "http_server_requests_total"
	// MetricRequestDuration is the request-duration histogram by route
	// and method, in seconds, with LatencyBuckets.
	MetricRequestDuration = "http_server_request_duration_seconds"
	// MetricDependencyRequests counts outgoing calls by dependency and
	// outcome.
	MetricDependencyRequests = "dependency_requests_total"
	// MetricCacheReads counts cache reads by cache and level.
	MetricCacheReads = "cache_reads_total"
	// MetricCacheRedisErrors counts Redis failures the cache absorbed.
	MetricCacheRedisErrors = "cache_redis_errors_total"
	// MetricBreakerState is each dependency's breaker: 0 closed, 1
	// half-open, 2 open (BreakerOpen).
	MetricBreakerState = "circuit_breaker_state"
	BreakerOpen        = 2
)

// LatencyBuckets are the request-duration histogram's upper bounds in
// seconds: a latency objective's threshold must be one of them, or the
// ratio of fast requests can't be read from the histogram.
var LatencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
