// Package health serves the three probes every service exposes:
//
//   - /health/live: the process answers. Never checks dependencies: a
//     database outage must not make the kubelet restart every pod.
//   - /health/ready: every critical dependency is up and the service is
//     not draining. Non-critical dependencies (Redis: reads fall back to
//     PostgreSQL) are reported as degraded but keep the pod in service.
//   - /health/startup: start-up work (migrations) is done.
//
// The readiness body is JSON, one entry per component.
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Check reports a dependency's health; nil means up.
type Check func(ctx context.Context) error

// Component is one dependency the service checks.
type Component struct {
	Name string
	// Critical components take the pod out of service when down.
	Critical bool
	Check    Check
	// Timeout bounds this check (default: the Health's), so one hung
	// dependency can't make the whole probe slow.
	Timeout time.Duration
}

// Status values in the readiness body.
const (
	Up       = "up"
	Down     = "down"
	Degraded = "degraded"
)

// ComponentStatus is one entry of the readiness body.
type ComponentStatus struct {
	Status   string `json:"status"`
	Critical bool   `json:"critical"`
	// Error is the check's error class, never its message (which may carry
	// host names or credentials).
	Error string `json:"error,omitempty"`
}

// Report is the readiness body.
type Report struct {
	Status     string                     `json:"status"`
	Draining   bool                       `json:"draining,omitempty"`
	Components map[string]ComponentStatus `json:"components"`
}

// Health tracks start-up, draining and the components.
type Health struct {
	components []Component
	timeout    time.Duration
	started    atomic.Bool
	draining   atomic.Bool
}

// New returns Health over components; each check gets timeout (default 1 s).
func New(timeout time.Duration, components ...Component) *Health {
	if timeout <= 0 {
		timeout = time.Second
	}
	return &Health{components: components, timeout: timeout}
}

// Started marks start-up work as done.
func (h *Health) Started() { h.started.Store(true) }

// Drain makes readiness fail from now on (shutdown has begun).
func (h *Health) Drain() { h.draining.Store(true) }

// Draining reports whether Drain was called.
func (h *Health) Draining() bool { return h.draining.Load() }

// Evaluate runs every check concurrently.
func (h *Health) Evaluate(ctx context.Context) Report {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	r := Report{Status: Up, Draining: h.draining.Load(), Components: make(map[string]ComponentStatus, len(h.components))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range h.components {
		wg.Go(func() {
			cctx := ctx
			if c.Timeout > 0 {
				var cancel context.CancelFunc
				cctx, cancel = context.WithTimeout(ctx, c.Timeout)
				defer cancel()
			}
			st := ComponentStatus{Status: Up, Critical: c.Critical}
			if err := c.Check(cctx); err != nil {
				st.Status, st.Error = Down, errorClass(cctx)
			}
			mu.Lock()
			r.Components[c.Name] = st
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, st := range r.Components {
		switch {
		case st.Status == Down && st.Critical:
			r.Status = Down
		case st.Status == Down && r.Status == Up:
			r.Status = Degraded
		}
	}
	if r.Draining {
		r.Status = Down
	}
	return r
}

func errorClass(ctx context.Context) string {
	if ctx.Err() != nil {
		return "timeout"
	}
	return "unavailable"
}

// Handler serves /health/live, /health/ready and /health/startup.
func (h *Health) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health/live", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": Up})
	})
	mux.HandleFunc("GET /health/startup", func(w http.ResponseWriter, r *http.Request) {
		if !h.started.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": Up})
	})
	mux.HandleFunc("GET /health/ready", func(w http.ResponseWriter, r *http.Request) {
		if !h.started.Load() {
			writeJSON(w, http.StatusServiceUnavailable, Report{Status: "starting", Components: map[string]ComponentStatus{}})
			return
		}
		rep := h.Evaluate(r.Context())
		code := http.StatusOK
		if rep.Status == Down {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, rep)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
