package localstores

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwark-platform/bulwark/internal/harness/proc"
)

// pgHBA allows SCRAM passwords over loopback TCP, for databases and for
// replication (the restore drill's pg_basebackup); nothing else. There is
// no Unix socket (unix_socket_directories is empty), hence no local line.
const pgHBA = `# Written by Bulwark's local stores (internal/harness/localstores) at each start.
# TYPE  DATABASE     USER  ADDRESS        METHOD
host    all          all   127.0.0.1/32   scram-sha-256
host    replication  all   127.0.0.1/32   scram-sha-256
`

// pgArgs are the server's settings. They are on its command line, not in
// its files, so that every start sets them whatever its data folder holds,
// and a copy restored from a base backup starts with its own port.
func pgArgs(data string, port int) []string {
	return []string{
		"-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "password_encryption=scram-sha-256",
		"-c", "wal_level=replica", "-c", "max_wal_senders=4",
		"-c", "max_connections=100",
		"-c", "log_destination=stderr", "-c", "logging_collector=off",
	}
}

// pgEnv is the environment of PostgreSQL's programs: the caller's without
// PG* variables, which would override what the harness passes.
func pgEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// startPostgres starts the store's PostgreSQL on a free port, creating
// its data folder first if it has none.
func (s *Stores) startPostgres(ctx context.Context, previousPort int) error {
	sd := s.stateDir()
	// A process recorded but not serving (or a stale pid file).
	if err := proc.Stop(sd, PostgresProcess, syscall.SIGINT, 30*time.Second); err != nil {
		return err
	}
	run, err := postgresUser()
	if err != nil {
		return err
	}
	pw, err := password(s.PostgresPasswordFile)
	if err != nil {
		return err
	}
	if err := run.letReach(s.dir, s.log); err != nil {
		return err
	}
	data := s.pgData()
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := s.initdb(ctx, run, pw); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	hba := filepath.Join(data, "pg_hba.conf")
	if err := os.WriteFile(hba, []byte(pgHBA), 0o600); err != nil {
		return err
	}
	if err := run.own(hba); err != nil {
		return err
	}
	p, err := port(previousPort)
	if err != nil {
		return err
	}
	s.Postgres = Endpoint{Host: "127.0.0.1", Port: p}
	s.logf("starting PostgreSQL (%s) on %s", filepath.Base(filepath.Dir(s.bins.PostgresBinDir)), s.Postgres.Address())
	if err := proc.Start(sd, proc.Spec{
		Name: PostgresProcess, Path: s.bins.pg("postgres"), Args: pgArgs(data, s.Postgres.Port),
		Dir: data, Env: pgEnv(), Credential: run.cred,
	}); err != nil {
		return err
	}
	return waitFor(ctx, sd, PostgresProcess, 60*time.Second, func(ctx context.Context) error {
		c, err := s.connect(ctx, s.Postgres, PostgresSuperuser, pw, "postgres")
		if err == nil {
			c.Close(ctx)
		}
		return err
	})
}

// initdb creates the data folder, owned by the user PostgreSQL runs as,
// with the superuser's password.
func (s *Stores) initdb(ctx context.Context, run runAs, pw string) error {
	data := s.pgData()
	s.logf("creating the PostgreSQL data folder %s", data)
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	if entries, err := os.ReadDir(data); err != nil {
		return err
	} else if len(entries) > 0 {
		return fmt.Errorf("%s holds files but no PG_VERSION: not a PostgreSQL data folder (remove it to start afresh)", data)
	}
	if err := run.own(data); err != nil {
		return err
	}
	pwfile := filepath.Join(s.dir, ".initdb-password")
	if err := os.WriteFile(pwfile, []byte(pw), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	if err := run.own(pwfile); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, s.bins.pg("initdb"), "-D", data, "-U", PostgresSuperuser, "--pwfile="+pwfile,
		"--auth=scram-sha-256", "-E", "UTF8", "--locale=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: run.cred}
	cmd.Dir = "/"
	cmd.Env = pgEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}

// dsn is a connection string to e.
func dsn(e Endpoint, user, password, database string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: e.Address(), Path: "/" + database,
		RawQuery: "sslmode=disable&connect_timeout=10"}
	return u.String()
}

func (s *Stores) connect(ctx context.Context, e Endpoint, user, password, database string) (*pgx.Conn, error) {
	return pgx.Connect(ctx, dsn(e, user, password, database))
}

// Superuser connects to database as the superuser.
func (s *Stores) Superuser(ctx context.Context, database string) (*pgx.Conn, error) {
	pw, err := os.ReadFile(s.PostgresPasswordFile)
	if err != nil {
		return nil, err
	}
	return s.connect(ctx, s.Postgres, PostgresSuperuser, strings.TrimSpace(string(pw)), database)
}

// DSN is a connection string for user with password to database on the
// store.
func (s *Stores) DSN(user, password, database string) string {
	return dsn(s.Postgres, user, password, database)
}

// Psql runs script with psql -v ON_ERROR_STOP=1 as the superuser in
// database and returns its output.
func (s *Stores) Psql(ctx context.Context, database, script string) (string, error) {
	pw, err := os.ReadFile(s.PostgresPasswordFile)
	if err != nil {
		return "", err
	}
	// A password file rather than PGPASSWORD, which other users could
	// read in the process's environment on some systems.
	pgpass := filepath.Join(s.credentialsDir(), "pgpass")
	line := fmt.Sprintf("%s:*:*:%s:%s\n", s.Postgres.Host, PostgresSuperuser, strings.TrimSpace(string(pw)))
	if cur, err := os.ReadFile(pgpass); err != nil || string(cur) != line {
		if err := proc.WriteFile(pgpass, line, 0o600); err != nil {
			return "", err
		}
	}
	cmd := exec.CommandContext(ctx, s.bins.pg("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-w",
		"-h", s.Postgres.Host, "-p", strconv.Itoa(s.Postgres.Port), "-U", PostgresSuperuser, "-d", database, "-f", "-")
	cmd.Env = pgEnv("PGPASSFILE="+pgpass, "PGCONNECT_TIMEOUT=10", "PGSSLMODE=disable")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("psql: %w\n%s", err, out)
	}
	return string(out), nil
}

// ident quotes a PostgreSQL identifier; literal a string.
func ident(s string) string   { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
