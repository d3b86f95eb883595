// Command user is the user service: users and profiles, owned in its own
// PostgreSQL database, read through the two-level cache.
package main

import (
	"context"
	"embed"
	"io"

	"github.com/bulwark-platform/bulwark/services/contract"
	"github.com/bulwark-platform/bulwark/services/internal/platform/app"
	"github.com/bulwark-platform/bulwark/services/internal/platform/cache"
	"github.com/bulwark-platform/bulwark/services/internal/platform/envconf"
)

//go:embed migrations/*.sql
var migrations embed.FS

func main() { app.Main("user", migrations, run) }

// run starts the service and serves until ctx ends. A start-up error
// begins with the step that failed: "configuration: <VARIABLE>: ...",
// app.Start's steps, "cache ...".
func run(ctx context.Context, logOut io.Writer) error {
	var cfg contract.User
	if err := envconf.Load(&cfg); err != nil {
		return err
	}
	svc, err := app.Start(ctx, "user", cfg.Common, migrations, logOut)
	if err != nil {
		return err // it names the step that failed
	}
	c, err := cache.New[User](svc.Redis, cache.Options{Name: "users", L1TTL: cfg.CacheL1TTL, L2TTL: cfg.CacheL2TTL, Observer: svc.Metrics.Cache("users")})
	if err != nil {
		return err
	}
	a := &api{store: store{db: svc.DB}, cache: c}
	return svc.Run(ctx, svc.Handler(a.routes()))
}
