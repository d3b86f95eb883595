package app

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"

	"github.com/bulwark-platform/bulwark/services/internal/platform/correlation"
	"github.com/bulwark-platform/bulwark/services/internal/platform/db"
	"github.com/bulwark-platform/bulwark/services/internal/platform/envconf"
	"github.com/bulwark-platform/bulwark/services/internal/platform/secrets"
)

// MigrateConfig is all `<service> migrate` reads: the database.
type MigrateConfig struct {
	DBCredentialsFile string `env:"DB_CREDENTIALS_FILE,required,notEmpty"`
	// DBTLSCAFile: as the service's (contract.Common), so a migration job
	// reaches the database the way the service does.
	DBTLSCAFile string `env:"DB_TLS_CA_FILE"`
	LogLevel    string `env:"LOG_LEVEL" envDefault:"info"`
}

// Validate checks the log level.
func (c *MigrateConfig) Validate() error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// Migrate applies the service's embedded migrations (the *.sql files of
// migrations' "migrations" folder, as Start does) to the database named
// by DB_CREDENTIALS_FILE, then returns: no OIDC, Redis, telemetry or HTTP.
// It is how a platform runs migrations as a pre-deploy job, and how a
// check runs the services' own migration code as a process. Its error
// begins with the step that failed: "configuration: ...", "database: ...",
// "migrations: ...".
func Migrate(ctx context.Context, name string, migrations fs.FS, logOut io.Writer) error {
	var cfg MigrateConfig
	if err := envconf.Load(&cfg); err != nil {
		return err // "configuration: ..."
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(correlation.LogHandler{Handler: slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: lvl})}).With("service", name)
	raw, err := os.ReadFile(cfg.DBCredentialsFile)
	if err != nil {
		return fmt.Errorf("configuration: DB_CREDENTIALS_FILE: %w", err)
	}
	creds, err := secrets.ParseDB(raw)
	if err != nil {
		return fmt.Errorf("configuration: DB_CREDENTIALS_FILE: %w", err)
	}
	if cfg.DBTLSCAFile != "" {
		if _, err := secrets.ReadCA(cfg.DBTLSCAFile); err != nil {
			return fmt.Errorf("configuration: DB_TLS_CA_FILE: %w", err)
		}
	}
	d, err := db.Open(ctx, creds, db.Options{MaxConns: 1, TLSCAFile: cfg.DBTLSCAFile})
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	defer d.Close(context.WithoutCancel(ctx))
	applied, err := db.Migrate(ctx, d.Pool(), name, migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if applied == nil {
		applied = []string{}
	}
	log.Info("migrations done", "database", creds.Database, "user", creds.Username, "applied", applied)
	return nil
}
