package telemetry

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestServerSpansContinueTheTraceAndNameTheRoute(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	prev, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(prev); otel.SetTextMapPropagator(prevProp) })

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "boom" {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	serve := func(path, traceparent string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if traceparent != "" {
			req.Header.Set("traceparent", traceparent)
		}
		ctx, span := StartServer(req)
		req = req.WithContext(ctx)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		Annotate(req, req.Pattern, w.Code)
		span.End()
	}
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	serve("/api/v1/users/42", parent)
	serve("/api/v1/users/boom", "")
	serve("/nowhere", "")

	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	ok, failed, unmatched := spans[0], spans[1], spans[2]
	if ok.Name() != "GET /api/v1/users/{id}" || ok.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q kind %v: want the route template, server kind", ok.Name(), ok.SpanKind())
	}
	if ok.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || ok.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("trace %s parent %s: the caller's traceparent was not continued", ok.SpanContext().TraceID(), ok.Parent().SpanID())
	}
	attrs := map[string]string{}
	for _, kv := range ok.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	if attrs["http.route"] != "/api/v1/users/{id}" || attrs["http.response.status_code"] != "200" || attrs["http.request.method"] != "GET" {
		t.Errorf("attributes %v", attrs)
	}
	if ok.Status().Code == codes.Error || failed.Status().Code != codes.Error {
		t.Errorf("status: 200 → %v, 502 → %v; want only the 5xx an error", ok.Status().Code, failed.Status().Code)
	}
	if failed.Parent().IsValid() {
		t.Error("a request without traceparent must start a new trace")
	}
	if unmatched.Name() != "GET" {
		t.Errorf("an unmatched request's span is named %q: raw paths must not become span names", unmatched.Name())
	}
}
