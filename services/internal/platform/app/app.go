// Package app assembles a Bulwark service from the platform pieces, so the
// three services share one lifecycle: configuration from the environment,
// JSON logs carrying correlation IDs, telemetry, metrics, health, token
// verification, PostgreSQL with rotating credentials and migrations, an
// optional Redis, and ordered graceful shutdown.
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"

	"github.com/bulwark-platform/bulwark/services/contract"
	"github.com/bulwark-platform/bulwark/services/internal/platform/auth"
	"github.com/bulwark-platform/bulwark/services/internal/platform/correlation"
	"github.com/bulwark-platform/bulwark/services/internal/platform/db"
	"github.com/bulwark-platform/bulwark/services/internal/platform/health"
	"github.com/bulwark-platform/bulwark/services/internal/platform/metrics"
	"github.com/bulwark-platform/bulwark/services/internal/platform/secrets"
	"github.com/bulwark-platform/bulwark/services/internal/platform/server"
	"github.com/bulwark-platform/bulwark/services/internal/platform/telemetry"
)

// Common is the configuration every service reads. It lives in the
// contract package, which the platform imports to learn what every
// service requires; the alias keeps app.Common working.
type Common = contract.Common

// Route is one entry of a service's route table: the pattern, what a
// caller needs, and the handler. Public routes skip authentication.
type Route struct {
	Pattern string
	Need    auth.Requirement
	Public  bool
	Handler http.HandlerFunc
}

// Service is a started service.
type Service struct {
	Name     string
	Config   Common
	Log      *slog.Logger
	Metrics  *metrics.Metrics
	Health   *health.Health
	Verifier *auth.Verifier
	// IdP is the HTTP client for the identity provider (discovery, JWKS,
	// token requests): it trusts OIDC_TLS_CA_FILE when set.
	IdP *http.Client
	DB  *db.DB
	// Redis is nil, a nil interface, when REDIS_ADDR is empty (no second
	// cache level), so that cache.New and any other nil check see it.
	Redis   redis.UniversalClient
	closers []server.Closer
}

// idpClient is the identity provider's HTTP client: the system roots,
// plus the CA bundle in caFile when given (read once: a CA rotates with a
// rollout, unlike the secrets the services reload).
func idpClient(caFile string) (*http.Client, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	if caFile == "" {
		return c, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if err := secrets.AddCA(pool, caFile); err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	c.Transport = t
	return c, nil
}

// Start brings up everything but the HTTP servers. On error it releases
// what it had opened; the error begins with the step that failed
// ("telemetry", "OIDC discovery", "DB_TLS_CA_FILE", "REDIS_PASSWORD_FILE",
// "REDIS_TLS_CA_FILE", "DB_CREDENTIALS_FILE", "database", "migrations",
// "redis tracing"), once: files are read before anything connects, so a
// bad mount stops start-up before the migrations run. Redis itself is not
// contacted: it only degrades the service, so an unreachable Redis or a
// refused login shows in readiness, never as a failed start.
func Start(ctx context.Context, name string, cfg Common, migrations fs.FS, logOut io.Writer) (s *Service, err error) {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(correlation.LogHandler{Handler: slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: lvl})}).With("service", name)
	// go-redis logs every failed dial itself; the cache counts them instead.
	redis.SetLogger(quietRedis{})
	s = &Service{Name: name, Config: cfg, Log: log, Metrics: metrics.New()}
	s.Metrics.AccessLog = log
	defer func() {
		if err != nil {
			for i := len(s.closers) - 1; i >= 0; i-- {
				_ = s.closers[i].Close(context.WithoutCancel(ctx))
			}
		}
	}()
	flush, err := telemetry.Setup(ctx, name)
	if err != nil {
		return s, fmt.Errorf("telemetry: %w", err)
	}
	s.closers = append(s.closers, server.Closer{Name: "telemetry", Close: flush})

	if s.IdP, err = idpClient(cfg.OIDCTLSCAFile); err != nil {
		return s, fmt.Errorf("OIDC_TLS_CA_FILE: %w", err)
	}
	s.Verifier, err = auth.NewVerifier(ctx, auth.Config{Issuer: cfg.OIDCIssuer, Audience: cfg.OIDCAudience,
		MaxTokenLifetime: cfg.OIDCMaxTokenLifetime, HTTPClient: s.IdP})
	if err != nil {
		return s, fmt.Errorf("OIDC discovery: %w", err)
	}

	// The CA is checked here, where the error can name the variable; pgx
	// reads the file itself on each connect.
	if cfg.DBTLSCAFile != "" {
		if _, err := secrets.ReadCA(cfg.DBTLSCAFile); err != nil {
			return s, fmt.Errorf("DB_TLS_CA_FILE: %w", err)
		}
	}
	var rdb *redis.Client
	if cfg.RedisAddr != "" {
		if rdb, err = openRedis(ctx, cfg, log); err != nil {
			return s, err // it names the variable
		}
		s.closers = append(s.closers, server.Closer{Name: "redis", Close: func(context.Context) error { return rdb.Close() }})
	}
	creds, err := secrets.Watch(ctx, cfg.DBCredentialsFile, secrets.ParseDB,
		func(c secrets.DBCredentials) {
			if err := s.DB.Rotate(ctx, c); err != nil {
				log.Error("database credentials changed but the new ones don't work; keeping the old", "error", err.Error())
				return
			}
			log.Info("database credentials rotated", "user", c.Username)
		},
		func(err error) { log.Error("database credentials file", "error", err.Error()) })
	if err != nil {
		return s, fmt.Errorf("DB_CREDENTIALS_FILE: %w", err)
	}
	if s.DB, err = db.Open(ctx, creds, db.Options{MaxConns: cfg.DBMaxConns, TLSCAFile: cfg.DBTLSCAFile}); err != nil {
		return s, fmt.Errorf("database: %w", err)
	}
	s.closers = append(s.closers, server.Closer{Name: "postgres", Close: s.DB.Close})
	if migrations != nil {
		applied, err := db.Migrate(ctx, s.DB.Pool(), name, migrations, "migrations")
		if err != nil {
			return s, fmt.Errorf("migrations: %w", err)
		}
		log.Info("migrations done", "applied", applied)
	}

	components := []health.Component{{Name: "postgres", Critical: true, Check: s.DB.Ping, Timeout: 500 * time.Millisecond}}
	if rdb != nil {
		s.Redis = rdb
		if err := redisotel.InstrumentTracing(rdb, redisotel.WithDBStatement(false)); err != nil {
			return s, fmt.Errorf("redis tracing: %w", err)
		}
		// Redis only degrades the service: reads fall back to PostgreSQL.
		// That holds for a refused login too; checkRedis logs it, since
		// only the operator can fix it.
		components = append(components, health.Component{Name: "redis", Timeout: 150 * time.Millisecond,
			Check: checkRedis(rdb, log)})
	}
	s.Health = health.New(time.Second, components...)
	s.Health.Started()
	return s, nil
}

