package resilience

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
)

// flaky answers 503 to the first fail requests, then 200.
func flaky(fail int32) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ok"))
	}))
	return srv, &n
}

func client(o Options) (*http.Client, *Transport) {
	o.BaseDelay, o.MaxDelay = time.Millisecond, 2*time.Millisecond
	tr := New(nil, o)
	return &http.Client{Transport: tr}, tr
}

func TestSafeRequestsAreRetried(t *testing.T) {
	srv, n := flaky(2)
	defer srv.Close()
	c, _ := client(Options{Dependency: "user"})
	resp, err := c.Get(srv.URL)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	if n.Load() != 3 {
		t.Errorf("%d attempts, want 3", n.Load())
	}
}

func TestUnsafeRequestsNeedAnIdempotencyKey(t *testing.T) {
	srv, n := flaky(1)
	defer srv.Close()
	c, _ := client(Options{Dependency: "payment"})
	resp, err := c.Post(srv.URL, "application/json", strings.NewReader(`{"amount":1}`))
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable || n.Load() != 1 {
		t.Fatalf("POST without key: %v %v after %d attempts", resp, err, n.Load())
	}
	resp.Body.Close()

	keyed, n := flaky(1)
	defer keyed.Close()
	req, _ := http.NewRequest(http.MethodPost, keyed.URL, strings.NewReader(`{"amount":1}`))
	req.Header.Set(IdempotencyKeyHeader, "k-1")
	resp, err = c.Do(req)
	if err != nil || resp.StatusCode != 200 || n.Load() != 2 {
		t.Fatalf("POST with key: %v %v after %d attempts", resp, err, n.Load())
	}
	resp.Body.Close()
}

func TestRetryBudgetBoundsLoad(t *testing.T) {
	srv, n := flaky(1 << 30) // always failing
	defer srv.Close()
	budget := NewBudget(0.2, 0, time.Minute)
	c, _ := client(Options{Dependency: "user", Budget: budget, MaxAttempts: 4, FailureThreshold: 1 << 20})
	const calls = 100
	for range calls {
		resp, err := c.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
	}
	retries := int(n.Load()) - calls
	if retries > calls/5+1 {
		t.Errorf("%d retries for %d calls: the budget allows 20%%", retries, calls)
	}
	if retries == 0 {
		t.Error("no retries at all: the budget should fund some")
	}
}

func TestBreakerOpensFailsFastAndCloses(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	var transitions []string
	c, tr := client(Options{Dependency: "payment", MaxAttempts: 1, FailureThreshold: 3, OpenFor: 100 * time.Millisecond,
		OnStateChange: func(_ string, from, to gobreaker.State) {
			transitions = append(transitions, from.String()+"->"+to.String())
		}})
	for range 3 {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if tr.State() != gobreaker.StateOpen {
		t.Fatalf("breaker %s after 3 failures", tr.State())
	}
	start := time.Now()
	_, err := c.Get(srv.URL)
	var open *OpenError
	if !errors.As(err, &open) || !errors.Is(err, ErrOpen) || open.RetryAfter != 100*time.Millisecond {
		t.Fatalf("open breaker answered %v", err)
	}
	if d := time.Since(start); d > 5*time.Millisecond {
		t.Errorf("failing fast took %s", d)
	}
	down.Store(false)
	time.Sleep(120 * time.Millisecond)
	resp, err := c.Get(srv.URL)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("probe after the open period: %v %v", resp, err)
	}
	resp.Body.Close()
	if tr.State() != gobreaker.StateClosed || strings.Join(transitions, ",") != "closed->open,open->half-open,half-open->closed" {
		t.Errorf("state %s, transitions %v", tr.State(), transitions)
	}
}

func TestNoRetryPastTheCallersDeadline(t *testing.T) {
	srv, n := flaky(1 << 30)
	defer srv.Close()
	tr := New(nil, Options{Dependency: "user", BaseDelay: 200 * time.Millisecond, MaxDelay: 200 * time.Millisecond, FailureThreshold: 1 << 20})
	tr.sleep = func(ctx context.Context, d time.Duration) error { return sleepCtx(ctx, 200*time.Millisecond) }
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	start := time.Now()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err == nil {
		resp.Body.Close()
	}
	if n.Load() != 1 || time.Since(start) > 40*time.Millisecond {
		t.Errorf("%d attempts in %s: a retry was scheduled past the deadline", n.Load(), time.Since(start))
	}
}

func TestBudgetFloorAndExpiry(t *testing.T) {
	now := time.Unix(0, 0)
	b := NewBudget(0.5, 2, 10*time.Second)
	b.now = func() time.Time { return now }
	if !b.Withdraw() || !b.Withdraw() || b.Withdraw() {
		t.Fatal("the per-second floor is not exactly 2")
	}
	b.Deposit()
	b.Deposit()
	if !b.Withdraw() || b.Withdraw() {
		t.Fatal("two deposits of 0.5 fund exactly one retry")
	}
	b.Deposit()
	b.Deposit()
	now = now.Add(11 * time.Second)
	b.minLeft = 0
	b.second = now
	if b.Withdraw() {
		t.Error("tokens outlived their TTL")
	}
}
