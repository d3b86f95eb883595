package db

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwark-platform/bulwark/services/internal/platform/secrets"
	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc"
)

func setup(t *testing.T) (*testsvc.Postgres, secrets.DBCredentials, secrets.DBCredentials) {
	t.Helper()
	pg := testsvc.StartPostgres(t)
	pg.Exec(
		"CREATE ROLE app_v1 LOGIN PASSWORD 'one'", "CREATE ROLE app_v2 LOGIN PASSWORD 'two'",
		"CREATE DATABASE app OWNER app_v1",
	)
	pg.Exec("GRANT ALL ON DATABASE app TO app_v2")
	c1 := secrets.DBCredentials{Username: "app_v1", Password: "one", Database: "app", Host: "127.0.0.1", Port: pg.Port}
	c2 := c1
	c2.Username, c2.Password = "app_v2", "two"
	return pg, c1, c2
}

func TestMigrationsApplyOnceUnderConcurrentStartups(t *testing.T) {
	_, c1, _ := setup(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var total atomic.Int32
	for range 4 {
		wg.Go(func() {
			d, err := Open(ctx, c1, Options{MaxConns: 4})
			if err != nil {
				t.Error(err)
				return
			}
			defer d.Close(ctx)
			applied, err := Migrate(ctx, d.Pool(), "items", os.DirFS("testdata"), "migrations")
			if err != nil {
				t.Error(err)
			}
			total.Add(int32(len(applied)))
		})
	}
	wg.Wait()
	if total.Load() != 2 {
		t.Errorf("%d migrations applied across 4 replicas, want each of the 2 exactly once", total.Load())
	}
}

func TestRotationUnderLoadFailsNoQuery(t *testing.T) {
	pg, c1, c2 := setup(t)
	ctx := context.Background()
	d, err := Open(ctx, c1, Options{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	if _, err := Migrate(ctx, d.Pool(), "items", os.DirFS("testdata"), "migrations"); err != nil {
		t.Fatal(err)
	}
	// What Vault's database engine does for a new dynamic role.
	pg.ExecIn("app", "GRANT ALL ON ALL TABLES IN SCHEMA public TO app_v2")

	stop := make(chan struct{})
	var ok, failed atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var n int
				// A slow query that spans the swap.
				err := d.Pool().QueryRow(ctx, "SELECT count(*) FROM items, pg_sleep(0.01)").Scan(&n)
				if err != nil {
					failed.Add(1)
					t.Log(err)
				} else {
					ok.Add(1)
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	if err := d.Rotate(ctx, c2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || ok.Load() < 20 {
		t.Errorf("%d queries failed, %d succeeded across the rotation", failed.Load(), ok.Load())
	}
	var who string
	if err := d.Pool().QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != "app_v2" {
		t.Errorf("after rotation queries run as %q (%v)", who, err)
	}
}

func TestRotationToBadCredentialsKeepsTheOldPool(t *testing.T) {
	_, c1, _ := setup(t)
	ctx := context.Background()
	d, err := Open(ctx, c1, Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	bad := c1
	bad.Password = "wrong"
	if err := d.Rotate(ctx, bad); err == nil {
		t.Fatal("rotated to credentials that can't connect")
	}
	if err := d.Ping(ctx); err != nil {
		t.Errorf("the old pool was lost: %v", err)
	}
}

func TestDSNEscapesThePassword(t *testing.T) {
	got := DSN(secrets.DBCredentials{Username: "u", Password: "p@ss/w:rd?", Database: "d", Host: "h", Port: 5432}, "")
	if got != "postgres://u:p%40ss%2Fw%3Ard%3F@h:5432/d?sslmode=prefer" {
		t.Errorf("DSN = %s", got)
	}
}

// Without DB_TLS_CA_FILE the pool prefers TLS and falls back to plain
// text (today's behaviour); with it, TLS is the only way in, verified
// against that CA for the credentials' host, with no plain-text fallback.
func TestTLSCAFileMakesTheConnectionVerifyFull(t *testing.T) {
	creds := secrets.DBCredentials{Username: "u", Password: "p", Database: "d", Host: "pg.data.svc", Port: 5432}
	if got, want := DSN(creds, "/run/ca/ca.crt"), "postgres://u:p@pg.data.svc:5432/d?sslmode=verify-full&sslrootcert=%2Frun%2Fca%2Fca.crt"; got != want {
		t.Errorf("DSN = %s, want %s", got, want)
	}

	plain, err := Options{MaxConns: 3}.Config(creds)
	if err != nil {
		t.Fatal(err)
	}
	if plain.MaxConns != 3 || plain.ConnConfig.TLSConfig == nil || len(plain.ConnConfig.Fallbacks) != 1 || plain.ConnConfig.Fallbacks[0].TLSConfig != nil {
		t.Errorf("without a CA: max %d, TLS %v, fallbacks %d: want TLS preferred with one plain-text fallback", plain.MaxConns, plain.ConnConfig.TLSConfig != nil, len(plain.ConnConfig.Fallbacks))
	}

	ca := testsvc.NewCA(t)
	cfg, err := Options{TLSCAFile: ca.File}.Config(creds)
	if err != nil {
		t.Fatal(err)
	}
	tc := cfg.ConnConfig.TLSConfig
	if tc == nil || tc.InsecureSkipVerify || tc.ServerName != "pg.data.svc" || tc.RootCAs == nil || !tc.RootCAs.Equal(ca.Pool) {
		t.Errorf("with a CA: %+v, want verification for pg.data.svc against the CA", tc)
	}
	if len(cfg.ConnConfig.Fallbacks) != 0 {
		t.Errorf("with a CA: %d fallbacks, want none (no plain text)", len(cfg.ConnConfig.Fallbacks))
	}

	if _, err := (Options{TLSCAFile: filepath.Join(t.TempDir(), "missing.crt")}).Config(creds); err == nil {
		t.Error("a missing CA file was accepted")
	}
}

// Against a PostgreSQL serving TLS: with the CA (DB_TLS_CA_FILE) every
// connection is TLS, including after a rotation; with another CA nothing
// connects (no fallback to plain text); without one, sslmode=prefer
// still connects.
func TestTLSToARealServer(t *testing.T) {
	pg := testsvc.StartPostgresWith(t, testsvc.PostgresOptions{TLS: true})
	pg.Exec("CREATE ROLE app_v1 LOGIN PASSWORD 'one'", "CREATE ROLE app_v2 LOGIN PASSWORD 'two'", "CREATE DATABASE app OWNER app_v1")
	c1 := secrets.DBCredentials{Username: "app_v1", Password: "one", Database: "app", Host: "127.0.0.1", Port: pg.Port}
	c2 := c1
	c2.Username, c2.Password = "app_v2", "two"
	ctx := context.Background()
	overTLS := func(d *DB) bool {
		t.Helper()
		var ssl bool
		if err := d.Pool().QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil {
			t.Fatal(err)
		}
		return ssl
	}

	d, err := Open(ctx, c1, Options{MaxConns: 2, TLSCAFile: pg.CAFile})
	if err != nil {
		t.Fatalf("with the server's CA: %v", err)
	}
	defer d.Close(ctx)
	if !overTLS(d) {
		t.Error("with the CA, the connection is not TLS")
	}
	if err := d.Rotate(ctx, c2); err != nil {
		t.Fatalf("rotating: %v", err)
	}
	if !overTLS(d) {
		t.Error("after a rotation, the connection is not TLS")
	}

	if _, err := Open(ctx, c1, Options{TLSCAFile: testsvc.NewCA(t).File}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("with another CA: %v, want a certificate error", err)
	}

	plain, err := Open(ctx, c1, Options{MaxConns: 1})
	if err != nil {
		t.Fatalf("without a CA (sslmode=prefer): %v", err)
	}
	plain.Close(ctx)
}

// A query that took the pool just before a rotation and acquires its
// connection just after (a goroutine descheduled between d.Pool() and the
// query) is still served: the superseded pool stays open for
// RetireAfter, then closes, leaving no session of the old role.
func TestAPoolTakenJustBeforeARotationStillServes(t *testing.T) {
	pg, c1, c2 := setup(t)
	ctx := context.Background()
	d, err := Open(ctx, c1, Options{MaxConns: 2, RetireAfter: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	taken := d.Pool()
	if err := d.Rotate(ctx, c2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	var who string
	if err := taken.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != "app_v1" {
		t.Errorf("a query on the pool taken before the rotation ran as %q: %v", who, err)
	}

	super, err := pgx.Connect(ctx, pg.DSN("postgres", testsvc.SuperuserPassword, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		if err := super.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app_v1'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions of the superseded role left 5 s after the rotation", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
