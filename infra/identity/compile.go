package identity

import (
	"fmt"
	"slices"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// OAuth 2.0 values the model uses.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	ResponseCode           = "code"
	PKCES256               = "S256"
	// AuthNone: a public client authenticates with nothing (PKCE binds
	// its code instead).
	AuthNone = "none"
	// AuthClientSecretPost: the client's ID and secret in the token
	// request's form body, which is how the services' outbound package
	// sends them (oauth2.AuthStyleInParams).
	AuthClientSecretPost  = "client_secret_post"
	AuthClientSecretBasic = "client_secret_basic"
)

// Realm roles the services' routes check.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// Roles are the realm roles, in order.
var Roles = []Role{
	{Name: RoleUser, Description: "Every signed-in user (the default role)."},
	{Name: RoleAdmin, Description: "Administers the platform's users (the user service's GET /api/v1/users)."},
}

// AuthorizationCodeLifespan is how long an authorization code may wait
// for its exchange: a browser redirect takes seconds.
const AuthorizationCodeLifespan = time.Minute

// Audience is the audience a service requires of every token it accepts:
// its name. The services ask for it by that name (order's client
// credentials request audience=payment), and the browser's tokens carry
// it for each service the gateway routes to.
func Audience(s *graph.Service) string { return s.Name }

// Compile turns the configuration (bulwark:identity, checked again here,
// and the graph) into the identity model, and checks the model's
// invariants before returning it.
func Compile(cfg *config.Config) (Model, error) {
	if err := cfg.ValidateIdentity(); err != nil {
		return Model{}, err
	}
	id := cfg.Identity
	g := &cfg.Graph
	m := Model{
		Environment: string(cfg.Environment),
		Provider:    id.Provider,
		Endpoints:   Endpoints{Issuer: id.Issuer, JWKSURI: id.JWKSURI(), Token: id.TokenURL(), Authorization: id.AuthorizationURL()},
		Realm: Realm{
			Name: id.Realm, Roles: slices.Clone(Roles), DefaultRole: RoleUser,
			AccessTokenLifespan:       seconds(id.AccessTokenLifespan),
			RefreshTokenLifespan:      seconds(id.RefreshTokenLifespan),
			AuthorizationCodeLifespan: seconds(AuthorizationCodeLifespan),
			RefreshTokenRotation:      true,
			RefreshTokenMaxReuse:      0,
		},
		APIs: []API{{Audience: id.Audience, Service: graph.GatewayName}},
	}
	for i := range g.Services {
		m.APIs = append(m.APIs, API{Audience: Audience(&g.Services[i]), Service: g.Services[i].Name, Scopes: []string{}})
	}
	grants := map[string][]Grant{}
	for _, e := range g.Edges() {
		gr := Grant{Edge: naming.EdgeID(e.From.Name, e.From.Namespace, e.To.Name, e.To.Namespace),
			Callee: e.To.Name, Audience: Audience(e.To), Scopes: e.Scopes()}
		grants[e.From.Name] = append(grants[e.From.Name], gr)
		api := &m.APIs[1+slices.IndexFunc(g.Services, func(s graph.Service) bool { return s.Name == e.To.Name })]
		for _, sc := range gr.Scopes {
			api.Scopes = appendNew(api.Scopes, sc)
			i := slices.IndexFunc(m.Scopes, func(s Scope) bool { return s.Name == sc })
			if i < 0 {
				m.Scopes = append(m.Scopes, Scope{Name: sc})
				i = len(m.Scopes) - 1
			}
			m.Scopes[i].Edges = append(m.Scopes[i].Edges, gr.Edge)
		}
	}
	gw := grants[graph.GatewayName]
	// The gateway checks browser tokens for its routes' scopes.
	m.APIs[0].Scopes = union(gw)
	b := PublicClient{
		ClientID:                id.BrowserClient.ClientID,
		GrantTypes:              []string{GrantAuthorizationCode, GrantRefreshToken},
		ResponseTypes:           []string{ResponseCode},
		TokenEndpointAuthMethod: AuthNone,
		PKCEMethod:              PKCES256,
		RedirectURIs:            slices.Clone(id.BrowserClient.RedirectURIs),
		WebOrigins:              slices.Clone(id.BrowserClient.WebOrigins),
		Scopes:                  union(gw),
		Audiences:               append([]string{id.Audience}, audiences(gw)...),
		Edges:                   gw,
	}
	if len(id.BrowserClient.Scopes) > 0 {
		b.Scopes = slices.Clone(id.BrowserClient.Scopes)
	}
	m.BrowserClient = b
	for i := range g.Services {
		s := &g.Services[i]
		mine := grants[s.Name]
		m.Clients = append(m.Clients, ConfidentialClient{
			ClientID: s.Name, Service: s.Name, Namespace: s.Namespace,
			GrantTypes:              []string{GrantClientCredentials},
			TokenEndpointAuthMethod: AuthClientSecretPost,
			Scopes:                  union(mine),
			Audiences:               audiences(mine),
			Edges:                   mine,
		})
	}
	if err := m.Validate(); err != nil {
		// The compiler's own output breaking its invariants is a bug, but
		// one that must stop the program before anything is registered.
		return Model{}, fmt.Errorf("compiled identity model: %w", err)
	}
	return m, nil
}

// union is the scopes of the grants, each once, in order.
func union(grants []Grant) []string {
	out := []string{}
	for _, g := range grants {
		for _, s := range g.Scopes {
			out = appendNew(out, s)
		}
	}
	return out
}

// audiences are the grants' callees' audiences, each once, in order.
func audiences(grants []Grant) []string {
	out := []string{}
	for _, g := range grants {
		out = appendNew(out, g.Audience)
	}
	return out
}

func appendNew(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

func seconds(d time.Duration) int { return int(d / time.Second) }

// Manifests renders the model for golden files and review.
func (m Model) Manifests() ([]byte, error) {
	y, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return append([]byte("# the identity model: realm, scopes, the browser client and one confidential client per service\n"), y...), nil
}
