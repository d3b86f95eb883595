package secrets

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/datastore"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/testkit/golden"
	"github.com/bulwark-platform/bulwark/internal/testkit/graphgen"
)

// configs are every stack's configuration, then random graphs under
// random Vault and data settings.
func configs(t *testing.T) map[string]*config.Config {
	t.Helper()
	out := map[string]*config.Config{}
	for _, stack := range golden.Stacks {
		cfg, err := config.LoadStack(filepath.Join("..", ".."), stack)
		if err != nil {
			t.Fatal(err)
		}
		out["stack "+stack] = cfg
	}
	envs := []config.Environment{config.Dev, config.Staging, config.Prod}
	for seed := uint64(1); seed <= 200; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		cfg := config.Defaults(envs[r.IntN(len(envs))])
		cfg.Graph = graphgen.Random(r)
		cfg.Install.Vault = r.IntN(2) == 0
		if !cfg.Install.Vault {
			cfg.Vault.External = config.External{Host: "vault.example.net", Port: 8200, CIDR: "10.20.0.0/24", TLS: true}
		}
		if r.IntN(2) == 0 {
			cfg.Vault.Distribution = "vault"
		}
		cfg.Data.Postgres.Install = r.IntN(2) == 0
		if !cfg.Data.Postgres.Install {
			cfg.Data.Postgres.External = config.External{Host: "pg.example.net", Port: 5432, CIDR: "10.30.0.0/24", TLS: true}
			// An installed Keycloak keeps its database in the installed
			// PostgreSQL: without it, the provider is external.
			host, port := cfg.Identity.IssuerHostPort()
			cfg.Identity.Install, cfg.Identity.External = false, config.External{Host: host, Port: port, CIDR: "10.40.0.0/24", TLS: true}
		}
		if r.IntN(2) == 0 {
			cfg.Data.Postgres.Topology = "perService"
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("seed %d: the generator made an invalid configuration: %v", seed, err)
		}
		out[fmt.Sprintf("seed %d", seed)] = cfg
	}
	return out
}

