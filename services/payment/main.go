// Command payment is the payment service: idempotent charges, accepted
// only from callers whose token carries payments:write (the order
// service's client-credentials token).
package main

import (
	"context"
	"embed"
	"io"

	"github.com/bulwark-platform/bulwark/services/contract"
	"github.com/bulwark-platform/bulwark/services/internal/platform/app"
	"github.com/bulwark-platform/bulwark/services/internal/platform/envconf"
)

//go:embed migrations/*.sql
var migrations embed.FS

func main() { app.Main("payment", migrations, run) }

// run starts the service and serves until ctx ends. A start-up error
// begins with the step that failed: "configuration: <VARIABLE>: ...",
// app.Start's steps.
func run(ctx context.Context, logOut io.Writer) error {
	var cfg contract.Payment
	if err := envconf.Load(&cfg); err != nil {
		return err
	}
	svc, err := app.Start(ctx, "payment", cfg.Common, migrations, logOut)
	if err != nil {
		return err // it names the step that failed
	}
	a := newAPI(svc)
	return svc.Run(ctx, svc.Handler(a.routes()))
}
