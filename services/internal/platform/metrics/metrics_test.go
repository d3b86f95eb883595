package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sony/gobreaker/v2"

	"github.com/bulwark-platform/bulwark/services/internal/platform/cache"
)

func TestREDUsesRouteTemplates(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			w.WriteHeader(http.StatusNotFound)
		}
	})
	h := m.Middleware(mux)
	for _, p := range []string{"/api/v1/users/1", "/api/v1/users/2", "/api/v1/users/missing", "/nowhere/12345"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("GET /api/v1/users/{id}", "GET", "200")); got != 2 {
		t.Errorf("200s on the template: %v", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("GET /api/v1/users/{id}", "GET", "404")); got != 1 {
		t.Errorf("404s: %v", got)
	}
	if got := testutil.CollectAndCount(m.requests); got != 3 {
		t.Errorf("%d series: raw paths must never become labels", got)
	}
	m.BreakerChanged("payment", gobreaker.StateClosed, gobreaker.StateOpen)
	users := m.Cache("users")
	users.Hit(cache.L1)
	users.Hit(cache.L1)
	users.Hit(cache.Origin)
	users.RedisError("get")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{`circuit_breaker_state{dependency="payment"} 2`, `cache_reads_total{cache="users",level="l1"} 2`, `cache_reads_total{cache="users",level="l2"} 0`, `cache_reads_total{cache="users",level="origin"} 1`, `cache_redis_errors_total{cache="users",op="get"} 1`, "http_server_request_duration_seconds_bucket"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// BenchmarkL1HitCounted is an L1 hit as the services make it: the cache
// with its metrics observer counting the hit.
func BenchmarkL1HitCounted(b *testing.B) {
	c, err := cache.New[string](nil, cache.Options{Name: "bench", L1TTL: time.Hour, L2TTL: time.Hour, Observer: New().Cache("bench")})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Get(ctx, "k", func(context.Context) (string, error) { return "v", nil }); err != nil {
		b.Fatal(err)
	}
	miss := func(context.Context) (string, error) { return "", errors.New("miss") }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Get(ctx, "k", miss); err != nil {
			b.Fatal(err)
		}
	}
}
