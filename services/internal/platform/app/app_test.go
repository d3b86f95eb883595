package app

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-platform/bulwark/services/internal/platform/cache"
	"github.com/bulwark-platform/bulwark/services/internal/platform/envconf"
	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc"
)

func testConfig(issuer, credentials string) Common {
	return Common{HTTPPort: 8080, MetricsPort: 9090, BindHost: "127.0.0.1", OIDCIssuer: issuer, OIDCAudience: "user",
		DBCredentialsFile: credentials, DBMaxConns: 2, DrainDelay: time.Second, ShutdownTimeout: time.Second,
		LogLevel: "info", OIDCMaxTokenLifetime: 24 * time.Hour}
}

// start runs Start and, when it succeeds, closes what it opened with the test.
func start(t *testing.T, cfg Common, migrations fs.FS) (*Service, error) {
	t.Helper()
	s, err := Start(context.Background(), "apptest", cfg, migrations, io.Discard)
	if err == nil {
		t.Cleanup(func() {
			for i := len(s.closers) - 1; i >= 0; i-- {
				_ = s.closers[i].Close(context.Background())
			}
		})
	}
	return s, err
}

// Each start-up error begins with the step that failed, once: an operator
// reads "OIDC discovery: issuer ...", not "starting: auth: OIDC ...".
func TestStartErrorsNameTheStep(t *testing.T) {
	unreachable := "http://127.0.0.1:" + strconv.Itoa(testsvc.FreePort(t))
	_, err := start(t, testConfig(unreachable, "/nonexistent/db.json"), nil)
	if want := "OIDC discovery: issuer " + unreachable + ": "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("an unreachable issuer: %v, want an error beginning %q", err, want)
	}

	is := testsvc.NewIssuer(t)
	_, err = start(t, testConfig(is.URL, "/nonexistent/db.json"), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "DB_CREDENTIALS_FILE: ") || strings.Count(err.Error(), "DB_CREDENTIALS_FILE") != 1 {
		t.Errorf("a missing credentials file: %v, want one DB_CREDENTIALS_FILE prefix", err)
	}

	creds := filepath.Join(t.TempDir(), "db.json")
	raw := `{"username":"u","password":"p","database":"d","host":"127.0.0.1","port":` + strconv.Itoa(testsvc.FreePort(t)) + `}`
	if err := os.WriteFile(creds, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = start(t, testConfig(is.URL, creds), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "database: d as u: ") || strings.Contains(err.Error(), "database: database") {
		t.Errorf("an unreachable database: %v, want an error beginning %q", err, "database: d as u: ")
	}
}

