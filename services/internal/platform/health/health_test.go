package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, path string) (int, Report) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var r Report
	_ = json.Unmarshal(rec.Body.Bytes(), &r)
	return rec.Code, r
}

func TestProbes(t *testing.T) {
	var pgErr, redisErr error
	h := New(50*time.Millisecond,
		Component{Name: "postgres", Critical: true, Check: func(context.Context) error { return pgErr }},
		Component{Name: "redis", Check: func(context.Context) error { return redisErr }},
	)
	handler := h.Handler()

	if code, _ := get(t, handler, "/health/startup"); code != 503 {
		t.Errorf("startup before migrations: %d", code)
	}
	if code, _ := get(t, handler, "/health/ready"); code != 503 {
		t.Errorf("ready before start-up: %d", code)
	}
	if code, _ := get(t, handler, "/health/live"); code != 200 {
		t.Errorf("live: %d", code)
	}
	h.Started()

	tests := []struct {
		name       string
		pg, redis  error
		wantCode   int
		wantStatus string
	}{
		{"all up", nil, nil, 200, Up},
		{"redis down only degrades", nil, errors.New("dial tcp 10.0.0.5:6379: refused"), 200, Degraded},
		{"postgres down takes the pod out", errors.New("x"), nil, 503, Down},
	}
	for _, tc := range tests {
		pgErr, redisErr = tc.pg, tc.redis
		code, rep := get(t, handler, "/health/ready")
		if code != tc.wantCode || rep.Status != tc.wantStatus {
			t.Errorf("%s: %d %s", tc.name, code, rep.Status)
		}
		if tc.redis != nil && (rep.Components["redis"].Status != Down || rep.Components["redis"].Error != "unavailable") {
			t.Errorf("%s: redis entry %+v (must not leak the error text)", tc.name, rep.Components["redis"])
		}
	}
	pgErr, redisErr = nil, nil
	h.Drain()
	if code, rep := get(t, handler, "/health/ready"); code != 503 || !rep.Draining {
		t.Errorf("draining: %d %+v", code, rep)
	}
	if code, _ := get(t, handler, "/health/live"); code != 200 {
		t.Error("liveness must not fail while draining")
	}
}

func TestSlowCheckTimesOut(t *testing.T) {
	h := New(20*time.Millisecond, Component{Name: "postgres", Critical: true, Check: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}})
	h.Started()
	start := time.Now()
	rep := h.Evaluate(context.Background())
	if rep.Status != Down || rep.Components["postgres"].Error != "timeout" || time.Since(start) > time.Second {
		t.Errorf("%+v after %s", rep, time.Since(start))
	}
}
