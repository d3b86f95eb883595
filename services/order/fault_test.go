package main

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/observability"
	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc"
)

// startOrderLoad aims a steady stream of order creations at url for d,
// each with its own Idempotency-Key; the function it returns waits for the
// end and returns the results.
func startOrderLoad(url, token, body string, rate int, d time.Duration) (wait func() []vegeta.Result) {
	var seq atomic.Int64
	run := fmt.Sprintf("%x", time.Now().UnixNano())
	targeter := func(tgt *vegeta.Target) error {
		n := seq.Add(1)
		*tgt = vegeta.Target{Method: http.MethodPost, URL: url + "/api/v1/orders", Body: []byte(body),
			Header: http.Header{"Authorization": {"Bearer " + token}, "Content-Type": {"application/json"},
				"Idempotency-Key": {fmt.Sprintf("load-%s-%06d", run, n)}}}
		return nil
	}
	attacker := vegeta.NewAttacker(vegeta.Timeout(5*time.Second), vegeta.KeepAlive(true))
	done := make(chan []vegeta.Result, 1)
	go func() {
		var results []vegeta.Result
		for res := range attacker.Attack(targeter, vegeta.Rate{Freq: rate, Per: time.Second}, d, "orders") {
			results = append(results, *res)
		}
		done <- results
	}()
	return func() []vegeta.Result { return <-done }
}

func codes(rs []vegeta.Result) map[uint16]int {
	m := map[uint16]int{}
	for _, r := range rs {
		m[r.Code]++
	}
	return m
}

// breakerState is the payment breaker's state on one order replica (0
// closed, 1 half-open, 2 open), or why it could not be read.
func breakerState(metricsURL string) string {
	v, err := testsvc.Metric(metricsURL, `circuit_breaker_state{dependency="payment"}`)
	if err != nil {
		return err.Error()
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// Order creation under steady load, through endpoints over two order
// replicas: first one replica gets SIGTERM (no request may fail), then
// payment is stopped (orders answer 503 with Retry-After at once while the
// breakers are open, never an error or a hung request) and started again
// (the breakers close and orders succeed, without a restart of order).
func TestOrderFaultsUnderLoad(t *testing.T) {
	testsvc.Integration(t)
	p := startPlatform(t, 2, "DRAIN_DELAY=1s", "SHUTDOWN_TIMEOUT=10s")
	web, order := p.shopper(t)
	lb := testsvc.StartEndpoints(t, p.orderURLs...)

	t.Run("SIGTERM during load", func(t *testing.T) {
		load := startOrderLoad(lb.URL, web, order, 30, 4*time.Second)
		time.Sleep(time.Second)
		if err := p.orders[0].Terminate(15 * time.Second); err != nil {
			t.Errorf("order replica 0 after SIGTERM: %v", err)
		}
		rs := load()
		if c := codes(rs); len(rs) < 100 || c[201] != len(rs) {
			t.Errorf("%d orders, codes %v: want every one created", len(rs), c)
		}
		p.orders[0].Start()
	})

	t.Run("payment stopped during load", func(t *testing.T) {
		load := startOrderLoad(lb.URL, web, order, 30, 7*time.Second)
		time.Sleep(time.Second)
		// The time is taken before the kill: Kill returns once the process
		// is gone, and a request it failed on the way may complete first.
		stopped := time.Now()
		p.payment.Kill()
		// Both replicas' breakers open while payment is down.
		deadline := time.Now().Add(3 * time.Second)
		for breakerState(p.orderMetrics[0]) != "2" || breakerState(p.orderMetrics[1]) != "2" {
			if time.Now().After(deadline) {
				t.Fatalf("breakers not both open 3 s after payment stopped: %s, %s", breakerState(p.orderMetrics[0]), breakerState(p.orderMetrics[1]))
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(time.Until(stopped.Add(2 * time.Second)))
		p.payment.Start()
		restarted := time.Now()
		rs := load()

		var failFast []time.Duration
		var before, after, afterOK int
		for _, r := range rs {
			switch {
			case r.Code == 201 || r.Code == 503:
			default:
				t.Errorf("at %s: %d %q %s: want 201 or 503", r.Timestamp.Format("15:04:05.000"), r.Code, r.Error, r.Body)
			}
			if r.Code == 503 {
				if r.Headers.Get("Retry-After") == "" {
					t.Errorf("a 503 without Retry-After: %s", r.Body)
				}
				if strings.Contains(string(r.Body), "payment is unavailable") {
					failFast = append(failFast, r.Latency)
				}
			}
			switch {
			case r.Timestamp.Add(r.Latency).Before(stopped): // answered before the stop
				if before++; r.Code != 201 {
					t.Errorf("before payment stopped: %d", r.Code)
				}
			case r.Timestamp.After(restarted.Add(1500 * time.Millisecond)): // the breakers' open period, plus probes
				after++
				if r.Code == 201 {
					afterOK++
				}
			}
		}
		if len(failFast) < 10 {
			t.Fatalf("%d answers from an open breaker, codes %v", len(failFast), codes(rs))
		}
		slices.Sort(failFast)
		p99 := failFast[len(failFast)*99/100]
		t.Logf("%d orders (%v); %d answered by an open breaker: p50 %s, p99 %s (benchmark: make bench)", len(rs), codes(rs), len(failFast), failFast[len(failFast)/2], p99)
		// A hung call waits out the 2 s per-try timeout; an open breaker
		// answers without calling. Its speed is measured by a benchmark.
		if p99 > 500*time.Millisecond {
			t.Errorf("open-breaker answers p99 %s: the breaker did not fail fast", p99)
		}
		if before == 0 || after == 0 || afterOK != after {
			t.Errorf("created before the stop %d; after payment returned %d of %d", before, afterOK, after)
		}
		for i, m := range p.orderMetrics {
			if s := breakerState(m); s != "0" {
				t.Errorf("order replica %d: payment breaker state %s after recovery, want 0 (closed)", i, s)
			}
			// Every family the platform's alert rules read from a service
			// is one this running service exposes.
			families, err := testsvc.Families(m)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range observability.ServiceMetrics(config.Defaults(config.Prod)) {
				if !families[name] {
					t.Errorf("order replica %d does not expose %s, which the alert rules query", i, name)
				}
			}
		}
	})
}
