package datastore

import (
	"errors"
	"slices"
	"strings"
	"testing"

	cnpgv1 "github.com/cloudnative-pg/cloudnative-pg/api/v1"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
)

func compileEnv(t *testing.T, env config.Environment, mutate func(*config.Config)) Set {
	t.Helper()
	cfg := config.Defaults(env)
	if mutate != nil {
		mutate(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := Compile(&cfg.Graph, cfg.Data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Every service with postgres: true has exactly one CNPG Database, owned
// by its owner role, in the cluster its topology puts it in, and that
// role is managed by the cluster; nothing else has a database.
func TestEachPostgresServiceHasOneDatabaseAndOwner(t *testing.T) {
	for _, env := range []config.Environment{config.Dev, config.Staging, config.Prod} {
		cfg := config.Defaults(env)
		s := compileEnv(t, env, nil)
		var want []string
		for _, svc := range cfg.Graph.Services {
			if svc.Postgres {
				want = append(want, svc.Name)
			}
		}
		var got []string
		for _, db := range s.Postgres.Databases {
			got = append(got, db.Spec.Name)
			if db.Spec.Owner != OwnerRole(db.Spec.Name) {
				t.Errorf("%s: database %s owned by %s", env, db.Spec.Name, db.Spec.Owner)
			}
			cluster := ClusterName(db.Spec.Name, cfg.Data.Postgres.Topology)
			if db.Spec.ClusterRef.Name != cluster {
				t.Errorf("%s: database %s in cluster %s, want %s", env, db.Spec.Name, db.Spec.ClusterRef.Name, cluster)
			}
			i := slices.IndexFunc(s.Postgres.Clusters, func(c Cluster) bool { return c.Name == cluster })
			if i < 0 || !slices.ContainsFunc(s.Postgres.Clusters[i].Spec.Managed.Roles, func(r cnpgv1.RoleConfiguration) bool { return r.Name == db.Spec.Owner && r.Login && !r.Superuser }) {
				t.Errorf("%s: cluster %s does not manage the owner role %s", env, cluster, db.Spec.Owner)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: databases %v, want one per PostgreSQL service %v", env, got, want)
		}
	}
}

// prod: a cluster per service, at least three instances, a commit confirmed
// by a standby, backups with WAL archiving kept 30 days, zones required;
// Redis with replicas and Sentinel.
func TestProdIsRedundantAndBackedUp(t *testing.T) {
	s := compileEnv(t, config.Prod, nil)
	if len(s.Postgres.Clusters) != 3 {
		t.Fatalf("%d clusters, want one per service", len(s.Postgres.Clusters))
	}
	for _, c := range s.Postgres.Clusters {
		sp := c.Spec
		if sp.Instances < 3 || sp.PostgresConfiguration.Synchronous == nil || sp.PostgresConfiguration.Synchronous.Number < 1 {
			t.Errorf("%s: %d instances, synchronous %+v", c.Name, sp.Instances, sp.PostgresConfiguration.Synchronous)
		}
		if sp.Backup == nil || sp.Backup.BarmanObjectStore == nil || sp.Backup.BarmanObjectStore.Wal == nil || sp.Backup.RetentionPolicy != "30d" {
			t.Errorf("%s: backup %+v", c.Name, sp.Backup)
		}
		if sp.Affinity.PodAntiAffinityType != "required" {
			t.Errorf("%s: instances may share a zone", c.Name)
		}
	}
	if len(s.Postgres.ScheduledBackups) != 3 {
		t.Errorf("%d scheduled backups, want one per cluster", len(s.Postgres.ScheduledBackups))
	}
	r := s.Redis.Values.Replica
	if !r.Enabled || r.Replicas < 2 || !r.Sentinel.Enabled || r.MinReplicasToWrite < 1 {
		t.Errorf("Redis replication %+v", r)
	}
}

// No store without authentication or TLS outside local: installed
// PostgreSQL serves the private CA's certificate, no superuser logs in from
// outside, Redis has ACL users and TLS, the application user may not list
// or wipe keys; external stores outside local and ci require TLS.
func TestNoStoreWithoutAuthenticationOrTLS(t *testing.T) {
	for _, env := range []config.Environment{config.Dev, config.Staging, config.Prod} {
		s := compileEnv(t, env, nil)
		for _, c := range s.Postgres.Clusters {
			if c.Spec.Certificates == nil || c.Spec.Certificates.ServerTLSSecret == "" ||
				!slices.ContainsFunc(s.Certificates, func(cert Certificate) bool { return cert.SecretName == c.Spec.Certificates.ServerTLSSecret }) {
				t.Errorf("%s: cluster %s without a certificate of the private CA", env, c.Name)
			}
			if c.Spec.EnableSuperuserAccess == nil || *c.Spec.EnableSuperuserAccess {
				t.Errorf("%s: cluster %s lets the superuser log in", env, c.Name)
			}
			for _, role := range c.Spec.Managed.Roles {
				if role.Superuser || role.PasswordSecret == nil {
					t.Errorf("%s: role %s is a superuser or has no password secret", env, role.Name)
				}
			}
		}
		v := s.Redis.Values
		if !v.Auth.Enabled || !v.TLS.Enabled || v.Auth.UsersExistingSecret == "" {
			t.Errorf("%s: Redis auth %v tls %v", env, v.Auth.Enabled, v.TLS.Enabled)
		}
		app := v.Auth.ACLUsers[RedisAppUser].Permissions
		for _, refused := range []string{"-@dangerous", "-keys", "-flushall"} {
			if !strings.Contains(app, refused) {
				t.Errorf("%s: the application user's ACL %q lacks %s", env, app, refused)
			}
		}
	}
	cfg := config.Defaults(config.Dev)
	cfg.Data.Redis.Install = false
	cfg.Data.Redis.External = config.External{Host: "redis.example.com", Port: 6379, CIDR: "10.0.0.0/8", TLS: false}
	if err := cfg.Validate(); !errors.Is(err, fielderr.ErrForbidden) || !strings.Contains(err.Error(), "bulwark:data.redis.external.tls") {
		t.Errorf("an external Redis without TLS in dev: %v", err)
	}
}

// A shared cluster holds every database; an external PostgreSQL gets no
// CNPG object at all.
func TestTopologies(t *testing.T) {
	s := compileEnv(t, config.Dev, nil)
	if len(s.Postgres.Clusters) != 1 || s.Postgres.Clusters[0].Name != SharedCluster || len(s.Postgres.Databases) != 3 {
		t.Errorf("shared: %d clusters, %d databases", len(s.Postgres.Clusters), len(s.Postgres.Databases))
	}
	s = compileEnv(t, config.CI, nil)
	if s.Postgres != nil || s.Redis != nil || len(s.Certificates) != 0 || len(s.Databases) != 3 {
		t.Errorf("external stores compiled objects: %+v", s)
	}
}
