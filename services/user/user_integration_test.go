package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc"
)

// The user service as a real process, against real PostgreSQL, Redis and
// Ory Hydra. Runs with BULWARK_INTEGRATION=1 (make test).
func TestUserServiceEndToEnd(t *testing.T) {
	testsvc.Integration(t)
	ctx := context.Background()
	pg := testsvc.StartPostgres(t)
	pg.Exec("CREATE ROLE user_svc LOGIN PASSWORD 'pw-1'", "CREATE DATABASE users OWNER user_svc")
	redis := testsvc.StartRedis(t)
	hydra := testsvc.StartHydra(t)
	writerSecret := hydra.Client("web", []string{"users:read", "users:write"}, []string{"user"})
	readerSecret := hydra.Client("reader", []string{"users:read"}, []string{"user"})
	writer := hydra.Token(ctx, "web", writerSecret, []string{"users:read", "users:write"}, "user")
	reader := hydra.Token(ctx, "reader", readerSecret, []string{"users:read"}, "user")

	creds := pg.CredentialsFile(t, "users", "user_svc", "pw-1")

	bin := testsvc.Build(t, ".")
	svc := testsvc.StartService(t, bin, testsvc.ServiceOptions{Issuer: hydra.Issuer, Audience: "user",
		Credentials: creds, RedisAddr: redis.Addr, Env: []string{"DRAIN_DELAY=300ms", "SHUTDOWN_TIMEOUT=5s"}})
	base := svc.URL

	do := func(method, path, token, body string) (int, map[string]any, http.Header) {
		t.Helper()
		return request(t, method, base+path, token, body)
	}

	// Both documented cache modes through real HTTP: REDIS_ADDR set (svc)
	// and empty (a second process on the same database, no second level).
	noRedis := testsvc.StartService(t, bin, testsvc.ServiceOptions{Issuer: hydra.Issuer, Audience: "user", Credentials: creds})
	for i, mode := range []struct{ name, url string }{{"REDIS_ADDR set", base}, {"REDIS_ADDR empty", noRedis.URL}} {
		t.Run(mode.name, func(t *testing.T) { cachedReadsAndWrites(t, mode.url, reader, writer, i) })
	}
	noRedis.Kill()

	code, created, hdr := do("POST", "/api/v1/users", writer, `{"email":"ada@example.com","name":"Ada"}`)
	if code != 201 || created["id"] == nil || hdr.Get("X-Correlation-ID") != "it-post" {
		t.Fatalf("create: %d %v %v", code, created, hdr)
	}
	id := created["id"].(string)
	if code, _, _ := do("POST", "/api/v1/users", writer, `{"email":"ada@example.com","name":"Ada again"}`); code != 409 {
		t.Errorf("duplicate email: %d", code)
	}
	if code, _, _ := do("POST", "/api/v1/users", reader, `{"email":"bob@example.com","name":"Bob"}`); code != 403 {
		t.Errorf("create with a read-only token: %d", code)
	}
	if code, _, _ := do("POST", "/api/v1/users", writer, `{"email":"not-an-email","name":"X"}`); code != 400 {
		t.Errorf("bad email: %d", code)
	}
	if code, _, hdr := do("GET", "/api/v1/users/"+id, "", ""); code != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %d %v", code, hdr)
	}
	// Hydra's real tokens, tampered or for another audience, are refused.
	otherSecret := hydra.Client("other", []string{"users:read"}, []string{"order"})
	otherAud := hydra.Token(ctx, "other", otherSecret, []string{"users:read"}, "order")
	parts := strings.Split(reader, ".")
	sig := []byte(parts[2])
	sig[len(sig)/2] ^= 0x01
	tampered := parts[0] + "." + parts[1] + "." + string(sig)
	for name, tok := range map[string]string{"another audience": otherAud, "a tampered signature": tampered} {
		if code, _, _ := do("GET", "/api/v1/users/"+id, tok, ""); code != 401 {
			t.Errorf("Hydra token with %s: %d", name, code)
		}
	}
	if code, got, _ := do("GET", "/api/v1/users/"+id, reader, ""); code != 200 || got["email"] != "ada@example.com" {
		t.Errorf("get: %d %v", code, got)
	}
	if code, _, _ := do("GET", "/api/v1/users", reader, ""); code != 403 {
		t.Errorf("listing without the admin role: %d", code)
	}
	if code, got, _ := do("PUT", "/api/v1/users/"+id, writer, `{"email":"ada@example.com","name":"Ada Lovelace"}`); code != 200 || got["name"] != "Ada Lovelace" {
		t.Errorf("update: %d %v", code, got)
	}
	if code, got, _ := do("GET", "/api/v1/users/"+id, reader, ""); code != 200 || got["name"] != "Ada Lovelace" {
		t.Errorf("read after update served a stale cache entry: %d %v", code, got)
	}

	// Redis is not critical: reads go on, readiness says degraded.
	redis.Stop()
	if code, got, _ := do("GET", "/api/v1/users/"+id, reader, ""); code != 200 || got["name"] != "Ada Lovelace" {
		t.Errorf("read with Redis down: %d %v", code, got)
	}
	if code, rep, _ := do("GET", "/health/ready", "", ""); code != 200 || rep["status"] != "degraded" {
		t.Errorf("readiness with Redis down: %d %v", code, rep)
	}
	redis.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, rep, _ := do("GET", "/health/ready", "", ""); rep["status"] == "up" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("readiness never recovered after Redis came back")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Credentials rotate without a restart.
	pg.Exec("CREATE ROLE user_svc2 LOGIN PASSWORD 'pw-2' IN ROLE user_svc")
	pg.ExecIn("users", "GRANT ALL ON ALL TABLES IN SCHEMA public TO user_svc2")
	creds.Rotate("user_svc2", "pw-2")
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(svc.Logs(), `"database credentials rotated"`) {
		if time.Now().After(deadline) {
			t.Fatal("the rotation was not picked up")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _, _ := do("DELETE", "/api/v1/users/"+id, writer, ""); code != 204 {
		t.Errorf("delete after rotation: %d", code)
	}
	if code, _, _ := do("GET", "/api/v1/users/"+id, reader, ""); code != 404 {
		t.Errorf("get after delete: %d", code)
	}

	// Metrics on their own port, by route template.
	resp, err := http.Get(svc.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), `route="GET /api/v1/users/{id}"`) || strings.Contains(string(raw), id) {
		t.Error("metrics missing the route template, or carrying a raw id")
	}

	// SIGTERM: readiness fails at once, the process exits 0.
	stopped := make(chan error, 1)
	go func() { stopped <- svc.Terminate(10 * time.Second) }()
	time.Sleep(100 * time.Millisecond)
	if code, _, _ := do("GET", "/health/ready", "", ""); code != 503 {
		t.Errorf("readiness during the drain: %d", code)
	}
	if err := <-stopped; err != nil {
		t.Errorf("exit: %v", err)
	}
	for _, want := range []string{`"correlation_id":"it-get"`, `"msg":"request refused"`, `"msg":"stopped"`} {
		if !strings.Contains(svc.Logs(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
}

// request sends one request to url and returns the status, the JSON body
// and the headers.
func request(t *testing.T, method, url, token, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("X-Correlation-ID", "it-"+strings.ToLower(method))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, resp.Header
}

// cachedReadsAndWrites creates user n through base, reads it twice (a
// miss, then a cache hit), updates it and reads it again: every answer's
// status and body, and no stale read after the write.
func cachedReadsAndWrites(t *testing.T, base, reader, writer string, n int) {
	t.Helper()
	email := fmt.Sprintf("mode-%d@example.com", n)
	code, created, _ := request(t, "POST", base+"/api/v1/users", writer, fmt.Sprintf(`{"email":%q,"name":"Mode"}`, email))
	if code != 201 || created["id"] == nil {
		t.Fatalf("create: %d %v", code, created)
	}
	url := base + "/api/v1/users/" + created["id"].(string)
	for _, read := range []string{"first read", "cached read"} {
		if code, got, _ := request(t, "GET", url, reader, ""); code != 200 || got["id"] != created["id"] || got["email"] != email || got["name"] != "Mode" {
			t.Errorf("%s: %d %v", read, code, got)
		}
	}
	if code, got, _ := request(t, "PUT", url, writer, fmt.Sprintf(`{"email":%q,"name":"Mode Updated"}`, email)); code != 200 || got["id"] != created["id"] || got["name"] != "Mode Updated" {
		t.Errorf("update: %d %v", code, got)
	}
	if code, got, _ := request(t, "GET", url, reader, ""); code != 200 || got["name"] != "Mode Updated" {
		t.Errorf("read after the update (a stale cache entry?): %d %v", code, got)
	}
	if code, got, _ := request(t, "GET", base+"/api/v1/users/00000000-0000-4000-8000-000000000000", reader, ""); code != 404 || got["detail"] != "no such user" {
		t.Errorf("an unknown user: %d %v", code, got)
	}
}
