package app

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc"
)

// migrate's errors begin with the step that failed: configuration,
// database, migrations.
func TestMigrateErrorsNameTheStep(t *testing.T) {
	migrations := fstest.MapFS{"migrations/0001_items.sql": {Data: []byte("CREATE TABLE items (id int PRIMARY KEY)")}}
	t.Setenv("DB_CREDENTIALS_FILE", "")
	if err := Migrate(context.Background(), "apptest", migrations, io.Discard); err == nil || !strings.HasPrefix(err.Error(), "configuration: DB_CREDENTIALS_FILE: ") {
		t.Errorf("no credentials file: %v", err)
	}
	t.Setenv("DB_CREDENTIALS_FILE", "/nonexistent/db.json")
	if err := Migrate(context.Background(), "apptest", migrations, io.Discard); err == nil || !strings.HasPrefix(err.Error(), "configuration: DB_CREDENTIALS_FILE: ") {
		t.Errorf("a missing credentials file: %v", err)
	}
	creds := filepath.Join(t.TempDir(), "db.json")
	raw := `{"username":"u","password":"p","database":"d","host":"127.0.0.1","port":` + strconv.Itoa(testsvc.FreePort(t)) + `}`
	if err := os.WriteFile(creds, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DB_CREDENTIALS_FILE", creds)
	t.Setenv("DB_TLS_CA_FILE", creds) // JSON, not a CA
	if err := Migrate(context.Background(), "apptest", migrations, io.Discard); err == nil || !strings.HasPrefix(err.Error(), "configuration: DB_TLS_CA_FILE: "+creds+": no PEM certificate") {
		t.Errorf("a CA file without a certificate: %v", err)
	}
	t.Setenv("DB_TLS_CA_FILE", "")
	if err := Migrate(context.Background(), "apptest", migrations, io.Discard); err == nil || !strings.HasPrefix(err.Error(), "database: d as u: ") {
		t.Errorf("an unreachable database: %v", err)
	}
}

// migrate applies the migrations once, needing nothing but the database
// (no OIDC issuer, no Redis), and names a failing one.
func TestMigrateAppliesOnce(t *testing.T) {
	pg := testsvc.StartPostgres(t)
	pg.Exec("CREATE ROLE app_svc LOGIN PASSWORD 'pw'", "CREATE DATABASE app_db OWNER app_svc")
	t.Setenv("DB_CREDENTIALS_FILE", pg.CredentialsFile(t, "app_db", "app_svc", "pw").Path)
	t.Setenv("OIDC_ISSUER", "")
	t.Setenv("REDIS_ADDR", "")
	migrations := fstest.MapFS{"migrations/0001_items.sql": {Data: []byte("CREATE TABLE items (id int PRIMARY KEY)")}}
	var out bytes.Buffer
	if err := Migrate(context.Background(), "apptest", migrations, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"applied":["0001_items"]`) {
		t.Errorf("first run's log: %s", out.String())
	}
	out.Reset()
	if err := Migrate(context.Background(), "apptest", migrations, &out); err != nil || !strings.Contains(out.String(), `"applied":[]`) {
		t.Errorf("second run: %v, log %s", err, out.String())
	}
	migrations["migrations/0002_bad.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLEX oops")}
	if err := Migrate(context.Background(), "apptest", migrations, io.Discard); err == nil || !strings.HasPrefix(err.Error(), "migrations: 0002_bad.sql: ") {
		t.Errorf("a failing migration: %v", err)
	}
}