// The invariants least privilege rests on, on every stack and on random
// graphs: each checked here from the graph, independently of Validate.
func TestCompiledSecretsKeepLeastPrivilege(t *testing.T) {
	for name, cfg := range configs(t) {
		set, err := Compile(cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p := set.Plan
		g := &cfg.Graph
		for _, r := range p.Roles {
			if r.ServiceAccount == "*" || r.Namespace == "*" || strings.Contains(r.ServiceAccount+r.Namespace, ",") {
				t.Errorf("%s: role %s is bound to %s/%s", name, r.Name, r.Namespace, r.ServiceAccount)
			}
			if r.TTL != int(cfg.Vault.Token.TTL.Seconds()) || r.MaxTTL != int(cfg.Vault.Token.MaxTTL.Seconds()) || r.MaxTTL > int(config.MaxLeaseTTL.Seconds()) {
				t.Errorf("%s: role %s lives %d/%ds, config says %s/%s", name, r.Name, r.TTL, r.MaxTTL, cfg.Vault.Token.TTL, cfg.Vault.Token.MaxTTL)
			}
			if r.Service == "" {
				continue
			}
			s := g.Service(r.Service)
			if s == nil || r.ServiceAccount != s.ServiceAccount || r.Namespace != s.Namespace {
				t.Errorf("%s: role %s is bound to %s/%s, not its service's account", name, r.Name, r.Namespace, r.ServiceAccount)
				continue
			}
			for _, polName := range r.Policies {
				pol, _ := p.Policy(polName)
				for _, path := range pol.Paths() {
					for _, other := range g.Services {
						if other.Name == s.Name {
							continue
						}
						if strings.Contains(path, "/data/"+other.Namespace+"/"+other.Name+"/") || strings.HasSuffix(path, "/creds/"+other.Name) {
							t.Errorf("%s: %s's policy %s grants %s, a path of %s", name, s.Name, pol.Name, path, other.Name)
						}
					}
				}
			}
		}
		// Every static secret of every service: exactly one
		// ExternalSecret, in its namespace, reading exactly its keys.
		for _, s := range g.Services {
			for _, sec := range s.StaticSecretsOf() {
				var found []ExternalSecret
				for _, es := range set.ExternalSecrets {
					if es.Namespace == s.Namespace && es.Spec.Target.Name == SecretName(s.Name, sec.Name) {
						found = append(found, es)
					}
				}
				if len(found) != 1 {
					t.Errorf("%s: %s's secret %s has %d ExternalSecrets, want 1", name, s.Name, sec.Name, len(found))
					continue
				}
				var keys []string
				for _, d := range found[0].Spec.Data {
					keys = append(keys, d.SecretKey)
					if d.RemoteRef.Key != s.Namespace+"/"+s.Name+"/"+sec.Name {
						t.Errorf("%s: %s's secret %s reads %s", name, s.Name, sec.Name, d.RemoteRef.Key)
					}
				}
				if !slices.Equal(keys, sec.SecretKeys()) {
					t.Errorf("%s: %s's secret %s syncs %v, want %v", name, s.Name, sec.Name, keys, sec.SecretKeys())
				}
				if found[0].Spec.RefreshInterval == nil || found[0].Spec.RefreshInterval.Duration != cfg.ExternalSecrets.RefreshInterval {
					t.Errorf("%s: %s's secret %s refreshes every %v", name, s.Name, sec.Name, found[0].Spec.RefreshInterval)
				}
			}
		}
		// An installed Keycloak gets one more: every client secret, under
		// its client ID, read from the services' oauth-client paths only.
		want := len(p.Static)
		var withClient []string
		for _, st := range p.Static {
			if st.Name == graph.OAuthClientSecret && slices.Contains(st.Keys, "client_secret") {
				withClient = append(withClient, st.Service)
			}
		}
		if i := slices.IndexFunc(set.ExternalSecrets, func(es ExternalSecret) bool { return es.Namespace == p.IdentityNamespace }); p.IdentityNamespace != "" && len(withClient) > 0 {
			want++
			if i < 0 {
				t.Errorf("%s: no ExternalSecret in the identity namespace %s", name, p.IdentityNamespace)
			} else {
				var clients []string
				for _, d := range set.ExternalSecrets[i].Spec.Data {
					clients = append(clients, d.SecretKey)
					svc := g.Service(d.SecretKey)
					if svc == nil || d.RemoteRef.Key != ServicePath(svc)+"/"+graph.OAuthClientSecret || d.RemoteRef.Property != "client_secret" {
						t.Errorf("%s: the identity provider's %s reads %s#%s", name, d.SecretKey, d.RemoteRef.Key, d.RemoteRef.Property)
					}
				}
				if !slices.Equal(clients, withClient) {
					t.Errorf("%s: the identity provider syncs %v, the services with a client secret are %v", name, clients, withClient)
				}
			}
		}
		if n := len(set.ExternalSecrets); n != want {
			t.Errorf("%s: %d ExternalSecrets for %d static secrets", name, n, len(p.Static))
		}
		// Every PostgreSQL service: exactly one database role, on a
		// connection that allows it, a member of its own owner role only,
		// and one injection rendering its credentials.
		for _, s := range g.Services {
			var roles []DBRole
			if p.Database != nil {
				for _, r := range p.Database.Roles {
					if r.Service == s.Name {
						roles = append(roles, r)
					}
				}
			}
			_, injected := set.Injection(s.Name)
			if !s.Postgres {
				if len(roles) > 0 || injected {
					t.Errorf("%s: %s uses no PostgreSQL but has %d database roles (injected %v)", name, s.Name, len(roles), injected)
				}
				continue
			}
			if len(roles) != 1 || !injected {
				t.Errorf("%s: %s has %d database roles (injected %v), want 1", name, s.Name, len(roles), injected)
				continue
			}
			r := roles[0]
			stmts := strings.Join(r.Creation, "\n")
			if strings.Count(stmts, "_owner") != 2 || !strings.Contains(stmts, `"`+datastore.OwnerRole(s.Name)+`"`) {
				t.Errorf("%s: %s's role grants more or other than its owner role:\n%s", name, s.Name, stmts)
			}
			if r.TTL != int(cfg.Vault.Database.TTL.Seconds()) || r.MaxTTL != int(cfg.Vault.Database.MaxTTL.Seconds()) {
				t.Errorf("%s: %s's credentials live %d/%ds", name, s.Name, r.TTL, r.MaxTTL)
			}
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: the compiled plan fails its own check: %v", name, err)
		}
	}
}

// The agent's annotations are the chosen distribution's, and render the
// service's own credentials path into the file its DB_CREDENTIALS_FILE names.
func TestInjectionFollowsTheDistribution(t *testing.T) {
	for _, dist := range []string{"openbao", "vault"} {
		cfg := config.Defaults(config.Prod)
		cfg.Vault.Distribution = dist
		set, err := Compile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		in, ok := set.Injection("order")
		if !ok {
			t.Fatal("order has no injection")
		}
		pre := AnnotationPrefix(dist)
		if in.Annotations[pre+"agent-inject"] != "true" || in.Annotations[pre+"role"] != "order" ||
			in.Annotations[pre+"agent-inject-secret-database.json"] != "bulwark/prod/database/creds/order" ||
			in.Annotations[pre+"agent-service-account-token-volume-name"] != TokenVolumeName ||
			in.Annotations[pre+"tls-secret"] == "" {
			t.Errorf("%s: annotations %v", dist, in.Annotations)
		}
		for k := range in.Annotations {
			if !strings.HasPrefix(k, pre) {
				t.Errorf("%s: annotation %s lacks the prefix %s", dist, k, pre)
			}
		}
		if in.CredentialsFile != "/vault/secrets/database.json" || !strings.Contains(in.Template, `"database":"order"`) {
			t.Errorf("%s: credentials file %s, template %s", dist, in.CredentialsFile, in.Template)
		}
	}
}

// Validate is what stands between a hand-edited or corrupted plan and the
// Vault layer: each breach is named by its field.
func TestValidateRefusesBreaches(t *testing.T) {
	cfg := config.Defaults(config.Prod)
	tests := []struct {
		name     string
		mutate   func(p *Plan)
		wantPath string
		wantKind error
		wantMsg  string
	}{
		{"a policy path outside the service's prefix", func(p *Plan) {
			p.Policies[0].Rules[0].Path = "bulwark/prod/kv/data/payments/payment/*"
		}, "plan.policies[0].rules[0].path", fielderr.ErrForbidden, "outside what service shop/order may read"},
		{"a wildcard over every service", func(p *Plan) { p.Policies[0].Rules[0].Path = "bulwark/prod/kv/data/shop/*" },
			"plan.policies[0].rules[0].path", fielderr.ErrForbidden, "outside"},
		{"another service's database credentials", func(p *Plan) { p.Policies[0].Rules[1].Path = "bulwark/prod/database/creds/payment" },
			"plan.policies[0].rules[1].path", fielderr.ErrForbidden, "outside"},
		{"a store reading a service's whole prefix", func(p *Plan) {
			i := slices.IndexFunc(p.Policies, func(x Policy) bool { return strings.Contains(x.Name, "store-shop") })
			p.Policies[i].Rules[0].Path = "bulwark/prod/kv/data/shop/order/*"
		}, "plan.policies[3].rules[0].path", fielderr.ErrForbidden, "secret store of shop"},
		{"a write capability", func(p *Plan) { p.Policies[0].Rules[0].Capabilities = []string{"read", "update"} },
			"plan.policies[0].rules[0].capabilities", fielderr.ErrForbidden, "only read"},
		{"a role bound to every service account", func(p *Plan) { p.Roles[0].ServiceAccount = "*" },
			"plan.roles[0].serviceAccount", fielderr.ErrForbidden, "exactly one"},
		{"a token lifetime above the maximum", func(p *Plan) { p.Roles[0].MaxTTL = int((48 * time.Hour).Seconds()) },
			"plan.roles[0].maxTTL", fielderr.ErrOutOfRange, "above the maximum of 86400s"},
		{"a credential lifetime above the maximum", func(p *Plan) { p.Database.Roles[1].MaxTTL = 90000 },
			"plan.database.roles[1].maxTTL", fielderr.ErrOutOfRange, "above the maximum"},
		{"a database role its connection doesn't allow", func(p *Plan) { p.Database.Connections[0].AllowedRoles = nil },
			"plan.database.roles[0].connection", fielderr.ErrForbidden, "does not allow"},
		{"two roles of one name", func(p *Plan) { p.Roles[1].Name = p.Roles[0].Name },
			"plan.roles[1].name", fielderr.ErrDuplicate, "also plan.roles[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := Compile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			p := set.Plan
			tc.mutate(&p)
			err = p.Validate()
			if err == nil {
				t.Fatal("Validate accepted the plan")
			}
			for _, e := range fielderr.All(err) {
				if e.Path == tc.wantPath && errors.Is(e, tc.wantKind) && strings.Contains(e.Msg, tc.wantMsg) {
					return
				}
			}
			t.Errorf("no %v at %s containing %q; got:\n%v", tc.wantKind, tc.wantPath, tc.wantMsg, err)
		})
	}
}

