package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/infra/secrets"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/testkit/golden"
	"github.com/bulwark-platform/bulwark/internal/testkit/graphgen"
)

const root = "../.."

// configs are every stack's configuration, then ~200 random graphs under
// random identity settings (provider, lifetimes, a browser scope subset).
func configs(t *testing.T) map[string]*config.Config {
	t.Helper()
	out := map[string]*config.Config{}
	for _, stack := range golden.Stacks {
		cfg, err := config.LoadStack(root, stack)
		if err != nil {
			t.Fatal(err)
		}
		out["stack "+stack] = cfg
	}
	for seed := uint64(1); seed <= 200; seed++ {
		r := rand.New(rand.NewPCG(seed, 11))
		cfg := config.Defaults(config.Environments[r.IntN(len(config.Environments))])
		cfg.Graph = graphgen.Random(r)
		id := &cfg.Identity
		if r.IntN(2) == 0 {
			id.Provider, id.Issuer = "hydra", "https://auth.example.net/"
			// Bulwark installs only Keycloak: a Hydra is external.
			id.Install, id.External = false, config.External{Host: "auth.example.net", Port: 443, CIDR: "203.0.113.7/32", TLS: true}
		}
		id.AccessTokenLifespan = config.MinAccessTokenLifespan + time.Duration(r.IntN(11))*time.Minute
		if gs := config.GatewayScopes(&cfg.Graph); len(gs) > 1 && r.IntN(3) == 0 {
			id.BrowserClient.Scopes = gs[:1]
		}
		cfg.Edge.JWT = id.EdgeJWT()
		if err := cfg.Validate(); err != nil {
			t.Fatalf("seed %d: the generator made an invalid configuration: %v", seed, err)
		}
		out[fmt.Sprintf("seed %d", seed)] = cfg
	}
	return out
}

