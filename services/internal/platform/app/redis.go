package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-platform/bulwark/services/internal/platform/health"
	"github.com/bulwark-platform/bulwark/services/internal/platform/secrets"
)

// openRedis makes the client of cfg's Redis (REDIS_ADDR set) without
// connecting: the login's password is watched in REDIS_PASSWORD_FILE, the
// CA read from REDIS_TLS_CA_FILE. Its errors begin with the variable.
func openRedis(ctx context.Context, cfg Common, log *slog.Logger) (*redis.Client, error) {
	var password func() string
	if cfg.RedisPasswordFile != "" {
		var current atomic.Pointer[string]
		initial, err := secrets.Watch(ctx, cfg.RedisPasswordFile, secrets.ParseText,
			func(p string) { current.Store(&p); log.Info("redis password reloaded") },
			func(err error) { log.Error("redis password file", "error", err.Error()) })
		if err != nil {
			return nil, fmt.Errorf("REDIS_PASSWORD_FILE: %w", err)
		}
		current.CompareAndSwap(nil, &initial) // unless a change already arrived
		password = func() string { return *current.Load() }
	}
	var roots *x509.CertPool
	if cfg.RedisTLSCAFile != "" {
		var err error
		if roots, err = secrets.ReadCA(cfg.RedisTLSCAFile); err != nil {
			return nil, fmt.Errorf("REDIS_TLS_CA_FILE: %w", err)
		}
	}
	return redis.NewClient(redisOptions(cfg, password, roots)), nil
}

// redisOptions is the client configuration: fail fast (the cache is best
// effort, so a slow Redis must cost a request little), log in as
// REDIS_USERNAME with password's current value, and with roots verify the
// server's certificate for the host of REDIS_ADDR.
func redisOptions(cfg Common, password func() string, roots *x509.CertPool) *redis.Options {
	o := &redis.Options{Addr: cfg.RedisAddr, MaxRetries: 1,
		DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond,
		// One dial per attempt: the pool's own retries (five, 100 ms apart)
		// outlast every caller's deadline, which then sees only "context
		// deadline exceeded", never why the dial failed (a certificate that
		// doesn't verify, say).
		DialerRetries: 1}
	if password != nil {
		// Asked on every new connection, never cached: after a rotation
		// new connections log in with the new password; established ones
		// stay logged in, as Redis keeps them when a password changes.
		user := cfg.RedisUsername
		o.CredentialsProviderContext = func(context.Context) (string, string, error) { return user, password(), nil }
	}
	if roots != nil {
		host, _, _ := net.SplitHostPort(cfg.RedisAddr) // Validate checked it
		o.TLSConfig = &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12}
		// The dial includes the handshake: two more round trips and a
		// signature, which 100 ms would leave no margin for under load.
		o.DialTimeout = 250 * time.Millisecond
	}
	return o
}

// checkRedis is Redis's readiness check. A refused login or an
// unverifiable certificate is down like an outage (degraded: reads fall
// back to PostgreSQL), but unlike an outage it won't pass by itself, so
// it is logged, once each time it starts and when it ends.
func checkRedis(rdb *redis.Client, log *slog.Logger) health.Check {
	var refused atomic.Pointer[string] // the current refusal, nil when none
	return func(ctx context.Context) error {
		err := rdb.Ping(ctx).Err()
		var why string
		var verr *tls.CertificateVerificationError
		switch {
		case err == nil:
		case redis.IsAuthError(err) || redis.IsPermissionError(err):
			why = "redis refused the login (REDIS_USERNAME, REDIS_PASSWORD_FILE)"
		case errors.As(err, &verr):
			why = "redis's TLS certificate does not verify (REDIS_TLS_CA_FILE, REDIS_ADDR)"
		}
		switch prev := refused.Load(); {
		case why != "" && (prev == nil || *prev != why):
			if refused.CompareAndSwap(prev, &why) {
				log.Error(why, "error", err.Error())
			}
		case why == "" && err == nil && prev != nil:
			if refused.CompareAndSwap(prev, nil) {
				log.Info("redis accepts the connection again")
			}
		}
		return err
	}
}
