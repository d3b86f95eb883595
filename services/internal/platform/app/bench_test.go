package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/bulwark-platform/bulwark/services/internal/platform/auth"
	"github.com/bulwark-platform/bulwark/services/internal/platform/metrics"
	"github.com/bulwark-platform/bulwark/services/internal/platform/telemetry"
	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc"
)

func ok(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }

// BenchmarkBare is the baseline: the handler alone behind a ServeMux.
func BenchmarkBare(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/users/{id}", ok)
	req := httptest.NewRequest(http.MethodGet, "/api/v1/users/42", nil)
	b.ReportAllocs()
	for b.Loop() {
		mux.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// withTracing installs the services' tracer provider, as at start-up: the
// SDK, no exporter, the sampler from OTEL_TRACES_SAMPLER(_ARG) as the
// platform sets it per environment, by default every span sampled (the
// local environment's setting, the most costly). It returns the sampler.
func withTracing(t testing.TB) string {
	sampler := os.Getenv("OTEL_TRACES_SAMPLER")
	if sampler == "" {
		sampler = "always_on"
		t.Setenv("OTEL_TRACES_SAMPLER", sampler)
	}
	if arg := os.Getenv("OTEL_TRACES_SAMPLER_ARG"); arg != "" {
		sampler += " " + arg
	}
	shutdown, err := telemetry.Setup(context.Background(), "bench")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = shutdown(context.Background()) })
	return sampler
}

// BenchmarkChain is the full chain: tracing, correlation ID, RED metrics,
// RS256 JWT verification and the scope check (targets: <= 60 µs/op and
// <= 100 allocs/op; make bench prints it as a ratio to BenchmarkBare).
func BenchmarkChain(b *testing.B) {
	withTracing(b)
	is := testsvc.NewIssuer(b)
	v, err := auth.NewVerifier(context.Background(), auth.Config{Issuer: is.URL, Audience: "user"})
	if err != nil {
		b.Fatal(err)
	}
	m := metrics.New()
	s := &Service{Name: "bench", Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: m, Verifier: v}
	h := s.Handler([]Route{{Pattern: "GET /api/v1/users/{id}", Need: auth.Requirement{Scopes: []string{"users:read"}}, Handler: ok}})
	tok := testsvc.Sign(b, jose.RS256, is.RSA, "rsa-1", nil, is.Claims("user", time.Now(), func(c map[string]any) { c["exp"] = time.Now().Add(time.Hour).Unix() }))
	req := httptest.NewRequest(http.MethodGet, "/api/v1/users/42", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Correlation-ID", "bench-1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("chain answered %d", rec.Code)
	}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}
