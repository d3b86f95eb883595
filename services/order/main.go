// Command order is the order service: creating an order checks the user
// with the user service and charges it with the payment service, using
// the order service's own client-credentials token.
package main

import (
	"context"
	"embed"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/bulwark-platform/bulwark/services/contract"
	"github.com/bulwark-platform/bulwark/services/internal/platform/app"
	"github.com/bulwark-platform/bulwark/services/internal/platform/cache"
	"github.com/bulwark-platform/bulwark/services/internal/platform/envconf"
	"github.com/bulwark-platform/bulwark/services/internal/platform/outbound"
	"github.com/bulwark-platform/bulwark/services/internal/platform/resilience"
	"github.com/bulwark-platform/bulwark/services/internal/platform/secrets"
)

//go:embed migrations/*.sql
var migrations embed.FS

func main() { app.Main("order", migrations, run) }

// run starts the service and serves until ctx ends. A start-up error
// begins with the step that failed: "configuration: <VARIABLE>: ...",
// app.Start's steps, "OAUTH_CLIENT_SECRET_FILE: ...", "cache ...".
func run(ctx context.Context, logOut io.Writer) error {
	var cfg contract.Order
	if err := envconf.Load(&cfg); err != nil {
		return err
	}
	svc, err := app.Start(ctx, "order", cfg.Common, migrations, logOut)
	if err != nil {
		return err // it names the step that failed
	}
	var current atomic.Value
	secret, err := secrets.Watch(ctx, cfg.ClientSecretFile, secrets.ParseText,
		func(s string) { current.Store(s); svc.Log.Info("client secret reloaded") },
		func(err error) { svc.Log.Error("client secret file", "error", err.Error()) })
	if err != nil {
		return fmt.Errorf("OAUTH_CLIENT_SECRET_FILE: %w", err)
	}
	current.CompareAndSwap(nil, secret) // unless a change already arrived
	creds := outbound.Credentials{TokenURL: svc.Verifier.TokenURL(), ClientID: cfg.ClientID, Secret: func() string { return current.Load().(string) },
		HTTPClient: svc.IdP}
	opts := func(dep string) resilience.Options {
		return resilience.Options{Dependency: dep, OpenFor: cfg.BreakerOpenFor, OnStateChange: svc.Metrics.BreakerChanged}
	}
	users, _ := outbound.Client(creds, "user", []string{"users:read"}, opts("user"))
	payments, paymentBreaker := outbound.Client(creds, "payment", []string{"payments:write"}, opts("payment"))
	c, err := cache.New[Order](svc.Redis, cache.Options{Name: "orders", L1TTL: cfg.CacheL1TTL, L2TTL: cfg.CacheL2TTL, Observer: svc.Metrics.Cache("orders")})
	if err != nil {
		return err
	}
	a := newAPI(svc, c, deps{users: users, userURL: cfg.UserURL, payments: payments, paymentURL: cfg.PaymentURL, paymentBreaker: paymentBreaker})
	return svc.Run(ctx, svc.Handler(a.routes()))
}