// The invariants the identity rests on, on every stack and on random
// graphs, each checked here from the graph, independently of Validate.
func TestModelKeepsLeastPrivilege(t *testing.T) {
	for name, cfg := range configs(t) {
		m, err := Compile(cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		g := &cfg.Graph
		edges := g.Edges()
		// One client scope per scope any edge names, and no other.
		var want []string
		for _, e := range edges {
			for _, s := range e.Scopes() {
				if !slices.Contains(want, s) {
					want = append(want, s)
				}
			}
		}
		var got []string
		for _, s := range m.Scopes {
			got = append(got, s.Name)
		}
		if !sameElements(got, want) || len(got) != len(want) {
			t.Errorf("%s: client scopes %v, the edges name %v", name, got, want)
		}
		// Every service: exactly one confidential client, only client
		// credentials, exactly the scopes and callee audiences of its
		// outgoing edges.
		if len(m.Clients) != len(g.Services) {
			t.Errorf("%s: %d confidential clients for %d services", name, len(m.Clients), len(g.Services))
		}
		for _, s := range g.Services {
			var mine []ConfidentialClient
			for _, c := range m.Clients {
				if c.Service == s.Name {
					mine = append(mine, c)
				}
			}
			if len(mine) != 1 {
				t.Errorf("%s: %s has %d confidential clients, want 1", name, s.Name, len(mine))
				continue
			}
			c := mine[0]
			if c.ClientID != s.Name || !slices.Equal(c.GrantTypes, []string{GrantClientCredentials}) || c.TokenEndpointAuthMethod == AuthNone {
				t.Errorf("%s: %s's client %s grants %v, authenticates with %s", name, s.Name, c.ClientID, c.GrantTypes, c.TokenEndpointAuthMethod)
			}
			var scopes, callees []string
			for _, e := range edges {
				if e.From.Name == s.Name {
					scopes = append(scopes, e.Scopes()...)
					callees = append(callees, e.To.Name)
				}
			}
			if !sameElements(c.Scopes, scopes) || hasDuplicates(c.Scopes) {
				t.Errorf("%s: %s's client holds %v, its edges need %v", name, s.Name, c.Scopes, scopes)
			}
			if !sameElements(c.Audiences, callees) || hasDuplicates(c.Audiences) {
				t.Errorf("%s: %s's tokens carry %v, its callees are %v", name, s.Name, c.Audiences, callees)
			}
			// Each audience is the one its callee validates.
			for _, gr := range c.Edges {
				if aud, _ := m.AudienceOf(gr.Callee); aud != gr.Audience {
					t.Errorf("%s: %s's token for %s carries %q, %s requires %q", name, s.Name, gr.Callee, gr.Audience, gr.Callee, aud)
				}
			}
		}
		// The browser client: public, PKCE S256, exact redirects, only
		// gateway scopes, the gateway's and its callees' audiences.
		b := m.BrowserClient
		if b.PKCEMethod != PKCES256 || b.TokenEndpointAuthMethod != AuthNone || !slices.Equal(b.ResponseTypes, []string{ResponseCode}) {
			t.Errorf("%s: browser client PKCE %q, auth %q, response types %v", name, b.PKCEMethod, b.TokenEndpointAuthMethod, b.ResponseTypes)
		}
		for _, gt := range b.GrantTypes {
			if gt != GrantAuthorizationCode && gt != GrantRefreshToken {
				t.Errorf("%s: browser client grants %s", name, gt)
			}
		}
		for _, u := range append(slices.Clone(b.RedirectURIs), b.WebOrigins...) {
			if strings.ContainsAny(u, "*#") || u == "+" {
				t.Errorf("%s: browser client has the inexact URL %q", name, u)
			}
		}
		gatewayScopes := config.GatewayScopes(g)
		for _, s := range b.Scopes {
			if !slices.Contains(gatewayScopes, s) {
				t.Errorf("%s: browser client holds %q, which no gateway edge needs", name, s)
			}
		}
		wantAud := []string{cfg.Identity.Audience}
		for _, e := range edges {
			if e.From.Name == graph.GatewayName {
				wantAud = append(wantAud, e.To.Name)
			}
		}
		if !slices.Equal(b.Audiences, wantAud) {
			t.Errorf("%s: browser tokens carry %v, want %v", name, b.Audiences, wantAud)
		}
		// Tokens live minutes; refresh tokens rotate, reuse is refused.
		r := m.Realm
		if !r.RefreshTokenRotation || r.RefreshTokenMaxReuse != 0 {
			t.Errorf("%s: refresh rotation %v, reuse %d", name, r.RefreshTokenRotation, r.RefreshTokenMaxReuse)
		}
		if r.AccessTokenLifespan < 300 || r.AccessTokenLifespan > 900 || r.AccessTokenLifespan != int(cfg.Identity.AccessTokenLifespan.Seconds()) {
			t.Errorf("%s: access tokens live %ds (config %s)", name, r.AccessTokenLifespan, cfg.Identity.AccessTokenLifespan)
		}
		if names := []string{r.Roles[0].Name, r.Roles[1].Name}; !slices.Equal(names, []string{RoleUser, RoleAdmin}) {
			t.Errorf("%s: realm roles %v", name, names)
		}
		if err := m.Validate(); err != nil {
			t.Errorf("%s: the compiled model fails its own check: %v", name, err)
		}
	}
}

// Changing the scopes of one call changes the scopes of exactly one
// client, its caller's: the browser client for a gateway route.
func TestOneEdgeChangesOneClient(t *testing.T) {
	for name, cfg := range configs(t) {
		if len(cfg.Identity.BrowserClient.Scopes) > 0 {
			continue // a fixed browser subset doesn't follow the gateway's edges
		}
		before, err := Compile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		type call struct {
			caller string
			calls  func(*graph.Graph) []graph.Call
		}
		callers := []call{{"browser", func(g *graph.Graph) []graph.Call { return g.Gateway.Calls }}}
		for i, s := range cfg.Graph.Services {
			callers = append(callers, call{s.Name, func(g *graph.Graph) []graph.Call { return g.Services[i].Calls }})
		}
		for _, c := range callers {
			for j := range c.calls(&cfg.Graph) {
				changed := *cfg
				changed.Graph = cloneGraph(t, cfg.Graph)
				calls := c.calls(&changed.Graph)
				calls[j].Scopes = append(calls[j].Scopes, "changed:scope")
				after, err := Compile(&changed)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				diff := clientScopesThatDiffer(before, after)
				if !slices.Equal(diff, []string{c.caller}) {
					t.Errorf("%s: a scope added to %s's call %d changed the scopes of %v", name, c.caller, j, diff)
				}
			}
		}
	}
}

func clientScopesThatDiffer(a, b Model) []string {
	var out []string
	if !slices.Equal(a.BrowserClient.Scopes, b.BrowserClient.Scopes) {
		out = append(out, "browser")
	}
	for i := range a.Clients {
		if !slices.Equal(a.Clients[i].Scopes, b.Clients[i].Scopes) {
			out = append(out, a.Clients[i].Service)
		}
	}
	return out
}

// Each service's client ID is the client_id the secrets layer seeds in
// its oauth-client secret, so the service presents the ID the provider
// registered.
func TestClientIDsAreWhatTheSecretsLayerSeeds(t *testing.T) {
	for _, stack := range golden.Stacks {
		cfg, m := compiledStack(t, stack)
		set, err := secrets.Compile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		seeded := 0
		for _, st := range set.Plan.Static {
			if st.Name != graph.OAuthClientSecret {
				continue
			}
			seeded++
			c, ok := m.Client(st.Service)
			if !ok || st.Fixed["client_id"] != c.ClientID {
				t.Errorf("%s: %s's secret seeds client_id %q, the model registers %q", stack, st.Service, st.Fixed["client_id"], c.ClientID)
			}
		}
		if seeded == 0 {
			t.Errorf("%s: no oauth-client secret seeded", stack)
		}
	}
}

// Bad identity configuration fails compilation naming the key and the
// kind, whether it comes through config.Load or is set by hand.
func TestBadInputNamesTheKey(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]string
		mutate func(*config.Config)
		path   string
		kind   error
	}{
		{"a browser scope no edge uses", map[string]string{"bulwark:identity": `{"browserClient": {"scopes": ["orders:read", "admin:all"]}}`},
			func(c *config.Config) { c.Identity.BrowserClient.Scopes = []string{"orders:read", "admin:all"} },
			"bulwark:identity.browserClient.scopes[1]", fielderr.ErrUnknown},
		{"a browser scope only a service's edge uses", map[string]string{"bulwark:identity": `{"browserClient": {"scopes": ["payments:write"]}}`},
			func(c *config.Config) { c.Identity.BrowserClient.Scopes = []string{"payments:write"} },
			"bulwark:identity.browserClient.scopes[0]", fielderr.ErrUnknown},
		{"a redirect URI with a wildcard", map[string]string{"bulwark:identity": `{"browserClient": {"redirectURIs": ["https://app.dev.bulwark.example.com/*"]}}`},
			func(c *config.Config) {
				c.Identity.BrowserClient.RedirectURIs = []string{"https://app.dev.bulwark.example.com/*"}
			},
			"bulwark:identity.browserClient.redirectURIs[0]", fielderr.ErrForbidden},
		{"an access token lifetime above the maximum", map[string]string{"bulwark:identity": `{"accessTokenLifespan": "30m"}`},
			func(c *config.Config) { c.Identity.AccessTokenLifespan = 30 * time.Minute },
			"bulwark:identity.accessTokenLifespan", fielderr.ErrOutOfRange},
		{"a web origin wildcard", map[string]string{"bulwark:identity": `{"browserClient": {"webOrigins": ["*"]}}`},
			func(c *config.Config) { c.Identity.BrowserClient.WebOrigins = []string{"*"} },
			"bulwark:identity.browserClient.webOrigins[0]", fielderr.ErrForbidden},
		{"a second issuer at the edge", map[string]string{"bulwark:edge": `{"jwt": {"issuer": "https://other.example.com/realms/bulwark"}}`},
			func(c *config.Config) { c.Edge.JWT.Issuer = "https://other.example.com/realms/bulwark" },
			"bulwark:edge.jwt.issuer", fielderr.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			values := map[string]string{"bulwark:environment": "dev"}
			maps.Copy(values, tc.values)
			_, err := config.Load(config.MapGetter(values), config.Keys(values))
			hasProblem(t, "config.Load", err, tc.path, tc.kind)
			cfg := config.Defaults(config.Dev)
			tc.mutate(cfg)
			_, err = Compile(cfg)
			hasProblem(t, "Compile", err, tc.path, tc.kind)
		})
	}
}

