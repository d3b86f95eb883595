package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc"
)

// The Redis client's configuration: plain and anonymous by default; with
// a password, every new connection asks for the current one (so a
// rotation reaches new connections without a restart); with a CA, TLS
// verified against it for the host of REDIS_ADDR, never skipped.
func TestRedisOptions(t *testing.T) {
	cfg := Common{RedisAddr: "redis.data.svc:6380"}
	plain := redisOptions(cfg, nil, nil)
	if plain.Addr != "redis.data.svc:6380" || plain.DialerRetries != 1 || plain.TLSConfig != nil || plain.CredentialsProviderContext != nil || plain.Username != "" || plain.Password != "" {
		t.Errorf("plain: %+v", plain)
	}

	var current atomic.Value
	current.Store("pw-1")
	cfg.RedisUsername = "order"
	o := redisOptions(cfg, func() string { return current.Load().(string) }, nil)
	for _, want := range []string{"pw-1", "pw-2"} {
		current.Store(want)
		user, pw, err := o.CredentialsProviderContext(context.Background())
		if user != "order" || pw != want || err != nil {
			t.Errorf("credentials: %q %q %v, want order %q", user, pw, err, want)
		}
	}
	if o.Password != "" {
		t.Error("a static password is set besides the provider: it would outlive a rotation")
	}

	ca := testsvc.NewCA(t)
	for addr, host := range map[string]string{"redis.data.svc:6380": "redis.data.svc", "10.0.0.7:6379": "10.0.0.7", "[fd00::7]:6379": "fd00::7"} {
		cfg.RedisAddr = addr
		tc := redisOptions(cfg, nil, ca.Pool).TLSConfig
		if tc == nil || tc.ServerName != host || !tc.RootCAs.Equal(ca.Pool) || tc.InsecureSkipVerify || tc.MinVersion < tls.VersionTLS12 {
			t.Errorf("%s: TLS %+v, want verification for %s against the CA", addr, tc, host)
		}
	}
}

// A refused login and a certificate that doesn't verify are down like an
// outage, and logged once each time they start (only an operator can fix
// them), and once when Redis accepts the connection again.
func TestRedisCheckLogsWhatOnlyAnOperatorCanFix(t *testing.T) {
	r := testsvc.StartRedisWith(t, testsvc.RedisOptions{User: "svc", Password: "right", TLS: true})
	var logs strings.Builder
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	check := func(roots *x509.CertPool, password string) func() error {
		c := redis.NewClient(redisOptions(Common{RedisAddr: r.Addr, RedisUsername: "svc"}, func() string { return password }, roots))
		t.Cleanup(func() { c.Close() })
		chk := checkRedis(c, log)
		return func() error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			return chk(ctx)
		}
	}
	wrongCA := check(testsvc.NewCA(t).Pool, "right")
	for range 3 {
		var verr *tls.CertificateVerificationError
		if err := wrongCA(); !errors.As(err, &verr) {
			t.Fatalf("another CA: %v, want a verification error", err)
		}
	}
	if n := strings.Count(logs.String(), "redis's TLS certificate does not verify (REDIS_TLS_CA_FILE, REDIS_ADDR)"); n != 1 {
		t.Errorf("three failed checks logged the certificate %d times, want once:\n%s", n, logs.String())
	}
	wrongPassword := check(r.Pool(), "wrong-pw-7")
	for range 3 {
		if err := wrongPassword(); !redis.IsAuthError(err) {
			t.Fatalf("a wrong password: %v, want an authentication error", err)
		}
	}
	if n := strings.Count(logs.String(), "redis refused the login (REDIS_USERNAME, REDIS_PASSWORD_FILE)"); n != 1 {
		t.Errorf("three refused logins logged %d times, want once:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "wrong-pw-7") {
		t.Error("the password reached the log")
	}
	right := check(r.Pool(), "right")
	if err := right(); err != nil || strings.Contains(logs.String(), "accepts the connection again") {
		t.Errorf("a fresh check that never failed: %v, and it logged a recovery", err)
	}
}

// The new files' errors stop start-up naming the variable, once, before
// anything connects (no database is running here).
func TestStartErrorsNameTheNewFiles(t *testing.T) {
	is := testsvc.NewIssuer(t)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not-a-ca.crt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyPassword := filepath.Join(dir, "password")
	if err := os.WriteFile(emptyPassword, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The database is never reached: the files fail first.
	creds := filepath.Join(dir, "db.json")
	if err := os.WriteFile(creds, []byte(`{"username":"u","password":"p","database":"d","host":"127.0.0.1","port":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Common)
		want   string
	}{
		{"a DB CA that is not PEM", func(c *Common) { c.DBTLSCAFile = notPEM }, "DB_TLS_CA_FILE: " + notPEM + ": no PEM certificate"},
		{"a missing Redis password file", func(c *Common) {
			c.RedisAddr, c.RedisUsername, c.RedisPasswordFile = "127.0.0.1:1", "u", filepath.Join(dir, "missing")
		}, "REDIS_PASSWORD_FILE: reading "},
		{"an empty Redis password", func(c *Common) {
			c.RedisAddr, c.RedisUsername, c.RedisPasswordFile = "127.0.0.1:1", "u", emptyPassword
		}, "REDIS_PASSWORD_FILE: " + emptyPassword + ": secret file is empty"},
		{"a Redis CA that is not PEM", func(c *Common) { c.RedisAddr, c.RedisTLSCAFile = "127.0.0.1:1", notPEM }, "REDIS_TLS_CA_FILE: " + notPEM + ": no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(is.URL, creds)
			tc.change(&cfg)
			_, err := start(t, cfg, nil)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got %v, want an error beginning %q", err, tc.want)
			}
			if v, _, _ := strings.Cut(tc.want, ":"); err != nil && strings.Count(err.Error(), v) != 1 {
				t.Errorf("%v names %s more than once", err, v)
			}
		})
	}
}
