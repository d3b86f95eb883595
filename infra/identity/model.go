// Package identity compiles the service graph and bulwark:identity into
// the platform's identity model: the realm (roles, token lifetimes,
// refresh-token rotation), one client scope per scope any graph call
// names, the edge's public browser client (authorization code with PKCE
// S256, exact redirect URIs and web origins) and one confidential client
// per service holding only the client-credentials grant and exactly the
// scopes of its outgoing edges, with one audience per callee. Pure
// functions, golden-tested per stack; the providers (Keycloak's realm
// import, Hydra's clients) are rendered from the Model, never from the
// graph directly.
package identity

import "slices"

// Model is the identity of one environment, provider-neutral.
type Model struct {
	Environment string `json:"environment"`
	// Provider renders the model: "keycloak" or "hydra".
	Provider  string    `json:"provider"`
	Endpoints Endpoints `json:"endpoints"`
	Realm     Realm     `json:"realm"`
	// APIs are the audiences token validators require: the gateway's,
	// then one per service (its name).
	APIs []API `json:"apis"`
	// Scopes are the client scopes, one per scope any graph call names.
	Scopes []Scope `json:"scopes"`
	// BrowserClient is the edge's public client.
	BrowserClient PublicClient `json:"browserClient"`
	// Clients are the services' confidential clients, one per service in
	// graph order.
	Clients []ConfidentialClient `json:"clients"`
}

// Endpoints are the provider's URLs, derived from the issuer: what the
// gateway, the services and the browser app use.
type Endpoints struct {
	Issuer        string `json:"issuer"`
	JWKSURI       string `json:"jwksUri"`
	Token         string `json:"token"`
	Authorization string `json:"authorization"`
}

// Realm is the provider's token policy and roles.
type Realm struct {
	Name string `json:"name"`
	// Roles are the realm roles the services' routes check.
	Roles []Role `json:"roles"`
	// DefaultRole is granted to every user who logs in.
	DefaultRole string `json:"defaultRole"`
	// Lifetimes in seconds. AccessTokenLifespan bounds every access token,
	// browser or client credentials.
	AccessTokenLifespan       int `json:"accessTokenLifespan"`
	RefreshTokenLifespan      int `json:"refreshTokenLifespan"`
	AuthorizationCodeLifespan int `json:"authorizationCodeLifespan"`
	// RefreshTokenRotation: each refresh returns a new refresh token and
	// the old one is dead (Keycloak's revokeRefreshToken); a reuse is
	// refused (RefreshTokenMaxReuse 0).
	RefreshTokenRotation bool `json:"refreshTokenRotation"`
	RefreshTokenMaxReuse int  `json:"refreshTokenMaxReuse"`
}

// Role is a realm role.
type Role struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// API is one audience a token validator requires.
type API struct {
	Audience string `json:"audience"`
	// Service validates tokens for it ("gateway" for the edge).
	Service string `json:"service"`
	// Scopes its callers' edges name.
	Scopes []string `json:"scopes"`
}

// Scope is one client scope, put in the token's scope claim when granted.
type Scope struct {
	Name string `json:"name"`
	// Edges that name it (naming.EdgeID).
	Edges []string `json:"edges"`
}

// Grant is what one edge of a client's caller needs: its callee's
// audience and the scopes of its calls.
type Grant struct {
	// Edge is the graph edge (naming.EdgeID) the grant traces to.
	Edge     string   `json:"edge"`
	Callee   string   `json:"callee"`
	Audience string   `json:"audience"`
	Scopes   []string `json:"scopes"`
}

// PublicClient is a browser app's client: no secret, the authorization
// code flow with PKCE, refresh tokens that rotate.
type PublicClient struct {
	ClientID string `json:"clientID"`
	// GrantTypes: authorization_code and refresh_token (the code flow's
	// rotating refresh token), nothing else.
	GrantTypes    []string `json:"grantTypes"`
	ResponseTypes []string `json:"responseTypes"`
	// TokenEndpointAuthMethod is "none": a browser keeps no secret.
	TokenEndpointAuthMethod string `json:"tokenEndpointAuthMethod"`
	// PKCEMethod is required on every authorization request: S256.
	PKCEMethod   string   `json:"pkceMethod"`
	RedirectURIs []string `json:"redirectURIs"`
	WebOrigins   []string `json:"webOrigins"`
	// Scopes the browser may ask for: its edges' (the gateway's) or the
	// configured subset.
	Scopes []string `json:"scopes"`
	// Audiences every browser token carries: the gateway's, then each
	// gateway callee's (the services check their own).
	Audiences []string `json:"audiences"`
	// Edges are the gateway's edges the browser's tokens serve.
	Edges []Grant `json:"edges"`
}

// ConfidentialClient is one service's client: client credentials only,
// exactly the scopes its outgoing edges name, an audience per callee.
type ConfidentialClient struct {
	// ClientID is the service's name: what the secrets layer seeds as
	// client_id of its oauth-client secret.
	ClientID  string `json:"clientID"`
	Service   string `json:"service"`
	Namespace string `json:"namespace"`
	// GrantTypes: client_credentials, nothing else.
	GrantTypes []string `json:"grantTypes"`
	// TokenEndpointAuthMethod is how the service sends its secret
	// (services/internal/platform/outbound: in the form body).
	TokenEndpointAuthMethod string `json:"tokenEndpointAuthMethod"`
	// Scopes are the union of its edges' scopes, in edge order.
	Scopes []string `json:"scopes"`
	// Audiences are its callees' audiences (one audience mapper each).
	Audiences []string `json:"audiences"`
	// Edges are the service's outgoing edges.
	Edges []Grant `json:"edges,omitempty"`
	// Secret is the Secret (in the service's namespace) its client ID and
	// secret are synced into; empty when the service names no
	// oauth-client secret in the graph (it can't fetch tokens then).
	Secret string `json:"secret,omitempty"`
}

// Client returns the confidential client of a service.
func (m *Model) Client(service string) (ConfidentialClient, bool) {
	i := slices.IndexFunc(m.Clients, func(c ConfidentialClient) bool { return c.Service == service })
	if i < 0 {
		return ConfidentialClient{}, false
	}
	return m.Clients[i], true
}

// AudienceOf is the audience a service (or "gateway") requires of the
// tokens it accepts: what its OIDC_AUDIENCE must be.
func (m *Model) AudienceOf(service string) (string, bool) {
	i := slices.IndexFunc(m.APIs, func(a API) bool { return a.Service == service })
	if i < 0 {
		return "", false
	}
	return m.APIs[i].Audience, true
}
