// Package db holds a service's PostgreSQL pool (pgx). When the database
// credentials rotate, a new pool is opened and checked, then swapped in;
// the old pool keeps serving for a short grace (a query that took it just
// before the swap), then closes once its in-flight queries are done, so a
// rotation fails no request. Migrations embedded in the service are
// applied at start-up under an advisory lock, so replicas starting
// together apply each exactly once.
package db

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bulwark-platform/bulwark/services/internal/platform/secrets"
)

// DB is a swappable pool.
type DB struct {
	pool atomic.Pointer[pgxpool.Pool]
	opts Options
}

// Options are a pool's settings besides the credentials.
type Options struct {
	// MaxConns bounds the pool (pgx's default when 0).
	MaxConns int32
	// TLSCAFile, when set, is a PEM bundle: the server must present a
	// certificate it signed for the credentials' host (sslmode=verify-full).
	// pgx reads it on every connect, so a new CA is picked up at the next
	// credential rotation. Empty keeps sslmode=prefer: TLS when the server
	// offers it, unverified, for a database on the same trusted network.
	TLSCAFile string
	// RetireAfter is how long a pool superseded by a rotation still hands
	// out connections (1 s when 0); see Rotate.
	RetireAfter time.Duration
}

// DSN builds a connection string from credentials; the password is
// escaped, never logged. With tlsCAFile set the connection must be TLS
// verified against that CA for the credentials' host.
func DSN(c secrets.DBCredentials, tlsCAFile string) string {
	q := url.Values{"sslmode": {"prefer"}}
	if tlsCAFile != "" {
		q = url.Values{"sslmode": {"verify-full"}, "sslrootcert": {tlsCAFile}}
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(c.Username, c.Password),
		Host:     net.JoinHostPort(c.Host, strconv.Itoa(c.Port)),
		Path:     "/" + c.Database,
		RawQuery: q.Encode(),
	}
	return u.String()
}

// Open connects with creds and checks the connection. Its errors, like
// Migrate's, don't repeat the step: the caller names it.
func Open(ctx context.Context, c secrets.DBCredentials, o Options) (*DB, error) {
	d := &DB{opts: o}
	p, err := d.connect(ctx, c)
	if err != nil {
		return nil, err
	}
	d.pool.Store(p)
	return d, nil
}

// Config is the pool configuration for c: what connect opens.
func (o Options) Config(c secrets.DBCredentials) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(DSN(c, o.TLSCAFile))
	if err != nil {
		return nil, err
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	cfg.MaxConnLifetime = 30 * time.Minute
	// Spans for every query; statements only (never parameters, which may
	// carry personal or payment data).
	cfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTrimSQLInSpanName())
	return cfg, nil
}

func (d *DB) connect(ctx context.Context, c secrets.DBCredentials) (*pgxpool.Pool, error) {
	cfg, err := d.opts.Config(c)
	if err != nil {
		return nil, fmt.Errorf("%s as %s: %w", c.Database, c.Username, err)
	}
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s as %s: %w", c.Database, c.Username, err)
	}
	if err := p.Ping(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("%s as %s: %w", c.Database, c.Username, err)
	}
	return p, nil
}

// Pool is the current pool; take it per query, never keep it.
func (d *DB) Pool() *pgxpool.Pool { return d.pool.Load() }

// Rotate switches to new credentials. The new pool must connect first;
// if it can't, the old one stays and the error is returned.
func (d *DB) Rotate(ctx context.Context, c secrets.DBCredentials) error {
	p, err := d.connect(ctx, c)
	if err != nil {
		return fmt.Errorf("rotating credentials (keeping the old pool): %w", err)
	}
	old := d.pool.Swap(p)
	// A query may have taken the old pool just before the swap and not yet
	// acquired its connection (Pool, then QueryRow, with the goroutine
	// descheduled in between): a closed pool would refuse it. So the old
	// pool retires after a grace, well within the old lease (the agent
	// fetches new credentials with a tenth of the lease or more left);
	// Close then blocks until every acquired connection is released, so
	// queries in flight on the old pool finish there.
	time.AfterFunc(d.opts.retireAfter(), old.Close)
	return nil
}

func (o Options) retireAfter() time.Duration {
	if o.RetireAfter > 0 {
		return o.RetireAfter
	}
	return time.Second
}

// Ping checks the database (readiness).
func (d *DB) Ping(ctx context.Context) error { return d.Pool().Ping(ctx) }

// Close closes the current pool.
func (d *DB) Close(context.Context) error {
	d.Pool().Close()
	return nil
}

// Migrate applies the *.sql files of dir in fsys in name order, each once,
// in its own transaction, under a session advisory lock keyed by service.
func Migrate(ctx context.Context, pool *pgxpool.Pool, service string, fsys fs.FS, dir string) ([]string, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquiring a connection: %w", err)
	}
	defer conn.Release()
	h := fnv.New64a()
	h.Write([]byte("bulwark-migrations:" + service))
	key := int64(h.Sum64())
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return nil, fmt.Errorf("taking the lock: %w", err)
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key) }()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("creating schema_migrations: %w", err)
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	var applied []string
	for _, name := range names {
		version := strings.TrimSuffix(name, ".sql")
		var done bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", version).Scan(&done); err != nil {
			return applied, fmt.Errorf("%s: %w", name, err)
		}
		if done {
			continue
		}
		sql, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return applied, fmt.Errorf("%s: %w", name, err)
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", version)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("%s: %w", name, err)
		}
		applied = append(applied, version)
	}
	return applied, nil
}

// ErrNotFound is returned by stores for a missing row.
var ErrNotFound = errors.New("not found")
