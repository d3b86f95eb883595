package datastore

import (
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/graph"
)

// Every graph service with postgres: true has exactly one database and one
// owner role; nothing else does.
func TestOneDatabaseAndOwnerPerPostgresService(t *testing.T) {
	g := graph.Default()
	g.Services = append(g.Services, graph.Service{Name: "audit-log", Postgres: true}, graph.Service{Name: "cache-only"})
	dbs := Databases(&g)
	var names []string
	for _, db := range dbs {
		names = append(names, db.Service+"/"+db.Name+"/"+db.Owner)
	}
	want := []string{"order/order/order_owner", "payment/payment/payment_owner", "user/user/user_owner", "audit-log/audit-log/audit_log_owner"}
	if !slices.Equal(names, want) {
		t.Errorf("databases %v, want %v", names, want)
	}
}

func TestProvisionScriptIsIdempotentAndIsolatesEachDatabase(t *testing.T) {
	g := graph.Default()
	script := ProvisionScript(Databases(&g), "bulwark_admin")
	for _, want := range []string{
		`SELECT 'CREATE ROLE "bulwark_admin" LOGIN NOINHERIT CREATEROLE NOSUPERUSER NOCREATEDB NOREPLICATION' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bulwark_admin')\gexec`,
		`ALTER ROLE "bulwark_admin" NOINHERIT;`,
		`SELECT 'CREATE DATABASE "user" OWNER "user_owner"' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'user')\gexec`,
		`REVOKE ALL ON DATABASE "user" FROM PUBLIC;`,
		`GRANT "payment_owner" TO "bulwark_admin" WITH ADMIN OPTION;`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %s:\n%s", want, script)
		}
	}
	if strings.Contains(strings.ToUpper(script), "SUPERUSER ") && !strings.Contains(script, "NOSUPERUSER") {
		t.Error("a role is made superuser")
	}
}
