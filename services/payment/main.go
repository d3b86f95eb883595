// Command payment is the payment service: idempotent charges, accepted
// only from callers whose token carries payments:write (the order
// service's client-credentials token).
package main

import (
	"context"
	"embed"
	"fmt"
	"io"

	"github.com/bulwark-platform/bulwark/services/internal/platform/app"
	"github.com/bulwark-platform/bulwark/services/internal/platform/envconf"
)

//go:embed migrations/*.sql
var migrations embed.FS

func main() { app.Main("payment", run) }

func run(ctx context.Context, logOut io.Writer) error {
	var cfg app.Common
	if err := envconf.Load(&cfg); err != nil {
		return err
	}
	svc, err := app.Start(ctx, "payment", cfg, migrations, logOut)
	if err != nil {
		return fmt.Errorf("starting: %w", err)
	}
	a := newAPI(svc)
	return svc.Run(ctx, svc.Handler(a.routes()))
}