// Validate stands between a hand-edited or corrupted model and the
// provider: each breach is named by its field and kind.
func TestValidateRefusesBreaches(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m *Model)
		path   string
		kind   error
	}{
		{"a client holding a scope its edges don't need", func(m *Model) { m.Clients[0].Scopes = append(m.Clients[0].Scopes, "orders:write") },
			"model.clients[0].scopes[2]", fielderr.ErrForbidden},
		{"a client lacking a scope its edges need", func(m *Model) { m.Clients[0].Scopes = m.Clients[0].Scopes[:1] },
			"model.clients[0].scopes", fielderr.ErrRequired},
		{"a browser scope its edges don't need", func(m *Model) { m.BrowserClient.Scopes = append(m.BrowserClient.Scopes, "payments:write") },
			"model.browserClient.scopes[4]", fielderr.ErrForbidden},
		{"a scope named by no edge", func(m *Model) { m.Scopes = append(m.Scopes, Scope{Name: "admin:all"}) },
			"model.scopes[5]", fielderr.ErrUnknown},
		{"a service client with a second grant", func(m *Model) { m.Clients[1].GrantTypes = append(m.Clients[1].GrantTypes, "password") },
			"model.clients[1].grantTypes", fielderr.ErrForbidden},
		{"a browser client with the implicit grant", func(m *Model) { m.BrowserClient.GrantTypes = append(m.BrowserClient.GrantTypes, "implicit") },
			"model.browserClient.grantTypes[2]", fielderr.ErrForbidden},
		{"PKCE plain", func(m *Model) { m.BrowserClient.PKCEMethod = "plain" }, "model.browserClient.pkceMethod", fielderr.ErrForbidden},
		{"a wildcard redirect", func(m *Model) { m.BrowserClient.RedirectURIs[0] = "https://app.prod.bulwark.example.com/*" },
			"model.browserClient.redirectURIs[0]", fielderr.ErrForbidden},
		{"a redirect over plain http", func(m *Model) { m.BrowserClient.RedirectURIs[0] = "http://app.prod.bulwark.example.com/callback" },
			"model.browserClient.redirectURIs[0]", fielderr.ErrForbidden},
		{"refresh tokens that don't rotate", func(m *Model) { m.Realm.RefreshTokenRotation = false },
			"model.realm.refreshTokenRotation", fielderr.ErrForbidden},
		{"refresh tokens that may be reused", func(m *Model) { m.Realm.RefreshTokenMaxReuse = 1 },
			"model.realm.refreshTokenMaxReuse", fielderr.ErrForbidden},
		{"an access token lifetime above the maximum", func(m *Model) { m.Realm.AccessTokenLifespan = 3600 },
			"model.realm.accessTokenLifespan", fielderr.ErrOutOfRange},
		{"a second client for a service", func(m *Model) { m.Clients = append(m.Clients, m.Clients[0]) },
			"model.clients[3].service", fielderr.ErrDuplicate},
		{"a service without a client", func(m *Model) { m.Clients = m.Clients[1:] }, "model.clients", fielderr.ErrRequired},
		{"a client ID other than the service's", func(m *Model) { m.Clients[0].ClientID = "shop-order" },
			"model.clients[0].clientID", fielderr.ErrConflict},
		{"an audience its callee doesn't validate", func(m *Model) { m.Clients[0].Edges[0].Audience = "bulwark-api" },
			"model.clients[0].edges[0].audience", fielderr.ErrConflict},
		{"an audience of no callee", func(m *Model) { m.Clients[0].Audiences = append(m.Clients[0].Audiences, "order") },
			"model.clients[0].audiences[2]", fielderr.ErrForbidden},
	}
	cfg := config.Defaults(config.Prod)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Compile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			tc.mutate(&m)
			hasProblem(t, "Validate", m.Validate(), tc.path, tc.kind)
		})
	}
}

func hasProblem(t *testing.T, what string, err error, path string, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: error %v is not %v", what, err, kind)
	}
	if !slices.ContainsFunc(fielderr.All(err), func(e *fielderr.Error) bool { return e.Path == path && errors.Is(e, kind) }) {
		t.Errorf("%s: no %v at %s in:\n%v", what, kind, path, err)
	}
}

func sameElements(a, b []string) bool {
	for _, v := range a {
		if !slices.Contains(b, v) {
			return false
		}
	}
	for _, v := range b {
		if !slices.Contains(a, v) {
			return false
		}
	}
	return true
}

func hasDuplicates(v []string) bool {
	for i, s := range v {
		if slices.Index(v, s) != i {
			return true
		}
	}
	return false
}

func cloneGraph(t *testing.T, g graph.Graph) graph.Graph {
	t.Helper()
	raw, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	var out graph.Graph
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
