package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc"
)

type platform struct {
	secretFile           string
	t                    testing.TB
	pg                   *testsvc.Postgres
	hydra                *testsvc.Hydra
	user, payment, order *testsvc.Process
	userURL, paymentURL  string
	orderURL             string
	// orders are all the order replicas (order is the first), orderURLs
	// their URLs.
	otlp         *testsvc.OTLP
	orders       []*testsvc.Process
	orderURLs    []string
	orderMetrics []string
	// redisAddr is the platform's Redis; userBin and orderBin the built
	// services, for start and startOrder.
	redisAddr, userBin, orderBin string
}

// startPlatform runs the three services as processes, each with its own
// database, against one Redis and one Ory Hydra; orderReplicas order
// processes share one database, with orderEnv added to their environment.
func startPlatform(t testing.TB, orderReplicas int, orderEnv ...string) *platform {
	t.Helper()
	p := &platform{t: t}
	p.pg = testsvc.StartPostgres(t)
	for _, s := range []string{"user", "payment", "order"} {
		p.pg.Exec(fmt.Sprintf("CREATE ROLE %s_svc LOGIN PASSWORD '%s-pw'", s, s), fmt.Sprintf("CREATE DATABASE %s_db OWNER %s_svc", s, s))
	}
	p.redisAddr = testsvc.StartRedis(t).Addr
	p.hydra = testsvc.StartHydra(t)
	p.otlp = testsvc.StartOTLP(t)
	orderSecret := p.hydra.Client("order-svc", []string{"users:read", "payments:write"}, []string{"user", "payment"})
	secretFile := filepath.Join(t.TempDir(), "client-secret")
	p.secretFile = secretFile
	if err := os.WriteFile(secretFile, []byte(orderSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.userBin, p.orderBin = testsvc.Build(t, "../user"), testsvc.Build(t, ".")
	user, payment := p.start("user", p.userBin), p.start("payment", testsvc.Build(t, "../payment"))
	p.user, p.userURL, p.payment, p.paymentURL = user.Process, user.URL, payment.Process, payment.URL
	for range orderReplicas {
		o := p.startOrder(p.userURL, orderEnv...)
		p.orders, p.orderURLs, p.orderMetrics = append(p.orders, o.Process), append(p.orderURLs, o.URL), append(p.orderMetrics, o.MetricsURL)
	}
	p.order, p.orderURL = p.orders[0], p.orderURLs[0]
	return p
}

// start runs one process of service name from bin on its database, with
// the platform's Redis unless env says otherwise (a later REDIS_ADDR=
// wins: no second cache level).
func (p *platform) start(name, bin string, env ...string) *testsvc.Service {
	p.t.Helper()
	return testsvc.StartService(p.t, bin, testsvc.ServiceOptions{
		Issuer: p.hydra.Issuer, Audience: name, RedisAddr: p.redisAddr,
		Credentials: p.pg.CredentialsFile(p.t, name+"_db", name+"_svc", name+"-pw"),
		Env: append([]string{"DRAIN_DELAY=200ms", "SHUTDOWN_TIMEOUT=5s",
			"OTEL_EXPORTER_OTLP_ENDPOINT=" + p.otlp.Endpoint, "OTEL_BSP_SCHEDULE_DELAY=200"}, env...),
	})
}

// startOrder runs an order process calling the user service at userURL
// and the platform's payment service.
func (p *platform) startOrder(userURL string, env ...string) *testsvc.Service {
	p.t.Helper()
	return p.start("order", p.orderBin, append([]string{"USER_URL=" + userURL, "PAYMENT_URL=" + p.paymentURL, "OAUTH_CLIENT_ID=order-svc",
		"OAUTH_CLIENT_SECRET_FILE=" + p.secretFile, "BREAKER_OPEN_FOR=1s"}, env...)...)
}

// shopper registers a user (through the user service) and a web client
// allowed orders:read and orders:write, and returns the client's token
// and an order body for that user.
func (p *platform) shopper(t testing.TB) (token, order string) {
	t.Helper()
	ctx := context.Background()
	adminSecret := p.hydra.Client("admin-cli", []string{"users:write"}, []string{"user"})
	webSecret := p.hydra.Client("web", []string{"orders:read", "orders:write"}, []string{"order"})
	admin := p.hydra.Token(ctx, "admin-cli", adminSecret, []string{"users:write"}, "user")
	token = p.hydra.Token(ctx, "web", webSecret, []string{"orders:read", "orders:write"}, "order")
	u := call(t, "POST", p.userURL+"/api/v1/users", admin, "", `{"email":"shopper@example.com","name":"Shopper"}`)
	if u.code != 201 {
		t.Fatalf("creating the user: %d %v", u.code, u.body)
	}
	return token, fmt.Sprintf(`{"user_id":%q,"currency":"EUR","items":[{"sku":"book-1","quantity":1,"unit_price_cents":999}]}`, u.body["id"])
}

type reply struct {
	code   int
	body   map[string]any
	list   []any
	header http.Header
	took   time.Duration
}

func call(t testing.TB, method, url, token, key, body string) reply {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
		req.Header.Set("X-Correlation-ID", "it-"+key)
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{code: resp.StatusCode, header: resp.Header, took: time.Since(start)}
	_ = json.Unmarshal(raw, &r.body)
	_ = json.Unmarshal(raw, &r.list)
	return r
}

func TestOrderChecksTheUserAndChargesOnce(t *testing.T) {
	testsvc.Integration(t)
	ctx := context.Background()
	p := startPlatform(t, 1)
	adminSecret := p.hydra.Client("admin-cli", []string{"users:write"}, []string{"user"})
	webSecret := p.hydra.Client("web", []string{"orders:read", "orders:write", "payments:write"}, []string{"order"})
	admin := p.hydra.Token(ctx, "admin-cli", adminSecret, []string{"users:write"}, "user")
	web := p.hydra.Token(ctx, "web", webSecret, []string{"orders:read", "orders:write"}, "order")

	u := call(t, "POST", p.userURL+"/api/v1/users", admin, "", `{"email":"grace@example.com","name":"Grace"}`)
	if u.code != 201 {
		t.Fatalf("creating the user: %d %v", u.code, u.body)
	}
	userID := u.body["id"].(string)
	order := fmt.Sprintf(`{"user_id":%q,"currency":"EUR","items":[{"sku":"book-1","quantity":2,"unit_price_cents":1250}]}`, userID)

	first := call(t, "POST", p.orderURL+"/api/v1/orders", web, "key-00000001", order)
	if first.code != 201 || first.body["status"] != "paid" || first.body["total_cents"] != 2500.0 || first.body["payment_id"] == "" {
		t.Fatalf("order: %d %v", first.code, first.body)
	}
	replay := call(t, "POST", p.orderURL+"/api/v1/orders", web, "key-00000001", order)
	if replay.code != 201 || replay.body["id"] != first.body["id"] || replay.body["payment_id"] != first.body["payment_id"] || replay.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %d %v %v", replay.code, replay.body, replay.header)
	}
	if r := call(t, "POST", p.orderURL+"/api/v1/orders", web, "key-00000001", strings.Replace(order, `"quantity":2`, `"quantity":3`, 1)); r.code != 422 {
		t.Errorf("same key, different order: %d", r.code)
	}
	if r := call(t, "POST", p.orderURL+"/api/v1/orders", web, "", order); r.code != 400 {
		t.Errorf("no Idempotency-Key: %d", r.code)
	}
	missing := strings.Replace(order, userID, "00000000-0000-4000-8000-000000000000", 1)
	if r := call(t, "POST", p.orderURL+"/api/v1/orders", web, "key-00000002", missing); r.code != 422 {
		t.Errorf("unknown user: %d %v", r.code, r.body)
	}
	id := first.body["id"].(string)
	if r := call(t, "GET", p.orderURL+"/api/v1/orders/"+id, web, "", ""); r.code != 200 || r.body["status"] != "paid" {
		t.Errorf("get: %d %v", r.code, r.body)
	}
	if r := call(t, "GET", p.orderURL+"/api/v1/orders?user="+userID, web, "", ""); r.code != 200 || len(r.list) != 1 {
		t.Errorf("list by user: %d %v", r.code, r.list)
	}

	// Both documented cache modes through real HTTP: REDIS_ADDR set (the
	// platform's order, user and payment) and empty (a second order and
	// user process on the same databases; payment, which has no cache,
	// runs without Redis in its own test).
	noRedisUser := p.start("user", p.userBin, "REDIS_ADDR=")
	noRedisOrder := p.startOrder(noRedisUser.URL, "REDIS_ADDR=")
	for i, mode := range []struct{ name, url string }{{"REDIS_ADDR set", p.orderURL}, {"REDIS_ADDR empty", noRedisOrder.URL}} {
		t.Run(mode.name, func(t *testing.T) { cachedReadsAndWrites(t, mode.url, web, order, i) })
	}
	noRedisOrder.Kill()
	noRedisUser.Kill()

	// Payment accepts only tokens for it carrying payments:write.
	charge := `{"order_id":"x","amount_cents":1,"currency":"EUR"}`
	if r := call(t, "POST", p.paymentURL+"/api/v1/payments", web, "pay-00000001", charge); r.code != 401 {
		t.Errorf("payment with a token for another audience: %d", r.code)
	}
	noScope := p.hydra.Client("payment-reader", []string{"payments:read"}, []string{"payment"})
	reader := p.hydra.Token(ctx, "payment-reader", noScope, []string{"payments:read"}, "payment")
	if r := call(t, "POST", p.paymentURL+"/api/v1/payments", reader, "pay-00000002", charge); r.code != 403 {
		t.Errorf("payment without payments:write: %d", r.code)
	}

	// Payment down: the breaker opens and orders fail fast with Retry-After.
	// (A crash loses the spans not yet exported: wait for payment's batch.)
	for deadline := time.Now().Add(5 * time.Second); !slices.ContainsFunc(p.otlp.Spans(), func(s testsvc.Span) bool { return s.Name == "payment.charge" }); {
		if time.Now().After(deadline) {
			t.Fatal("payment exported no payment.charge span within 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.payment.Kill()
	var opened bool
	for i := 0; i < 10 && !opened; i++ {
		r := call(t, "POST", p.orderURL+"/api/v1/orders", web, fmt.Sprintf("key-down-%04d", i), order)
		if r.code != 503 || r.header.Get("Retry-After") == "" {
			t.Fatalf("with payment down: %d %v", r.code, r.header)
		}
		opened = strings.Contains(r.body["detail"].(string), "payment is unavailable")
	}
	if !opened {
		t.Fatal("the payment breaker never opened")
	}
	fast := call(t, "POST", p.orderURL+"/api/v1/orders", web, "key-fast-0001", order)
	t.Logf("answer with the payment breaker open: %d in %s", fast.code, fast.took)
	if fast.code != 503 || fast.header.Get("Retry-After") != "1" || fast.took > 50*time.Millisecond {
		t.Errorf("open breaker: %d Retry-After %q after %s", fast.code, fast.header.Get("Retry-After"), fast.took)
	}
	p.payment.Start()
	time.Sleep(1100 * time.Millisecond) // the breaker's open period
	resumed := call(t, "POST", p.orderURL+"/api/v1/orders", web, "key-down-0000", order)
	if resumed.code != 201 || resumed.body["status"] != "paid" {
		t.Errorf("retrying an order after payment returned: %d %v", resumed.code, resumed.body)
	}

	// The client secret is read from its file on change: a wrong secret
	// stops the order service's calls at once (its cached token is
	// dropped), the rotated one restores them, without a restart.
	writeSecret := func(secret string) {
		t.Helper()
		before := strings.Count(p.order.Logs(), `"client secret reloaded"`)
		if err := os.WriteFile(p.secretFile+".tmp", []byte(secret), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p.secretFile+".tmp", p.secretFile); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for strings.Count(p.order.Logs(), `"client secret reloaded"`) == before {
			if time.Now().After(deadline) {
				t.Fatal("the client secret file change was not picked up")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	rotated := "rotated-secret-0123456789abcdef"
	p.hydra.SetSecret("order-svc", rotated, []string{"users:read", "payments:write"}, []string{"user", "payment"})
	writeSecret("not-the-secret")
	if r := call(t, "POST", p.orderURL+"/api/v1/orders", web, "key-secret-001", order); r.code != 503 {
		t.Errorf("with a wrong client secret the order service still called out: %d %v", r.code, r.body)
	}
	writeSecret(rotated)
	if r := call(t, "POST", p.orderURL+"/api/v1/orders", web, "key-secret-001", order); r.code != 201 {
		t.Errorf("after the rotation: %d %v", r.code, r.body)
	}

	for _, proc := range []*testsvc.Process{p.order, p.payment, p.user} {
		if err := proc.Terminate(10 * time.Second); err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	}
	checkTrace(t, p.otlp.Spans(), "it-key-00000001", "grace@example.com")
	// One correlation ID through order, user and payment.
	for name, proc := range map[string]*testsvc.Process{"order": p.order, "user": p.user, "payment": p.payment} {
		if !strings.Contains(proc.Logs(), `"correlation_id":"it-key-00000001"`) {
			t.Errorf("%s logs lack the order request's correlation ID", name)
		}
	}
}

// cachedReadsAndWrites creates order n through base (a write that
// invalidates the order's cache entry once it is paid), reads it twice (a
// miss, then a cache hit) and replays its creation: every answer's status
// and body.
func cachedReadsAndWrites(t *testing.T, base, token, order string, n int) {
	t.Helper()
	key := fmt.Sprintf("key-mode-%04d", n)
	created := call(t, "POST", base+"/api/v1/orders", token, key, order)
	if created.code != 201 || created.body["status"] != "paid" || created.body["id"] == nil || created.body["payment_id"] == "" {
		t.Fatalf("create: %d %v", created.code, created.body)
	}
	id := created.body["id"].(string)
	for _, read := range []string{"first read", "cached read"} {
		r := call(t, "GET", base+"/api/v1/orders/"+id, token, "", "")
		if r.code != 200 || r.body["id"] != id || r.body["status"] != "paid" || r.body["payment_id"] != created.body["payment_id"] || r.body["total_cents"] != created.body["total_cents"] {
			t.Errorf("%s: %d %v", read, r.code, r.body)
		}
	}
	if r := call(t, "POST", base+"/api/v1/orders", token, key, order); r.code != 201 || r.body["id"] != id || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %d %v %v", r.code, r.body, r.header)
	}
	if r := call(t, "GET", base+"/api/v1/orders/00000000-0000-4000-8000-000000000000", token, "", ""); r.code != 404 || r.body["detail"] != "no such order" {
		t.Errorf("an unknown order: %d %v", r.code, r.body)
	}
}

// checkTrace finds the trace of the first order (the request with
// correlation ID corr) among the spans the three services exported over
// OTLP when they stopped, and checks it is one trace across them: server,
// client, business, PostgreSQL and Redis spans, parents linked across the
// process boundaries, the correlation ID on every service's server span,
// and no personal data (the user's email) or amount in any attribute.
func checkTrace(t *testing.T, spans []testsvc.Span, corr, email string) {
	t.Helper()
	byTrace := map[string][]testsvc.Span{}
	for _, s := range spans {
		byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
		for k, v := range s.Attrs {
			if strings.Contains(v, email) || strings.Contains(k, "amount") {
				t.Errorf("%s span %q carries personal or payment data: %s=%s", s.Service, s.Name, k, v)
			}
		}
	}
	var trace []testsvc.Span
	for _, s := range spans {
		if s.Service == "order" && s.Kind == "SPAN_KIND_SERVER" && s.Attrs["correlation.id"] == corr && s.Attrs["http.response.status_code"] == "int_value:201" {
			trace = byTrace[s.TraceID]
			break
		}
	}
	find := func(service, kind, name string) (testsvc.Span, bool) {
		for _, s := range trace {
			if s.Service == service && s.Kind == kind && s.Name == name {
				return s, true
			}
		}
		return testsvc.Span{}, false
	}
	want := []struct{ service, kind, name string }{
		{"order", "SPAN_KIND_SERVER", "POST /api/v1/orders"},
		{"order", "SPAN_KIND_INTERNAL", "order.create"},
		{"order", "SPAN_KIND_CLIENT", "HTTP GET"},
		{"order", "SPAN_KIND_CLIENT", "HTTP POST"},
		{"user", "SPAN_KIND_SERVER", "GET /api/v1/users/{id}"},
		{"user", "SPAN_KIND_INTERNAL", "user.lookup"},
		{"payment", "SPAN_KIND_SERVER", "POST /api/v1/payments"},
		{"payment", "SPAN_KIND_INTERNAL", "payment.charge"},
	}
	for _, w := range want {
		if _, ok := find(w.service, w.kind, w.name); !ok {
			t.Errorf("the first order's trace (%d spans) lacks %s's %s span %q", len(trace), w.service, w.kind, w.name)
		}
	}
	if t.Failed() {
		return
	}
	get, _ := find("order", "SPAN_KIND_CLIENT", "HTTP GET")
	post, _ := find("order", "SPAN_KIND_CLIENT", "HTTP POST")
	userSrv, _ := find("user", "SPAN_KIND_SERVER", "GET /api/v1/users/{id}")
	paySrv, _ := find("payment", "SPAN_KIND_SERVER", "POST /api/v1/payments")
	if userSrv.ParentID != get.SpanID || paySrv.ParentID != post.SpanID {
		t.Errorf("server spans not parented by the caller's client spans (traceparent not continued): user %s←%s, payment %s←%s",
			userSrv.ParentID, get.SpanID, paySrv.ParentID, post.SpanID)
	}
	for _, s := range []testsvc.Span{userSrv, paySrv} {
		if s.Attrs["correlation.id"] != corr {
			t.Errorf("%s's server span has correlation.id %q, want %q", s.Service, s.Attrs["correlation.id"], corr)
		}
	}
	db := map[string]bool{}
	for _, s := range trace {
		if sys := s.Attrs["db.system"]; sys != "" {
			db[s.Service+"/"+sys] = true
		}
	}
	for _, w := range []string{"order/postgresql", "payment/postgresql", "user/postgresql", "user/redis"} {
		if !db[w] {
			t.Errorf("no %s span in the first order's trace (have %v)", w, db)
		}
	}
}
