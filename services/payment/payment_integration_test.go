package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc"
)

type answer struct {
	code   int
	body   map[string]any
	header http.Header
}

// The payment service as a process against PostgreSQL and Ory Hydra:
// who may charge, what a charge must say, and idempotency per caller and
// key, also when the same key arrives concurrently.
func TestChargesAreIdempotentPerCallerAndKey(t *testing.T) {
	testsvc.Integration(t)
	ctx := context.Background()
	pg := testsvc.StartPostgres(t)
	pg.Exec("CREATE ROLE payment_svc LOGIN PASSWORD 'pw'", "CREATE DATABASE payment_db OWNER payment_svc")
	hydra := testsvc.StartHydra(t)
	creds := pg.CredentialsFile(t, "payment_db", "payment_svc", "pw")
	// REDIS_ADDR empty: payment has no cache (the order tests run it with
	// REDIS_ADDR set, the other documented mode).
	proc := testsvc.StartService(t, testsvc.Build(t, "."), testsvc.ServiceOptions{Issuer: hydra.Issuer, Audience: "payment", Credentials: creds, RedisAddr: ""})
	base := proc.URL

	token := func(client string, scopes []string, audience string) string {
		secret := hydra.Client(client, scopes, []string{audience})
		return hydra.Token(ctx, client, secret, scopes, audience)
	}
	order := token("order-svc", []string{"payments:write"}, "payment")
	shop := token("shop-svc", []string{"payments:write"}, "payment")
	reader := token("ledger", []string{"payments:read"}, "payment")
	foreign := token("web", []string{"payments:write"}, "order")

	charge := func(tok, key, body string) answer {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/payments", strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		a := answer{code: resp.StatusCode, header: resp.Header}
		raw, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(raw, &a.body)
		return a
	}
	const body = `{"order_id":"order-1","amount_cents":2500,"currency":"EUR"}`

	first := charge(order, "order-order-1", body)
	if first.code != 201 || first.body["status"] != "captured" || first.body["amount_cents"] != 2500.0 || first.body["id"] == "" {
		t.Fatalf("charge: %d %v", first.code, first.body)
	}
	replay := charge(order, "order-order-1", body)
	if replay.code != 201 || replay.body["id"] != first.body["id"] || replay.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %d %v %v", replay.code, replay.body, replay.header)
	}
	if r := charge(order, "order-order-1", strings.Replace(body, "2500", "2600", 1)); r.code != 422 {
		t.Errorf("same key, different amount: %d %v", r.code, r.body)
	}
	// Keys are per caller: another client's same key is its own charge.
	if r := charge(shop, "order-order-1", body); r.code != 201 || r.body["id"] == first.body["id"] || r.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("another caller, same key: %d %v", r.code, r.body)
	}

	for name, tc := range map[string]struct {
		tok, key, body string
		code           int
		detail         string
	}{
		"no Idempotency-Key":        {order, "", body, 400, "Idempotency-Key"},
		"a short Idempotency-Key":   {order, "k1", body, 400, "Idempotency-Key"},
		"a zero amount":             {order, "pay-zero-001", `{"order_id":"o","amount_cents":0,"currency":"EUR"}`, 400, "amount_cents"},
		"an absurd amount":          {order, "pay-huge-001", `{"order_id":"o","amount_cents":100000000000,"currency":"EUR"}`, 400, "amount_cents"},
		"a lower-case currency":     {order, "pay-curr-001", `{"order_id":"o","amount_cents":1,"currency":"eur"}`, 400, "currency"},
		"no order_id":               {order, "pay-noid-001", `{"amount_cents":1,"currency":"EUR"}`, 400, "order_id"},
		"an unknown field":          {order, "pay-field-01", `{"order_id":"o","amount_cents":1,"currency":"EUR","card":"4111"}`, 400, "card"},
		"malformed JSON":            {order, "pay-json-001", `{"order_id":`, 400, ""},
		"no token":                  {"", "pay-anon-001", body, 401, ""},
		"a token for another API":   {foreign, "pay-aud-0001", body, 401, ""},
		"a token without the scope": {reader, "pay-scope-01", body, 403, ""},
	} {
		r := charge(tc.tok, tc.key, tc.body)
		if r.code != tc.code || !strings.Contains(fmt.Sprint(r.body["detail"]), tc.detail) {
			t.Errorf("%s: %d %v, want %d naming %q", name, r.code, r.body, tc.code, tc.detail)
		}
	}

	// Ten concurrent first attempts with one key make one charge.
	var wg sync.WaitGroup
	ids := make([]string, 10)
	for i := range ids {
		wg.Go(func() {
			r := charge(order, "order-order-2", strings.Replace(body, "order-1", "order-2", 1))
			if r.code != 201 {
				t.Errorf("concurrent attempt %d: %d %v", i, r.code, r.body)
				return
			}
			ids[i], _ = r.body["id"].(string)
		})
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("concurrent attempts with one key made different charges: %v", ids)
		}
	}
	pg.ExecIn("payment_db", "DO $$ BEGIN IF (SELECT count(*) FROM payments WHERE order_id = 'order-2') <> 1 THEN RAISE EXCEPTION 'not exactly one charge for order-2'; END IF; END $$")

	for series, want := range map[string]float64{`payments_total{outcome="created"}`: 3, `payments_total{outcome="replayed"}`: 10} {
		if got, err := testsvc.Metric(proc.MetricsURL, series); err != nil || got != want {
			t.Errorf("%s = %v (%v), want %v", series, got, err, want)
		}
	}
	if err := proc.Terminate(10 * time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}
