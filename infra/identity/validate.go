package identity

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
)

// Validate checks the invariants the identity rests on, whoever built the
// model (the compiler, or a hand-edited one a renderer reads): every
// error names its field under "model".
//
//   - Tokens live minutes: the access token between
//     config.MinAccessTokenLifespan and config.MaxAccessTokenLifespan, the
//     refresh token at most config.MaxRefreshTokenLifespan; refresh
//     tokens rotate and a reuse is refused.
//   - The browser client is public: authorization code (and its refresh
//     token) only, PKCE S256, exact https redirect URIs and origins (http
//     only to a loopback host), no scope or audience its edges don't need.
//   - Each service has exactly one confidential client, its ID the
//     service's name, with only client credentials and exactly the scopes
//     and callee audiences of its edges.
//   - Every scope a client holds is a client scope of the model, and every
//     audience is the callee's.
func (m *Model) Validate() error {
	var l fielderr.List
	bad := l.Add
	r := m.Realm
	if r.Name == "" {
		bad(fielderr.ErrRequired, "model.realm.name", "must name the realm")
	}
	var roles []string
	for i, role := range r.Roles {
		if slices.Contains(roles, role.Name) {
			bad(fielderr.ErrDuplicate, fmt.Sprintf("model.realm.roles[%d].name", i), "%q is defined twice", role.Name)
		}
		roles = append(roles, role.Name)
	}
	for _, want := range []string{RoleUser, RoleAdmin} {
		if !slices.Contains(roles, want) {
			bad(fielderr.ErrRequired, "model.realm.roles", "lacks the role %q the services check", want)
		}
	}
	if !slices.Contains(roles, r.DefaultRole) {
		bad(fielderr.ErrUnknown, "model.realm.defaultRole", "%q is not a realm role", r.DefaultRole)
	}
	minS, maxS := seconds(config.MinAccessTokenLifespan), seconds(config.MaxAccessTokenLifespan)
	if r.AccessTokenLifespan < minS || r.AccessTokenLifespan > maxS {
		bad(fielderr.ErrOutOfRange, "model.realm.accessTokenLifespan", "must be between %ds and %ds, got %ds", minS, maxS, r.AccessTokenLifespan)
	}
	switch maxR := seconds(config.MaxRefreshTokenLifespan); {
	case r.RefreshTokenLifespan > maxR:
		bad(fielderr.ErrOutOfRange, "model.realm.refreshTokenLifespan", "%ds is above the maximum of %ds", r.RefreshTokenLifespan, maxR)
	case r.RefreshTokenLifespan <= r.AccessTokenLifespan:
		bad(fielderr.ErrOutOfRange, "model.realm.refreshTokenLifespan", "must be longer than the access token's %ds, got %ds", r.AccessTokenLifespan, r.RefreshTokenLifespan)
	}
	if c := r.AuthorizationCodeLifespan; c < 1 || c > 600 {
		bad(fielderr.ErrOutOfRange, "model.realm.authorizationCodeLifespan", "must be between 1s and 600s, got %ds", c)
	}
	if !r.RefreshTokenRotation {
		bad(fielderr.ErrForbidden, "model.realm.refreshTokenRotation", "refresh tokens must rotate at each use")
	}
	if r.RefreshTokenMaxReuse != 0 {
		bad(fielderr.ErrForbidden, "model.realm.refreshTokenMaxReuse", "a used refresh token must be refused, got %d reuses", r.RefreshTokenMaxReuse)
	}

	audienceOf := map[string]string{}
	seenAud := map[string]int{}
	for i, a := range m.APIs {
		p := fmt.Sprintf("model.apis[%d]", i)
		if a.Audience == "" || strings.ContainsAny(a.Audience, " *,") {
			bad(fielderr.ErrInvalid, p+".audience", "must be one audience, got %q", a.Audience)
		}
		if j, dup := seenAud[a.Audience]; dup {
			bad(fielderr.ErrDuplicate, p+".audience", "%q is also model.apis[%d]: two validators would accept each other's tokens", a.Audience, j)
		}
		seenAud[a.Audience] = i
		audienceOf[a.Service] = a.Audience
	}
	gatewayAudience, ok := audienceOf[graph.GatewayName]
	if !ok {
		bad(fielderr.ErrRequired, "model.apis", "lacks the gateway's audience")
	}

	scopes := map[string]bool{}
	for i, s := range m.Scopes {
		p := fmt.Sprintf("model.scopes[%d]", i)
		if scopes[s.Name] {
			bad(fielderr.ErrDuplicate, p+".name", "%q is defined twice", s.Name)
		}
		scopes[s.Name] = true
		if len(s.Edges) == 0 {
			bad(fielderr.ErrUnknown, p, "scope %q is named by no edge", s.Name)
		}
	}

	b := m.BrowserClient
	const bp = "model.browserClient"
	if b.ClientID == "" {
		bad(fielderr.ErrRequired, bp+".clientID", "must be set")
	}
	if !slices.Contains(b.GrantTypes, GrantAuthorizationCode) {
		bad(fielderr.ErrRequired, bp+".grantTypes", "the browser logs in with %s", GrantAuthorizationCode)
	}
	for i, gt := range b.GrantTypes {
		if gt != GrantAuthorizationCode && gt != GrantRefreshToken {
			bad(fielderr.ErrForbidden, fmt.Sprintf("%s.grantTypes[%d]", bp, i), "a public client may use only %s and %s, got %q", GrantAuthorizationCode, GrantRefreshToken, gt)
		}
	}
	if !slices.Equal(b.ResponseTypes, []string{ResponseCode}) {
		bad(fielderr.ErrForbidden, bp+".responseTypes", "only %q (no implicit flow), got %v", ResponseCode, b.ResponseTypes)
	}
	if b.TokenEndpointAuthMethod != AuthNone {
		bad(fielderr.ErrForbidden, bp+".tokenEndpointAuthMethod", "a browser keeps no secret: %q, got %q", AuthNone, b.TokenEndpointAuthMethod)
	}
	if b.PKCEMethod != PKCES256 {
		bad(fielderr.ErrForbidden, bp+".pkceMethod", "PKCE %s is required of every public client, got %q", PKCES256, b.PKCEMethod)
	}
	if len(b.RedirectURIs) == 0 {
		bad(fielderr.ErrRequired, bp+".redirectURIs", "must list an exact redirect URI")
	}
	for i, u := range b.RedirectURIs {
		exact(bad, fmt.Sprintf("%s.redirectURIs[%d]", bp, i), u, false)
	}
	for i, u := range b.WebOrigins {
		exact(bad, fmt.Sprintf("%s.webOrigins[%d]", bp, i), u, true)
	}
	m.checkGrants(bad, bp, b.Edges, audienceOf)
	need := union(b.Edges)
	for i, s := range b.Scopes {
		p := fmt.Sprintf("%s.scopes[%d]", bp, i)
		switch {
		case !slices.Contains(need, s):
			bad(fielderr.ErrForbidden, p, "%q is needed by none of the client's edges (%s)", s, strings.Join(need, ", "))
		case !scopes[s]:
			bad(fielderr.ErrUnknown, p, "%q is not a client scope of the model", s)
		}
	}
	wantAud := append([]string{gatewayAudience}, audiences(b.Edges)...)
	sameSet(bad, bp+".audiences", b.Audiences, wantAud, "audience")

	ids := map[string]string{b.ClientID: bp}
	services := map[string]int{}
	for i, c := range m.Clients {
		p := fmt.Sprintf("model.clients[%d]", i)
		if other, dup := ids[c.ClientID]; dup {
			bad(fielderr.ErrDuplicate, p+".clientID", "%q is also %s", c.ClientID, other)
		}
		ids[c.ClientID] = p
		if j, dup := services[c.Service]; dup {
			bad(fielderr.ErrDuplicate, p+".service", "%q already has model.clients[%d]: one client per service", c.Service, j)
		}
		services[c.Service] = i
		if _, ok := audienceOf[c.Service]; !ok || c.Service == graph.GatewayName {
			bad(fielderr.ErrUnknown, p+".service", "%q is no service of the model", c.Service)
		}
		if c.ClientID != c.Service {
			bad(fielderr.ErrConflict, p+".clientID", "%q is not the service's name %q (the client_id its oauth-client secret holds)", c.ClientID, c.Service)
		}
		if !slices.Equal(c.GrantTypes, []string{GrantClientCredentials}) {
			bad(fielderr.ErrForbidden, p+".grantTypes", "a service's client has only %s, got %v", GrantClientCredentials, c.GrantTypes)
		}
		if c.TokenEndpointAuthMethod != AuthClientSecretPost && c.TokenEndpointAuthMethod != AuthClientSecretBasic {
			bad(fielderr.ErrForbidden, p+".tokenEndpointAuthMethod", "a confidential client authenticates with its secret, got %q", c.TokenEndpointAuthMethod)
		}
		m.checkGrants(bad, p, c.Edges, audienceOf)
		for j, gr := range c.Edges {
			if !strings.HasPrefix(gr.Edge, c.Service+".") {
				bad(fielderr.ErrConflict, fmt.Sprintf("%s.edges[%d].edge", p, j), "%q is not an edge of %s", gr.Edge, c.Service)
			}
		}
		sameSet(bad, p+".scopes", c.Scopes, union(c.Edges), "scope")
		for j, s := range c.Scopes {
			if !scopes[s] {
				bad(fielderr.ErrUnknown, fmt.Sprintf("%s.scopes[%d]", p, j), "%q is not a client scope of the model", s)
			}
		}
		sameSet(bad, p+".audiences", c.Audiences, audiences(c.Edges), "audience")
	}
	for svc := range audienceOf {
		if _, ok := services[svc]; !ok && svc != graph.GatewayName {
			bad(fielderr.ErrRequired, "model.clients", "service %q has no confidential client", svc)
		}
	}
	return l.Err()
}

