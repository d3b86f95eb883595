package contract

import (
	"strings"
	"testing"
	"time"
)

func validCommon() Common {
	return Common{HTTPPort: 8080, MetricsPort: 9090, BindHost: "0.0.0.0", OIDCIssuer: "https://id.example.com", OIDCAudience: "user",
		OIDCMaxTokenLifetime: 24 * time.Hour, DBCredentialsFile: "/run/db/creds.json", DBMaxConns: 10,
		DrainDelay: 5 * time.Second, ShutdownTimeout: 20 * time.Second, LogLevel: "info"}
}

// The Redis login and TLS rules: a login needs its password file, and a
// login or CA needs a Redis to use them on, whose address must name a host.
func TestCommonRedisRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Common)
		want   string // "" when valid
	}{
		{"no Redis", func(*Common) {}, ""},
		{"Redis without a login", func(c *Common) { c.RedisAddr = "redis.data.svc:6379" }, ""},
		{"an ACL login over TLS", func(c *Common) {
			c.RedisAddr, c.RedisUsername, c.RedisPasswordFile, c.RedisTLSCAFile = "redis.data.svc:6379", "user", "/run/redis/password", "/run/redis/ca.crt"
		}, ""},
		{"the default user's password", func(c *Common) { c.RedisAddr, c.RedisPasswordFile = "redis.data.svc:6379", "/run/redis/password" }, ""},
		{"a user without a password file", func(c *Common) { c.RedisAddr, c.RedisUsername = "redis.data.svc:6379", "user" },
			"REDIS_PASSWORD_FILE: required when REDIS_USERNAME is set"},
		{"a login without Redis", func(c *Common) { c.RedisUsername, c.RedisPasswordFile = "user", "/run/redis/password" },
			"REDIS_USERNAME: set, but REDIS_ADDR is empty"},
		{"a CA without Redis", func(c *Common) { c.RedisTLSCAFile = "/run/redis/ca.crt" }, "REDIS_TLS_CA_FILE: set, but REDIS_ADDR is empty"},
		{"an address without a port", func(c *Common) { c.RedisAddr = "redis.data.svc" }, `REDIS_ADDR: must be host:port, got "redis.data.svc"`},
		{"an address without a host", func(c *Common) { c.RedisAddr = ":6379" }, "REDIS_ADDR: must be host:port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validCommon()
			tc.change(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// The cache's rule (0 < L1 <= L2) is held at start-up, naming the variable.
func TestCacheTTLRules(t *testing.T) {
	u := User{Common: validCommon(), CacheL1TTL: 5 * time.Second, CacheL2TTL: 5 * time.Minute}
	if err := u.Validate(); err != nil {
		t.Fatal(err)
	}
	u.CacheL1TTL = 0
	if err := u.Validate(); err == nil || !strings.Contains(err.Error(), "CACHE_L1_TTL: must be positive") {
		t.Errorf("L1 0: %v", err)
	}
	o := Order{Common: validCommon(), UserURL: "http://user.shop:8080", PaymentURL: "https://payment.payments:8443",
		CacheL1TTL: time.Minute, CacheL2TTL: time.Second}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "CACHE_L2_TTL: must be at least CACHE_L1_TTL") {
		t.Errorf("L2 < L1: %v", err)
	}
	p := Payment{Common: validCommon()}
	p.HTTPPort = 0
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "HTTP_PORT: must be between 1 and 65535") {
		t.Errorf("payment: %v", err)
	}
}
