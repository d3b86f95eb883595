// Package resilience makes outgoing HTTP calls safe to depend on: a
// per-call timeout bounded by the caller's deadline, retries with
// exponential backoff and full jitter only for safe or idempotency-keyed
// requests, a retry budget so retries can't multiply load, and a circuit
// breaker per dependency (gobreaker) that fails fast while the dependency
// is down.
package resilience

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/sony/gobreaker/v2"
)

// ErrOpen is returned at once while the dependency's breaker is open.
// Handlers answer it with 503 and Retry-After.
var ErrOpen = errors.New("dependency unavailable (circuit open)")

// OpenError carries how long the breaker stays open.
type OpenError struct {
	Dependency string
	RetryAfter time.Duration
}

func (e *OpenError) Error() string { return fmt.Sprintf("%s: %v", e.Dependency, ErrOpen) }

// Unwrap makes errors.Is(err, ErrOpen) hold.
func (e *OpenError) Unwrap() error { return ErrOpen }

// IdempotencyKeyHeader marks a non-safe request as safe to retry.
const IdempotencyKeyHeader = "Idempotency-Key"

// Options configure a Transport.
type Options struct {
	// Dependency names the breaker (and metrics).
	Dependency string
	// MaxAttempts per call, first included; default 3.
	MaxAttempts int
	// PerTry bounds one attempt; default 2 s, never past the caller's deadline.
	PerTry time.Duration
	// BaseDelay and MaxDelay shape the backoff; default 25 ms and 1 s.
	BaseDelay, MaxDelay time.Duration
	// Budget caps retries; default 20 % of calls plus 5 a second.
	Budget *Budget
	// FailureThreshold consecutive failures open the breaker (default 5),
	// which stays open for OpenFor (default 5 s) before one probe.
	FailureThreshold uint32
	OpenFor          time.Duration
	// OnStateChange observes breaker transitions (metrics, logs).
	OnStateChange func(dependency string, from, to gobreaker.State)
}

// Transport is a resilient http.RoundTripper for one dependency.
type Transport struct {
	base    http.RoundTripper
	opts    Options
	breaker *gobreaker.CircuitBreaker[*http.Response]
	sleep   func(context.Context, time.Duration) error
}

// statusError makes a 5xx count as a breaker failure while keeping the
// response for the caller.
type statusError struct{ resp *http.Response }

func (e *statusError) Error() string { return "server error " + e.resp.Status }

// New wraps base (http.DefaultTransport if nil).
func New(base http.RoundTripper, o Options) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.PerTry <= 0 {
		o.PerTry = 2 * time.Second
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = 25 * time.Millisecond
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = time.Second
	}
	if o.Budget == nil {
		o.Budget = NewBudget(0.2, 5, 10*time.Second)
	}
	if o.FailureThreshold == 0 {
		o.FailureThreshold = 5
	}
	if o.OpenFor <= 0 {
		o.OpenFor = 5 * time.Second
	}
	t := &Transport{base: base, opts: o, sleep: sleepCtx}
	threshold := o.FailureThreshold
	t.breaker = gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:        o.Dependency,
		MaxRequests: 1,
		Timeout:     o.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		// A caller that gave up is not the dependency's fault.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			if o.OnStateChange != nil {
				o.OnStateChange(name, from, to)
			}
		},
	})
	return t
}

// Open returns an *OpenError while the breaker is open, so callers can
// refuse work that would end at this dependency anyway.
func (t *Transport) Open() error {
	if t.breaker.State() == gobreaker.StateOpen {
		return &OpenError{Dependency: t.opts.Dependency, RetryAfter: t.opts.OpenFor}
	}
	return nil
}

// State is the breaker's state.
func (t *Transport) State() gobreaker.State { return t.breaker.State() }

func retryable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return r.Header.Get(IdempotencyKeyHeader) != ""
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := r.Context()
	t.opts.Budget.Deposit()
	canRetry := retryable(r) && (r.Body == nil || r.GetBody != nil)
	var lastErr error
	for attempt := 0; attempt < t.opts.MaxAttempts; attempt++ {
		if attempt > 0 {
			if !canRetry || !t.opts.Budget.Withdraw() {
				break
			}
			if err := t.sleep(ctx, t.backoff(attempt)); err != nil {
				break
			}
		}
		resp, err := t.attempt(r, attempt)
		if err == nil {
			return resp, nil
		}
		var se *statusError
		if errors.As(err, &se) {
			if attempt+1 >= t.opts.MaxAttempts || !canRetry {
				return se.resp, nil // the caller sees the dependency's answer
			}
			drain(se.resp)
		}
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			return nil, &OpenError{Dependency: t.opts.Dependency, RetryAfter: t.opts.OpenFor}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		lastErr = err
	}
	return nil, fmt.Errorf("%s: %w", t.opts.Dependency, lastErr)
}

func (t *Transport) attempt(r *http.Request, attempt int) (*http.Response, error) {
	return t.breaker.Execute(func() (*http.Response, error) {
		req := r
		if attempt > 0 && r.GetBody != nil {
			body, err := r.GetBody()
			if err != nil {
				return nil, err
			}
			req = r.Clone(r.Context())
			req.Body = body
		}
		ctx, cancel := context.WithTimeout(r.Context(), t.opts.PerTry)
		resp, err := t.base.RoundTrip(req.WithContext(ctx))
		if err != nil {
			cancel()
			return nil, err
		}
		resp.Body = cancelOnClose{resp.Body, cancel}
		if resp.StatusCode >= 500 {
			return nil, &statusError{resp}
		}
		return resp, nil
	})
}

// backoff is exponential with full jitter.
func (t *Transport) backoff(attempt int) time.Duration {
	d := t.opts.BaseDelay << (attempt - 1)
	if d > t.opts.MaxDelay || d <= 0 {
		d = t.opts.MaxDelay
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.DeadlineExceeded // no point waiting past the caller's deadline
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
