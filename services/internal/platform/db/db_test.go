package db

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
			d, err := Open(ctx, c1, 4)
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
	d, err := Open(ctx, c1, 8)
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
	d, err := Open(ctx, c1, 2)
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
	got := DSN(secrets.DBCredentials{Username: "u", Password: "p@ss/w:rd?", Database: "d", Host: "h", Port: 5432})
	if got != "postgres://u:p%40ss%2Fw%3Ard%3F@h:5432/d?sslmode=prefer" {
		t.Errorf("DSN = %s", got)
	}
}
