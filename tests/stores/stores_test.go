// Package stores checks the local cluster's data stores for real: the
// PostgreSQL and Redis processes of package localstores in a private state
// folder, provisioned from the default graph's data model, the services'
// own `migrate` commands run as processes against them, the isolation the
// roles promise, Redis's users, and the restore drill.
//
// It runs when BULWARK_INTEGRATION=1 (make test sets it) and skips,
// saying so, when PostgreSQL or redis-server is not installed.
package stores

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-platform/bulwark/infra/datastore"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/internal/harness/localstores"
)

// managementRole is the default configuration's.
const managementRole = "bulwark_admin"

// tables are what each service's migrations create.
var tables = map[string][]string{
	"user":    {"schema_migrations", "users"},
	"order":   {"schema_migrations", "orders"},
	"payment": {"payments", "schema_migrations"},
}

func TestLocalStores(t *testing.T) {
	if os.Getenv("BULWARK_INTEGRATION") != "1" {
		t.Skip("local stores check: set BULWARK_INTEGRATION=1 (make test does)")
	}
	if _, err := localstores.FindBinaries(); err != nil {
		t.Skipf("local stores check: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	state := filepath.Join(t.TempDir(), "cluster")
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{localstores.PostgresProcess, localstores.RedisProcess} {
				raw, _ := os.ReadFile(filepath.Join(state, "logs", name+".log"))
				lines := strings.Split(string(raw), "\n")
				t.Logf("--- tail of %s.log ---\n%s", name, strings.Join(lines[max(0, len(lines)-15):], "\n"))
			}
		}
		assert.NoError(t, localstores.Down(state))
	})
	st, err := localstores.Up(ctx, localstores.Options{StateDir: state, Log: t.Logf})
	require.NoError(t, err)

	g := graph.Default()
	dbs := datastore.Databases(&g)
	require.NotEmpty(t, dbs)
	creds := provisionTwice(t, ctx, st, dbs)

	t.Run("each service's migrate creates its tables, owned by its owner role", func(t *testing.T) {
		bin := t.TempDir()
		for _, db := range dbs {
			t.Run(db.Service, func(t *testing.T) {
				exe := filepath.Join(bin, db.Service)
				build := exec.CommandContext(ctx, "go", "build", "-o", exe, "./services/"+db.Service)
				build.Dir = filepath.Join("..", "..")
				out, err := build.CombinedOutput()
				require.NoError(t, err, "go build ./services/%s:\n%s", db.Service, out)
				file := filepath.Join(t.TempDir(), "db.json")
				raw, err := json.Marshal(creds[db.Service])
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(file, raw, 0o600))
				for run := 1; run <= 2; run++ {
					// Only the database: no OIDC issuer, Redis or ports.
					cmd := exec.CommandContext(ctx, exe, "migrate")
					cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DB_CREDENTIALS_FILE=" + file}
					out, err := cmd.CombinedOutput()
					require.NoError(t, err, "%s migrate (run %d):\n%s", db.Service, run, out)
					assert.Contains(t, string(out), `"msg":"migrations done"`)
				}
				conn := superuser(t, ctx, st, db.Name)
				rows, err := conn.Query(ctx, "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
				require.NoError(t, err)
				owners := map[string]string{}
				var names []string
				for rows.Next() {
					var name, owner string
					require.NoError(t, rows.Scan(&name, &owner))
					owners[name] = owner
					names = append(names, name)
				}
				require.NoError(t, rows.Err())
				for _, want := range tables[db.Service] {
					assert.Contains(t, names, want)
				}
				for name, owner := range owners {
					assert.Equal(t, db.Owner, owner, "owner of %s.%s", db.Name, name)
				}
			})
		}
	})

	t.Run("a service's owner role reaches only its own database", func(t *testing.T) {
		user := creds["user"]
		for _, other := range []string{"order", "payment"} {
			_, err := pgx.Connect(ctx, st.DSN(user.Username, user.Password, other))
			assertSQLState(t, err, "42501", "user_owner connecting to the %s database", other)
		}
		conn := superuser(t, ctx, st, "payment")
		var canRead bool
		require.NoError(t, conn.QueryRow(ctx, "SELECT has_table_privilege($1, 'public.payments', 'SELECT')", user.Username).Scan(&canRead))
		assert.False(t, canRead, "user_owner may read payment's payments table")
		own, err := pgx.Connect(ctx, st.DSN(user.Username, user.Password, "user"))
		require.NoError(t, err, "user_owner connecting to its own database")
		own.Close(ctx)
	})

	t.Run("the management role creates roles in the owner roles, but is no superuser and can't connect to a service's database", func(t *testing.T) {
		mgmt, err := st.RoleCredentials(managementRole, "postgres")
		require.NoError(t, err)
		conn, err := pgx.Connect(ctx, st.DSN(mgmt.Username, mgmt.Password, "postgres"))
		require.NoError(t, err)
		defer conn.Close(ctx)
		var super bool
		require.NoError(t, conn.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super))
		assert.False(t, super)
		_, err = conn.Exec(ctx, `CREATE ROLE "v-order-drill" LOGIN IN ROLE order_owner`)
		require.NoError(t, err, "CREATE ROLE ... IN ROLE order_owner as the management role")
		_, err = conn.Exec(ctx, `DROP ROLE "v-order-drill"`)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, `CREATE ROLE not_allowed SUPERUSER`)
		assertSQLState(t, err, "42501", "the management role creating a superuser")
		for _, db := range dbs {
			_, err := pgx.Connect(ctx, st.DSN(mgmt.Username, mgmt.Password, db.Name))
			assertSQLState(t, err, "42501", "the management role connecting to the %s database", db.Name)
		}
	})

	t.Run("Redis refuses unauthenticated clients and the app user's dangerous commands", func(t *testing.T) {
		_, err := localstores.RedisCommand(ctx, st.Redis, "", "", "PING")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "NOAUTH")
		app := readFile(t, st.RedisAppPasswordFile)
		_, err = localstores.RedisCommand(ctx, st.Redis, localstores.RedisAppUser, "wrong", "PING")
		require.Error(t, err, "a wrong password")
		v, err := localstores.RedisCommand(ctx, st.Redis, localstores.RedisAppUser, app, "SET", "drill:k", "v")
		require.NoError(t, err)
		assert.Equal(t, "OK", v)
		v, err = localstores.RedisCommand(ctx, st.Redis, localstores.RedisAppUser, app, "GET", "drill:k")
		require.NoError(t, err)
		assert.Equal(t, "v", v)
		for _, cmd := range [][]string{{"KEYS", "*"}, {"FLUSHALL"}, {"FLUSHDB"}, {"CONFIG", "GET", "dir"}, {"INFO"}} {
			_, err := localstores.RedisCommand(ctx, st.Redis, localstores.RedisAppUser, app, cmd...)
			if assert.Error(t, err, "app user: %v", cmd) {
				assert.Contains(t, err.Error(), "NOPERM", "app user: %v", cmd)
			}
		}
		// The harness's user may (INFO is @dangerous), and Redis persists.
		v, err = localstores.RedisCommand(ctx, st.Redis, localstores.RedisHarnessUser, readFile(t, st.RedisPasswordFile), "INFO", "persistence")
		require.NoError(t, err, "the harness user")
		assert.Contains(t, v, "aof_enabled:1")
	})

	t.Run("the restore drill restores identical data", func(t *testing.T) {
		res, err := st.RestoreDrill(ctx, localstores.DrillOptions{})
		require.NoError(t, err)
		t.Log(res)
		assert.EqualValues(t, 5000, res.Original.Rows)
		assert.Len(t, res.Original.Checksum, 32)
		assert.Equal(t, res.Original, res.Restored)
		assert.Positive(t, res.BackupBytes)
	})

	t.Run("the restore drill detects a restore that differs", func(t *testing.T) {
		res, err := st.RestoreDrill(ctx, localstores.DrillOptions{Rows: 1000,
			AfterBackup: func(ctx context.Context, original *pgx.Conn) error {
				_, err := original.Exec(ctx, "UPDATE drill_rows SET amount_cents = amount_cents + 1 WHERE id = 500")
				return err
			}})
		require.ErrorIs(t, err, localstores.ErrRestoreDiffers)
		require.NotNil(t, res)
		assert.Equal(t, res.Original.Rows, res.Restored.Rows)
		assert.NotEqual(t, res.Original.Checksum, res.Restored.Checksum)
		assert.Contains(t, res.String(), "DIFFERENT")
	})

	t.Run("stopped stores resume with their data and credentials", func(t *testing.T) {
		require.NoError(t, localstores.Down(state))
		require.False(t, localstores.Running(state))
		again, err := localstores.Up(ctx, localstores.Options{StateDir: state, Log: t.Logf})
		require.NoError(t, err)
		st = again
		order, err := st.RoleCredentials(datastore.OwnerRole("order"), "order")
		require.NoError(t, err)
		conn, err := pgx.Connect(ctx, st.DSN(order.Username, order.Password, order.Database))
		require.NoError(t, err)
		defer conn.Close(ctx)
		var n int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n))
		assert.Positive(t, n, "the order database's migrations are kept")
		v, err := localstores.RedisCommand(ctx, st.Redis, localstores.RedisAppUser, readFile(t, st.RedisAppPasswordFile), "GET", "drill:k")
		require.NoError(t, err)
		assert.Equal(t, "v", v, "Redis kept its data (append-only file)")
		// Up again, running: the same stores.
		same, err := localstores.Up(ctx, localstores.Options{StateDir: state})
		require.NoError(t, err)
		assert.Equal(t, st.Postgres, same.Postgres)
		assert.Equal(t, st.Redis, same.Redis)
	})
}