// A REGISTRY_ONLY mesh gets a ServiceEntry for an external Vault in each
// namespace whose pods log in; an installed Vault or an ALLOW_ANY mesh
// needs none.
func TestExternalVaultIsRegisteredWithARegistryOnlyMesh(t *testing.T) {
	external := func(env config.Environment, host string) *config.Config {
		cfg := config.Defaults(env)
		cfg.Install.Vault = false
		cfg.Vault.External = config.External{Host: host, Port: 8200, CIDR: "10.9.0.0/16", TLS: true}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	for _, tc := range []struct {
		name       string
		cfg        *config.Config
		namespaces []string
		hosts      string
	}{
		{"prod, a Vault by name", external(config.Prod, "vault.corp.example"), []string{"shop", "payments"}, "vault.corp.example"},
		{"staging, a Vault by address", external(config.Staging, "10.9.0.4"), []string{"shop", "payments"}, "vault.external"},
		{"dev (ALLOW_ANY)", external(config.Dev, "vault.corp.example"), nil, ""},
		{"prod with Vault installed", config.Defaults(config.Prod), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, err := Compile(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, se := range set.ServiceEntries {
				got = append(got, se.Namespace)
				if h := strings.Join(se.Spec.GetHosts(), ","); h != tc.hosts || se.Spec.GetPorts()[0].GetNumber() != 8200 ||
					se.Spec.GetPorts()[0].GetProtocol() != "TLS" || strings.Join(se.Spec.GetExportTo(), ",") != "." {
					t.Errorf("%s: %v", se.ID(), se.Spec)
				}
			}
			if !slices.Equal(got, tc.namespaces) {
				t.Errorf("ServiceEntries in %v, want %v", got, tc.namespaces)
			}
		})
	}
}