// Handler builds the route table's handler with the middleware chain:
// tracing (health probes are not traced), correlation ID, RED metrics,
// then each route's authentication and authorization.
func (s *Service) Handler(routes []Route) http.Handler {
	mux := http.NewServeMux()
	for _, r := range routes {
		var h http.Handler = r.Handler
		if !r.Public {
			h = s.Verifier.Require(r.Need, s.Log, h)
		}
		mux.Handle(r.Pattern, h)
	}
	inner := s.Metrics.Middleware(mux)
	// The span and the correlation ID go into the context together: each
	// r.WithContext copies the request, and this is the hot path.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := telemetry.StartServer(r)
		defer span.End()
		inner.ServeHTTP(w, r.WithContext(correlation.Bind(ctx, w, r)))
	})
}

// Run serves until ctx ends, then shuts down in order.
func (s *Service) Run(ctx context.Context, h http.Handler) error {
	cfg := server.Config{
		Addr:        s.Config.BindHost + ":" + strconv.Itoa(s.Config.HTTPPort),
		MetricsAddr: s.Config.BindHost + ":" + strconv.Itoa(s.Config.MetricsPort),
		DrainDelay:  s.Config.DrainDelay, ShutdownTimeout: s.Config.ShutdownTimeout,
	}
	// Closers run in reverse of opening: pools, then telemetry last.
	closers := make([]server.Closer, 0, len(s.closers))
	for i := len(s.closers) - 1; i >= 0; i-- {
		closers = append(closers, s.closers[i])
	}
	return server.Run(ctx, cfg, h, s.Metrics.Handler(), s.Health, s.Log, closers...)
}

// Main runs a service's command line, with the signal handler installed
// first (so the graceful path always runs):
//
//	<name>           serve (run)
//	<name> migrate   apply the embedded migrations and exit (Migrate)
//
// It exits 1 on error, 2 on an unknown command.
func Main(name string, migrations fs.FS, run func(ctx context.Context, logOut io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	var err error
	switch args := os.Args[1:]; {
	case len(args) == 0:
		err = run(ctx, os.Stdout)
	case len(args) == 1 && args[0] == "migrate":
		err = Migrate(ctx, name, migrations, os.Stdout)
	default:
		stop()
		fmt.Fprintf(os.Stderr, "usage: %s          serve\n       %s migrate  apply the migrations to the database of DB_CREDENTIALS_FILE and exit\n", name, name)
		os.Exit(2)
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// JSON writes v with code.
func JSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = jsonEncode(w, v)
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}