// provisionTwice provisions the stores twice and checks that the second
// run changes no role, database or password, then returns the owners'
// credentials.
func provisionTwice(t *testing.T, ctx context.Context, st *localstores.Stores, dbs []datastore.Database) map[string]localstores.Credentials {
	t.Helper()
	creds, err := st.Provision(ctx, dbs, managementRole)
	require.NoError(t, err)
	before := catalog(t, ctx, st)
	rolesFile := readFile(t, st.RolesFile)
	again, err := st.Provision(ctx, dbs, managementRole)
	require.NoError(t, err)
	assert.Equal(t, creds, again, "the second provisioning's credentials")
	assert.Equal(t, before, catalog(t, ctx, st), "the second provisioning changed the catalog")
	assert.Equal(t, rolesFile, readFile(t, st.RolesFile), "the second provisioning changed the stored passwords")
	fi, err := os.Stat(st.RolesFile)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	for _, db := range dbs {
		require.Contains(t, creds, db.Service)
		assert.Equal(t, db.Owner, creds[db.Service].Username)
	}
	return creds
}

// catalog is the roles (with their password verifiers and attributes),
// memberships and databases (with their ACLs).
func catalog(t *testing.T, ctx context.Context, st *localstores.Stores) []string {
	t.Helper()
	conn := superuser(t, ctx, st, "postgres")
	var out []string
	for _, q := range []string{
		`SELECT rolname || ' ' || rolsuper || rolcreaterole || rolcreatedb || rolreplication || rolcanlogin || rolinherit || ' ' || coalesce(rolpassword, '') FROM pg_authid ORDER BY rolname`,
		`SELECT r.rolname || ' in ' || g.rolname || ' admin ' || m.admin_option FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member JOIN pg_roles g ON g.oid = m.roleid ORDER BY 1`,
		`SELECT datname || ' ' || pg_get_userbyid(datdba) || ' ' || coalesce(datacl::text, '') FROM pg_database ORDER BY datname`,
	} {
		rows, err := conn.Query(ctx, q)
		require.NoError(t, err)
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out = append(out, s)
		}
		require.NoError(t, rows.Err())
	}
	return out
}

func superuser(t *testing.T, ctx context.Context, st *localstores.Stores, database string) *pgx.Conn {
	t.Helper()
	conn, err := st.Superuser(ctx, database)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// assertSQLState checks that err is a PostgreSQL error with code.
func assertSQLState(t *testing.T, err error, code string, format string, args ...any) {
	t.Helper()
	what := fmt.Sprintf(format, args...)
	var pgErr *pgconn.PgError
	if assert.Error(t, err, what) && assert.True(t, errors.As(err, &pgErr), "%s: want a PostgreSQL error, got %v", what, err) {
		assert.Equal(t, code, pgErr.Code, "%s: %v", what, err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.TrimSpace(string(raw))
}
