package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc"
)

// Under steady load through the endpoints: one replica gets SIGTERM, then
// Redis dies (readiness: degraded, still serving), then the database
// credentials rotate, then Redis returns (readiness: up, reads from Redis
// again, no restart). Not one request may fail.
func TestFaultsUnderLoadFailNoRequest(t *testing.T) {
	testsvc.Integration(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pg := testsvc.StartPostgres(t)
	pg.Exec("CREATE ROLE user_svc LOGIN PASSWORD 'pw-1'", "CREATE DATABASE users OWNER user_svc")
	redis := testsvc.StartRedis(t)
	hydra := testsvc.StartHydra(t)
	secret := hydra.Client("web", []string{"users:read", "users:write"}, []string{"user"})
	token := hydra.Token(ctx, "web", secret, []string{"users:read", "users:write"}, "user")

	creds := pg.CredentialsFile(t, "users", "user_svc", "pw-1")
	bin := testsvc.Build(t, ".")
	var replicas []*testsvc.Process
	var urls, metricsURLs []string
	for range 2 {
		r := testsvc.StartService(t, bin, testsvc.ServiceOptions{Issuer: hydra.Issuer, Audience: "user", Credentials: creds, RedisAddr: redis.Addr,
			// A tiny in-process TTL so reads really go to Redis, then to PostgreSQL.
			Env: []string{"CACHE_L1_TTL=1ms", "DRAIN_DELAY=1s", "SHUTDOWN_TIMEOUT=10s"}})
		replicas, urls, metricsURLs = append(replicas, r.Process), append(urls, r.URL), append(metricsURLs, r.MetricsURL)
	}
	lb := testsvc.StartEndpoints(t, urls...)

	req, _ := http.NewRequest(http.MethodPost, lb.URL+"/api/v1/users", strings.NewReader(`{"email":"load@example.com","name":"Load"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("creating the user: %v %v", resp, err)
	}
	var u User
	_ = json.NewDecoder(resp.Body).Decode(&u)
	resp.Body.Close()

	target := vegeta.Target{Method: http.MethodGet, URL: lb.URL + "/api/v1/users/" + u.ID,
		Header: http.Header{"Authorization": {"Bearer " + token}}}
	attacker := vegeta.NewAttacker(vegeta.Timeout(5 * time.Second))
	var faults sync.WaitGroup
	faults.Go(func() {
		time.Sleep(1 * time.Second)
		if err := replicas[0].Terminate(15 * time.Second); err != nil {
			t.Errorf("replica 0 after SIGTERM: %v", err)
		}
	})
	// Redis dies at 2.5 s and returns at 4.5 s: the surviving replica's
	// readiness says degraded (still 200) meanwhile, and up again after,
	// with reads served from Redis again, without a restart.
	var degraded atomic.Bool
	faults.Go(func() {
		time.Sleep(2500 * time.Millisecond)
		redis.Stop()
		deadline := time.Now().Add(1900 * time.Millisecond) // until just before Redis returns
		for time.Now().Before(deadline) && !degraded.Load() {
			code, status := readiness(urls[1])
			degraded.Store(code == http.StatusOK && status == "degraded")
			time.Sleep(50 * time.Millisecond)
		}
	})
	faults.Go(func() {
		time.Sleep(4500 * time.Millisecond)
		redis.Start()
	})
	faults.Go(func() {
		time.Sleep(3500 * time.Millisecond)
		pg.Exec("CREATE ROLE user_svc2 LOGIN PASSWORD 'pw-2' IN ROLE user_svc")
		pg.ExecIn("users", "GRANT ALL ON ALL TABLES IN SCHEMA public TO user_svc2")
		creds.Rotate("user_svc2", "pw-2")
	})
	var m vegeta.Metrics
	codes := map[uint16]int{}
	failures := 0
	for res := range attacker.Attack(vegeta.NewStaticTargeter(target), vegeta.Rate{Freq: 100, Per: time.Second}, 5*time.Second, "faults") {
		m.Add(res)
		codes[res.Code]++
		if res.Code != 200 {
			if failures++; failures <= 3 {
				t.Logf("failed request at %s: %d %s %s", res.Timestamp.Format("15:04:05.000"), res.Code, res.Error, res.Body)
			}
		}
	}
	m.Close()
	faults.Wait()
	if m.Requests < 400 || m.Success != 1 {
		t.Errorf("%d requests, success ratio %.4f, codes %v: a fault failed requests", m.Requests, m.Success, codes)
	}
	if !degraded.Load() {
		t.Error("with Redis down, the replica's readiness never said degraded (with 200)")
	}
	l2Before := cacheReads(t, metricsURLs[1], "l2")
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, status := readiness(urls[1])
		if code == http.StatusOK && status == "up" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness after Redis returned: %d %s", code, status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for range 20 { // L1 lives 1 ms here: these reads go to Redis
		resp, err := http.DefaultClient.Do(func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, urls[1]+"/api/v1/users/"+u.ID, nil)
			r.Header.Set("Authorization", "Bearer "+token)
			return r
		}())
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("read after Redis returned: %v %v", resp, err)
		}
		resp.Body.Close()
		time.Sleep(5 * time.Millisecond)
	}
	if after := cacheReads(t, metricsURLs[1], "l2"); after <= l2Before {
		t.Errorf("no read served from Redis after it returned (l2 reads %v → %v): the cache did not reconnect", l2Before, after)
	}
	if !strings.Contains(replicas[1].Logs(), `"database credentials rotated"`) {
		t.Error("the surviving replica did not rotate its credentials")
	}
	t.Logf("%d requests, p99 %s, codes %v", m.Requests, m.Latencies.P99, codes)
}

// readiness returns the replica's /health/ready code and overall status.
func readiness(base string) (int, string) {
	resp, err := http.Get(base + "/health/ready")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var rep struct {
		Status string `json:"status"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&rep)
	return resp.StatusCode, rep.Status
}

// cacheReads reads cache_reads_total for the users cache at level.
func cacheReads(t *testing.T, metricsURL, level string) float64 {
	t.Helper()
	v, err := testsvc.Metric(metricsURL, fmt.Sprintf(`cache_reads_total{cache="users",level=%q}`, level))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