// checkGrants holds each grant's audience to its callee's.
func (m *Model) checkGrants(bad func(error, string, string, ...any), path string, grants []Grant, audienceOf map[string]string) {
	for i, g := range grants {
		want, ok := audienceOf[g.Callee]
		switch {
		case !ok || g.Callee == graph.GatewayName:
			bad(fielderr.ErrUnknown, fmt.Sprintf("%s.edges[%d].callee", path, i), "%q is no service of the model", g.Callee)
		case g.Audience != want:
			bad(fielderr.ErrConflict, fmt.Sprintf("%s.edges[%d].audience", path, i), "%q is not what %s requires (%q)", g.Audience, g.Callee, want)
		}
	}
}

// sameSet reports what got holds beyond want (forbidden: more than the
// edges need), what it lacks (required) and what it holds twice.
func sameSet(bad func(error, string, string, ...any), path string, got, want []string, what string) {
	for i, v := range got {
		switch {
		case slices.Index(got, v) != i:
			bad(fielderr.ErrDuplicate, fmt.Sprintf("%s[%d]", path, i), "%s %q is listed twice", what, v)
		case !slices.Contains(want, v):
			bad(fielderr.ErrForbidden, fmt.Sprintf("%s[%d]", path, i), "%s %q is needed by none of the client's edges", what, v)
		}
	}
	for _, v := range want {
		if !slices.Contains(got, v) {
			bad(fielderr.ErrRequired, path, "lacks the %s %q its edges need", what, v)
		}
	}
}

// exact holds a redirect URI or web origin to one exact URL: no wildcard,
// no fragment, https or http to a loopback host.
func exact(bad func(error, string, string, ...any), path, raw string, origin bool) {
	if strings.Contains(raw, "*") || raw == "+" {
		bad(fielderr.ErrForbidden, path, "%q is not an exact URL (no wildcards)", raw)
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.User != nil:
		bad(fielderr.ErrInvalid, path, "must be an absolute URL, got %q", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		bad(fielderr.ErrInvalid, path, "%q holds a fragment", raw)
	case origin && (u.Path != "" || u.RawQuery != ""):
		bad(fielderr.ErrInvalid, path, "an origin has no path, got %q", raw)
	case u.Scheme == "https":
	case u.Scheme == "http" && loopback(u.Hostname()):
	default:
		bad(fielderr.ErrForbidden, path, "must use https (http only to a loopback host), got %q", raw)
	}
}

func loopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
