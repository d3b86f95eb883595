// Package server runs a service's HTTP servers and shuts them down in
// order when the context ends (SIGTERM): readiness fails at once, a drain
// delay lets endpoints and the mesh stop routing, the servers stop
// accepting and let in-flight requests finish within a deadline, then
// telemetry is flushed and pools are closed.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/bulwark-platform/bulwark/services/internal/platform/health"
)

// Config of the servers and the shutdown.
type Config struct {
	// Addr serves the API and the health probes; MetricsAddr serves
	// /metrics apart, so scraping never competes with traffic.
	Addr, MetricsAddr string
	// DrainDelay is how long readiness fails before the servers stop.
	DrainDelay time.Duration
	// ShutdownTimeout bounds waiting for in-flight requests.
	ShutdownTimeout time.Duration
}

// Closer releases a resource at shutdown (flush telemetry, close a pool).
type Closer struct {
	Name  string
	Close func(context.Context) error
}

// Run serves app (and the health probes) on Addr and metrics on
// MetricsAddr until ctx ends, then shuts down in order and runs closers
// in the order given. It returns nil after a clean shutdown.
func Run(ctx context.Context, cfg Config, app, metrics http.Handler, h *health.Health, log *slog.Logger, closers ...Closer) error {
	appLn, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	metricsLn, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		appLn.Close()
		return fmt.Errorf("listening on %s: %w", cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/health/", h.Handler())
	mux.Handle("/", app)
	appSrv := &http.Server{
		Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second,
		// Requests must outlive the signal: shutdown waits for them.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	metricsMux := http.NewServeMux()
	metricsMux.Handle("/metrics", metrics)
	metricsSrv := &http.Server{Handler: metricsMux, ReadHeaderTimeout: 5 * time.Second}

	errc := make(chan error, 2)
	go func() { errc <- serve(appSrv, appLn) }()
	go func() { errc <- serve(metricsSrv, metricsLn) }()
	log.Info("serving", "addr", appLn.Addr().String(), "metrics", metricsLn.Addr().String())

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	h.Drain()
	log.Info("shutting down", "drain_delay", cfg.DrainDelay.String())
	if serveErr == nil {
		time.Sleep(cfg.DrainDelay)
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if serveErr != nil {
		errs = append(errs, serveErr)
	}
	if err := appSrv.Shutdown(shutdownCtx); err != nil {
		errs = append(errs, fmt.Errorf("draining requests: %w", err))
	}
	if err := metricsSrv.Shutdown(shutdownCtx); err != nil {
		errs = append(errs, fmt.Errorf("stopping metrics: %w", err))
	}
	for _, c := range closers {
		if err := c.Close(shutdownCtx); err != nil {
			errs = append(errs, fmt.Errorf("closing %s: %w", c.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

func serve(s *http.Server, ln net.Listener) error {
	if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
