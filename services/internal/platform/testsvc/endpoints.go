package testsvc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

// Endpoints stands in for a Kubernetes Service in front of replicas: it
// routes round-robin only to backends whose /health/ready answers 200,
// checked every 25 ms, the way endpoints drop a pod whose readiness
// fails. Load tests aim at URL so that a replica draining after SIGTERM
// stops getting new requests as it would in a cluster.
type Endpoints struct {
	URL      string
	backends []*url.URL
	ready    []atomic.Bool
	next     atomic.Uint64
}

// StartEndpoints serves the replicas at urls until the test ends.
func StartEndpoints(t testing.TB, urls ...string) *Endpoints {
	t.Helper()
	e := &Endpoints{ready: make([]atomic.Bool, len(urls))}
	for _, u := range urls {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		e.backends = append(e.backends, parsed)
	}
	ctx, cancel := context.WithCancel(context.Background())
	probed := make(chan struct{})
	go func() {
		client := &http.Client{Timeout: time.Second} // the kubelet's probe timeout
		for first := true; ctx.Err() == nil; first = false {
			for i, b := range e.backends {
				resp, err := client.Get(b.String() + "/health/ready")
				e.ready[i].Store(err == nil && resp.StatusCode == http.StatusOK)
				if err == nil {
					resp.Body.Close()
				}
			}
			if first {
				close(probed)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}()
	srv := httptest.NewServer(e)
	t.Cleanup(func() { cancel(); srv.Close() })
	e.URL = srv.URL
	<-probed
	return e
}

// ServeHTTP proxies to the next ready backend, or answers 503 when none is.
func (e *Endpoints) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for range len(e.backends) {
		i := int(e.next.Add(1)) % len(e.backends)
		if e.ready[i].Load() {
			httputil.NewSingleHostReverseProxy(e.backends[i]).ServeHTTP(w, r)
			return
		}
	}
	http.Error(w, "no ready endpoint", http.StatusServiceUnavailable)
}
