package telemetry

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

const instrumentation = "github.com/bulwark-platform/bulwark/services/internal/platform/telemetry"

type boundTracer struct {
	provider trace.TracerProvider
	tracer   trace.Tracer
}

var server atomic.Pointer[boundTracer]

// serverTracer is the global provider's tracer, looked up once per
// provider: the SDK's lookup takes a lock, and this is every request. A
// package-level otel.Tracer would not do: it stays bound to the first
// provider ever installed, and tests and benchmarks install several.
func serverTracer() trace.Tracer {
	tp := otel.GetTracerProvider()
	if b := server.Load(); b != nil && b.provider == tp {
		return b.tracer
	}
	b := &boundTracer{provider: tp, tracer: tp.Tracer(instrumentation)}
	server.Store(b)
	return b.tracer
}

// StartServer starts r's server span, continuing the caller's trace from
// its W3C traceparent, and returns the context carrying it; the caller ends
// the span when the handler returns, and adds what else its context needs
// before its one r.WithContext (which copies the request).
//
// It stands in for otelhttp's server handler, which the services used at
// first, because that handler also records OpenTelemetry HTTP metrics on
// every request: the services' RED metrics are Prometheus's (package
// metrics), so those were computed twice, and the second set cost about a
// third of the middleware chain's time under load. Outgoing calls still
// use otelhttp's transport. The span is named and given its route and
// status by the handler that knows them (Annotate), so span names are
// route templates, never raw paths.
func StartServer(r *http.Request) (context.Context, trace.Span) {
	ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	return serverTracer().Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.Path)))
}

// Annotate names the request's server span "{method} {route}" from the
// ServeMux pattern that matched ("GET /api/v1/users/{id}"; none leaves the
// method alone) and records the status code; a 5xx marks the span as an
// error (a 4xx is the caller's, per the HTTP semantic conventions).
func Annotate(r *http.Request, pattern string, code int) {
	span := trace.SpanFromContext(r.Context())
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(code))
	if pattern != "" {
		route := pattern
		if method, path, ok := strings.Cut(pattern, " "); ok && method != "" {
			route = path
		}
		span.SetName(r.Method + " " + route)
		span.SetAttributes(semconv.HTTPRoute(route))
	}
	if code >= 500 {
		span.SetStatus(codes.Error, http.StatusText(code))
	}
}
