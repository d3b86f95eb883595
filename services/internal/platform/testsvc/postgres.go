package testsvc

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwark-platform/bulwark/services/internal/platform/secrets"
)

// Postgres is a throwaway PostgreSQL server.
type Postgres struct {
	Port int
	// CAFile is the CA certificate (PEM) the server's certificate chains
	// to, when it serves TLS (PostgresOptions.TLS).
	CAFile string
	tls    bool
	dir    string
	cmd    *exec.Cmd
	cred   *syscall.Credential
	t      testing.TB
}

// SuperuserPassword is the test server's superuser password.
const SuperuserPassword = "postgres-test"

func pgBinary(name string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) > 0 {
		return matches[len(matches)-1], true
	}
	return "", false
}

// PostgresOptions configure StartPostgresWith.
type PostgresOptions struct {
	// TLS turns ssl on, with a certificate for 127.0.0.1 and localhost
	// from a fresh CA (Postgres.CAFile). Plain text stays allowed, as
	// sslmode=prefer clients and the test's own connections use it.
	TLS bool
}

// StartPostgres initialises and starts a PostgreSQL server on a free
// loopback port with password (SCRAM) authentication; it stops with the
// test. As root (CI), it runs as the postgres user, as PostgreSQL insists.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	return StartPostgresWith(t, PostgresOptions{})
}

// StartPostgresWith is StartPostgres configured by o.
func StartPostgresWith(t testing.TB, o PostgresOptions) *Postgres {
	t.Helper()
	initdb, ok1 := pgBinary("initdb")
	_, ok2 := pgBinary("postgres")
	if !ok1 || !ok2 {
		t.Skip("PostgreSQL is not installed (apt-get install postgresql; .ci/run does)")
	}
	p := &Postgres{Port: FreePort(t), t: t, tls: o.TLS}
	dir, err := os.MkdirTemp("", "bulwark-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root without a postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(SuperuserPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	if p.cred != nil {
		_ = os.Chown(pwfile, int(p.cred.Uid), int(p.cred.Gid))
	}
	if o.TLS {
		// The server reads its key as itself, and refuses one others can read.
		ca := NewCA(t)
		p.CAFile = ca.File
		cert, key := ca.Issue(t, "127.0.0.1", "localhost")
		for src, dst := range map[string]string{cert: "server.crt", key: "server.key"} {
			raw, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, dst), raw, 0o600); err != nil {
				t.Fatal(err)
			}
			if p.cred != nil {
				_ = os.Chown(filepath.Join(dir, dst), int(p.cred.Uid), int(p.cred.Gid))
			}
		}
	}
	data := filepath.Join(dir, "data")
	p.run(initdb, "-D", data, "-U", "postgres", "--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

func (p *Postgres) run(bin string, args ...string) {
	p.t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%s: %v\n%s", filepath.Base(bin), err, out)
	}
}

// Start starts the server and waits until it accepts connections.
func (p *Postgres) Start() {
	p.t.Helper()
	bin, _ := pgBinary("postgres")
	args := []string{"-D", filepath.Join(p.dir, "data"), "-p", strconv.Itoa(p.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + p.dir,
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200"}
	if p.tls {
		args = append(args, "-c", "ssl=on", "-c", "ssl_cert_file="+filepath.Join(p.dir, "server.crt"),
			"-c", "ssl_key_file="+filepath.Join(p.dir, "server.key"))
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("starting postgres: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(context.Background(), p.DSN("postgres", SuperuserPassword, "postgres"))
		if err == nil {
			conn.Close(context.Background())
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("postgres on port %d never accepted connections: %v", p.Port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop stops the server (fast shutdown).
func (p *Postgres) Stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGINT)
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// DSN for user and database on this server.
func (p *Postgres) DSN(user, password, database string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", user, password, p.Port, database)
}

// Exec runs statements as the superuser in the postgres database.
func (p *Postgres) Exec(stmts ...string) { p.t.Helper(); p.ExecIn("postgres", stmts...) }

// ExecIn runs statements as the superuser in database.
func (p *Postgres) ExecIn(database string, stmts ...string) {
	p.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, p.DSN("postgres", SuperuserPassword, database))
	if err != nil {
		p.t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			p.t.Fatalf("%s: %v", s, err)
		}
	}
}

// CredentialsFile is a database credentials file as the services read it
// from DB_CREDENTIALS_FILE (the shape the Vault agent template renders:
// secrets.DBCredentials as JSON).
type CredentialsFile struct {
	Path     string
	pg       *Postgres
	database string
	t        testing.TB
}

// CredentialsFile writes credentials for user on database into a file of
// the test's temp folder.
func (p *Postgres) CredentialsFile(t testing.TB, database, user, password string) *CredentialsFile {
	t.Helper()
	c := &CredentialsFile{Path: filepath.Join(t.TempDir(), database+".json"), pg: p, database: database, t: t}
	c.Rotate(user, password)
	return c
}

// Rotate replaces the file's content atomically (write, then rename), as
// a secrets agent does, so a reader never sees half a file.
func (c *CredentialsFile) Rotate(user, password string) {
	c.t.Helper()
	raw, err := json.Marshal(secrets.DBCredentials{Username: user, Password: password, Database: c.database, Host: "127.0.0.1", Port: c.pg.Port})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(c.Path+".tmp", raw, 0o600); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(c.Path+".tmp", c.Path); err != nil {
		c.t.Fatal(err)
	}
}
