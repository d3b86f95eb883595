package podconfig

import (
	"errors"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/infra/identity"
	"github.com/bulwark-platform/bulwark/infra/secrets"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/naming"
	"github.com/bulwark-platform/bulwark/internal/testkit/golden"
	"github.com/bulwark-platform/bulwark/services/contract"
)

func stack(t *testing.T, name string) *config.Config {
	t.Helper()
	cfg, err := config.LoadStack(filepath.Join("..", ".."), name)
	if err != nil {
		t.Fatal(err)
	}
	// The runner hands the local cluster's stores over (port 0 → theirs).
	for _, ext := range []*config.External{&cfg.Data.Postgres.External, &cfg.Data.Redis.External, &cfg.Vault.External} {
		if ext.Port == 0 {
			ext.Port = 40000
		}
	}
	return cfg
}

func compiled(t *testing.T, cfg *config.Config) []Pod {
	t.Helper()
	set, err := secrets.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return Compile(cfg, id, set)
}

// Every Deployment of every stack gives its service everything its
// contract requires, each file variable names a file the pod has, and the
// values come from the one place that holds them.
func TestEveryStackSatisfiesEveryContract(t *testing.T) {
	for _, name := range golden.Stacks {
		t.Run(name, func(t *testing.T) {
			cfg := stack(t, name)
			pods := compiled(t, cfg)
			if err := CheckAll(cfg, pods); err != nil {
				t.Fatal(err)
			}
			if got := Contracted(cfg); len(got) < 3 {
				t.Fatalf("only %v have a contract; the three services must", got)
			}
			for i, s := range cfg.Graph.Services {
				p := pods[i]
				// One source: the edge and every service trust the identity
				// provider's issuer, and each service requires its own
				// audience, the one its callers' tokens are minted for.
				if p.Env["OIDC_ISSUER"] != cfg.Identity.Issuer || cfg.Edge.JWT.Issuer != cfg.Identity.Issuer {
					t.Errorf("%s: OIDC_ISSUER %q, edge issuer %q, identity issuer %q", s.Name, p.Env["OIDC_ISSUER"], cfg.Edge.JWT.Issuer, cfg.Identity.Issuer)
				}
				if p.Env["OIDC_AUDIENCE"] != s.Name {
					t.Errorf("%s: OIDC_AUDIENCE %q, want its own name", s.Name, p.Env["OIDC_AUDIENCE"])
				}
				for _, e := range cfg.Graph.Edges() {
					if e.From.Name != s.Name {
						continue
					}
					c, _ := contract.For(s.Name)
					v := calleeVar(c, e.To.Name)
					if want := "http://" + e.To.Name + "." + e.To.Namespace + ".svc:"; !strings.HasPrefix(p.Env[v], want) {
						t.Errorf("%s: %s=%q does not name %s", s.Name, v, p.Env[v], want)
					}
				}
				if s.Postgres {
					if p.Injection == nil || p.Env["DB_CREDENTIALS_FILE"] != p.Injection.CredentialsFile {
						t.Errorf("%s: DB_CREDENTIALS_FILE %q is not the agent's file", s.Name, p.Env["DB_CREDENTIALS_FILE"])
					}
				} else if p.Injection != nil {
					t.Errorf("%s has no database but logs in to Vault", s.Name)
				}
				if s.Redis != (p.Env["REDIS_ADDR"] != "") {
					t.Errorf("%s: redis %v but REDIS_ADDR %q", s.Name, s.Redis, p.Env["REDIS_ADDR"])
				}
				// Every file a variable names is mounted from a volume.
				for file := range p.Files {
					ok := strings.HasPrefix(file, secrets.AgentSecretsDir+"/") && p.Injection != nil ||
						slices.ContainsFunc(p.Volumes, func(v SecretVolume) bool { return strings.HasPrefix(file, v.MountPath+"/") })
					if !ok {
						t.Errorf("%s: file %s comes from no volume", s.Name, file)
					}
				}
			}
		})
	}
}

// A graph that leaves a service without what it requires is refused
// before anything is registered, naming the service's graph entry and
// the variable.
func TestAMissingRequirementNamesTheService(t *testing.T) {
	cases := []struct {
		name    string
		service string
		breakIt func(s *graph.Service)
		want    string
	}{
		{"order without its OAuth client", "order", func(s *graph.Service) {
			s.Secrets = slices.DeleteFunc(s.Secrets, func(x graph.Secret) bool { return x.Name == graph.OAuthClientSecret })
		}, "OAUTH_CLIENT"},
		{"order no longer calling payment", "order", func(s *graph.Service) {
			s.Calls = slices.DeleteFunc(s.Calls, func(c graph.Call) bool { return c.Target == "payment" || strings.HasPrefix(c.Target, "payment.") })
		}, "PAYMENT_URL"},
		{"user without its database", "user", func(s *graph.Service) { s.Postgres = false }, "DB_CREDENTIALS_FILE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := stack(t, "dev")
			i := slices.IndexFunc(cfg.Graph.Services, func(s graph.Service) bool { return s.Name == tc.service })
			if i < 0 {
				t.Fatalf("no service %s in the dev graph", tc.service)
			}
			tc.breakIt(&cfg.Graph.Services[i])
			err := CheckAll(cfg, compiled(t, cfg))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, fielderr.ErrRequired) || !strings.Contains(err.Error(), "bulwark:graph.services[") ||
				!strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "service "+tc.service) {
				t.Fatalf("error does not name the entry, the service and %s: %v", tc.want, err)
			}
		})
	}
}

// Where Keycloak is installed (its certificate is the private CA's), every
// pod trusts the CA for discovery, JWKS and tokens through the mounted
// trust bundle; with the runner's Hydra on loopback (plain HTTP) nothing
// is set.
func TestPodsTrustAnInstalledKeycloak(t *testing.T) {
	for st, want := range map[string]bool{"local": false, "ci": false, "dev": true, "prod": true} {
		cfg := stack(t, st)
		for _, p := range compiled(t, cfg) {
			file, set := p.Env["OIDC_TLS_CA_FILE"]
			if set != want {
				t.Errorf("%s %s: OIDC_TLS_CA_FILE set %v, want %v", st, p.Service, set, want)
				continue
			}
			if set && !slices.ContainsFunc(p.Volumes, func(v SecretVolume) bool {
				return v.Secret == naming.TrustBundle && file == path.Join(v.MountPath, "ca.crt")
			}) {
				t.Errorf("%s %s: OIDC_TLS_CA_FILE %s is not the mounted trust bundle", st, p.Service, file)
			}
		}
	}
}
