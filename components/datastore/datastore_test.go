package datastore

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bulwark-platform/bulwark/infra/config"
	compiled "github.com/bulwark-platform/bulwark/infra/datastore"
	"github.com/bulwark-platform/bulwark/internal/testkit/mocktest"
)

func register(t *testing.T, env config.Environment) *mocktest.Mocks {
	t.Helper()
	cfg := config.Defaults(env)
	set, err := compiled.Compile(&cfg.Graph, cfg.Data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mocktest.RunWithProvider("test", func(ctx *pulumi.Context, p pulumi.ProviderResource) error {
		_, err := New(ctx, "data", &Args{Stores: set, Provider: p})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The operator's pinned chart comes first; every cluster waits for it and
// for its secrets; databases and backups wait for their cluster.
func TestClustersWaitForTheOperatorAndTheirSecrets(t *testing.T) {
	m := register(t, config.Prod)
	chart, ok := m.Named("data-cnpg")
	if !ok {
		t.Fatal("no CloudNativePG chart")
	}
	if mocktest.Get(chart.Inputs, "chart") != ChartName || mocktest.Get(chart.Inputs, "version") != ChartVersion {
		t.Errorf("chart %v %v", mocktest.Get(chart.Inputs, "chart"), mocktest.Get(chart.Inputs, "version"))
	}
	clusters := m.ByType("kubernetes:postgresql.cnpg.io/v1:Cluster")
	if len(clusters) != 3 {
		t.Fatalf("%d clusters in prod, want one per service", len(clusters))
	}
	for _, c := range clusters {
		if !slices.ContainsFunc(c.Dependencies, func(u string) bool { return strings.HasSuffix(u, "::data-cnpg") }) {
			t.Errorf("cluster %s does not wait for the operator: %v", c.Name, c.Dependencies)
		}
		if !slices.ContainsFunc(c.Dependencies, func(u string) bool { return strings.Contains(u, "-secret-data-") }) {
			t.Errorf("cluster %s does not wait for its role secrets", c.Name)
		}
	}
	for _, typ := range []string{"kubernetes:postgresql.cnpg.io/v1:Database", "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup"} {
		for _, r := range m.ByType(typ) {
			if len(r.Dependencies) != 1 || !strings.Contains(r.Dependencies[0], "::data-cluster-") {
				t.Errorf("%s %s depends on %v, want its cluster", typ, r.Name, r.Dependencies)
			}
		}
	}
}

// Generated passwords are drawn once: later updates ignore new draws. (The
// SDK marks a Secret's stringData secret by itself, so that needs no test
// here.)
func TestGeneratedPasswordsAreKeptAndSecret(t *testing.T) {
	m := register(t, config.Dev)
	secrets := m.ByType("kubernetes:core/v1:Secret")
	if len(secrets) == 0 {
		t.Fatal("no generated secrets")
	}
	for _, s := range secrets {
		if !slices.Contains(s.IgnoreChanges, "stringData") {
			t.Errorf("secret %s: a later up would draw new passwords (ignoreChanges %v)", s.Name, s.IgnoreChanges)
		}
	}
}

// Redis: the Valkey chart pinned, with ACL users from the generated secret
// and TLS.
func TestRedisIsTheValkeyChartWithAuthAndTLS(t *testing.T) {
	m := register(t, config.Prod)
	r, ok := m.Named("data-redis")
	if !ok {
		t.Fatal("no Valkey chart")
	}
	if mocktest.Get(r.Inputs, "chart") != compiled.ValkeyChartName || mocktest.Get(r.Inputs, "version") != compiled.ValkeyChartVersion {
		t.Errorf("chart %v", r.Inputs.Mappable())
	}
	v := mocktest.Get(r.Inputs, "values")
	if mocktest.Dig(v, "auth", "usersExistingSecret") != compiled.RedisUsersSecret || mocktest.Dig(v, "tls", "enabled") != true ||
		mocktest.Dig(v, "replica", "sentinel", "enabled") != true {
		t.Errorf("values %v", v)
	}
}