// With REDIS_ADDR empty the service has no Redis client at all (a nil
// interface, so the cache built over it is L1 only, never a nil
// dereference); with it set, a client. A failing migration names its step.
func TestStartWithAndWithoutRedis(t *testing.T) {
	pg := testsvc.StartPostgres(t)
	pg.Exec("CREATE ROLE app_svc LOGIN PASSWORD 'pw'", "CREATE DATABASE app_db OWNER app_svc")
	is := testsvc.NewIssuer(t)
	cfg := testConfig(is.URL, pg.CredentialsFile(t, "app_db", "app_svc", "pw").Path)
	migrations := fstest.MapFS{"migrations/0001_items.sql": {Data: []byte("CREATE TABLE items (id int PRIMARY KEY)")}}

	s, err := start(t, cfg, migrations)
	if err != nil {
		t.Fatal(err)
	}
	if rdb := redis.UniversalClient(s.Redis); rdb != nil {
		t.Fatalf("REDIS_ADDR empty, but the service has a Redis client: %#v", rdb)
	}
	c, err := cache.New[string](s.Redis, cache.Options{Name: "items", L1TTL: time.Second, L2TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(context.Background(), "k", func(context.Context) (string, error) { return "v", nil }); err != nil || v != "v" {
		t.Errorf("a read through the cache without Redis: %q %v", v, err)
	}
	c.Invalidate(context.Background(), "k")

	cfg.RedisAddr = testsvc.StartRedis(t).Addr
	if s, err = start(t, cfg, migrations); err != nil {
		t.Fatal(err)
	}
	if s.Redis == nil || s.Redis.Ping(context.Background()).Err() != nil {
		t.Errorf("REDIS_ADDR set, but no working Redis client: %v", s.Redis)
	}

	bad := fstest.MapFS{"migrations/0002_bad.sql": {Data: []byte("CREATE TABLEX oops")}}
	if _, err := start(t, cfg, bad); err == nil || !strings.HasPrefix(err.Error(), "migrations: 0002_bad.sql: ") {
		t.Errorf("a failing migration: %v, want an error beginning %q", err, "migrations: 0002_bad.sql: ")
	}
}

// OIDC_MAX_TOKEN_LIFETIME defaults to 24 h and must be positive.
func TestMaxTokenLifetimeSetting(t *testing.T) {
	t.Setenv("OIDC_ISSUER", "https://id.example.com")
	t.Setenv("OIDC_AUDIENCE", "user")
	t.Setenv("DB_CREDENTIALS_FILE", "/run/secrets/db.json")
	var c Common
	if err := envconf.Load(&c); err != nil || c.OIDCMaxTokenLifetime != 24*time.Hour {
		t.Fatalf("default: %s %v, want 24h", c.OIDCMaxTokenLifetime, err)
	}
	for _, v := range []string{"0s", "-1h"} {
		t.Setenv("OIDC_MAX_TOKEN_LIFETIME", v)
		if err := envconf.Load(&Common{}); err == nil || !strings.Contains(err.Error(), "OIDC_MAX_TOKEN_LIFETIME: must be positive") {
			t.Errorf("%s: %v, want an error naming OIDC_MAX_TOKEN_LIFETIME", v, err)
		}
	}
	t.Setenv("OIDC_MAX_TOKEN_LIFETIME", "1h")
	if err := envconf.Load(&c); err != nil || c.OIDCMaxTokenLifetime != time.Hour {
		t.Errorf("1h: %s %v", c.OIDCMaxTokenLifetime, err)
	}
}

// An identity provider with a private CA's certificate: discovery fails
// without OIDC_TLS_CA_FILE, passes with it, and a file that is no CA
// bundle is refused naming the variable.
func TestOIDCTrustsTheGivenCA(t *testing.T) {
	is, caFile := testsvc.NewTLSIssuer(t)
	if _, err := start(t, testConfig(is.URL, "/nonexistent/db.json"), nil); err == nil || !strings.HasPrefix(err.Error(), "OIDC discovery: ") {
		t.Errorf("an issuer with an unknown CA and no OIDC_TLS_CA_FILE: %v, want OIDC discovery to fail", err)
	}
	cfg := testConfig(is.URL, "/nonexistent/db.json")
	cfg.OIDCTLSCAFile = caFile
	// Discovery passes; start-up goes on to the next step.
	if _, err := start(t, cfg, nil); err == nil || !strings.HasPrefix(err.Error(), "DB_CREDENTIALS_FILE: ") {
		t.Errorf("with the issuer's CA: %v, want discovery to pass and DB_CREDENTIALS_FILE to fail next", err)
	}
	for name, content := range map[string]string{"no certificate": "not a PEM bundle\n", "missing": ""} {
		bad := filepath.Join(t.TempDir(), "ca.pem")
		if content != "" {
			if err := os.WriteFile(bad, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cfg.OIDCTLSCAFile = bad
		if _, err := start(t, cfg, nil); err == nil || !strings.HasPrefix(err.Error(), "OIDC_TLS_CA_FILE: ") {
			t.Errorf("%s CA file: %v, want an error naming OIDC_TLS_CA_FILE", name, err)
		}
	}
}
