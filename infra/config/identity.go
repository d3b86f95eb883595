package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
)

// Identity is the OAuth 2.0 / OIDC provider the platform's tokens come
// from, and what infra/identity compiles its realm and clients from: the
// one source of the issuer and the gateway's audience (bulwark:edge.jwt
// defaults from it and must agree with it). The confidential clients and
// their scopes are not configured: they follow from the graph.
type Identity struct {
	// Provider is "keycloak" (the default) or "hydra" (Ory Hydra).
	Provider string `json:"provider"`
	// Realm is the Keycloak realm the clients live in; with Keycloak the
	// issuer ends in /realms/<realm>.
	Realm string `json:"realm"`
	// Issuer is the tokens' iss: the URL the gateway and the services
	// discover the provider at (https outside local and ci).
	Issuer string `json:"issuer"`
	// Audience is the gateway's: every browser token carries it, and the
	// gateway requires it (bulwark:edge.jwt.audiences holds it).
	Audience string `json:"audience"`
	// BrowserClient is the edge's public client: the single-page app that
	// logs users in with the authorization code flow and PKCE.
	BrowserClient BrowserClient `json:"browserClient"`
	// AccessTokenLifespan bounds every access token (browser and client
	// credentials): between MinAccessTokenLifespan and
	// MaxAccessTokenLifespan, shorter in prod.
	AccessTokenLifespan time.Duration `json:"accessTokenLifespan"`
	// RefreshTokenLifespan is how long a browser session's refresh token
	// lives unused. Refresh tokens rotate at each use and a reused one is
	// refused: that is not configurable.
	RefreshTokenLifespan time.Duration `json:"refreshTokenLifespan"`
	// Install runs the provider in the cluster: Keycloak, by its
	// operator, as the Keycloak resource Instance in Namespace. The
	// services' egress then names its pods (KeycloakPodLabels) on
	// KeycloakHTTPSPort. False means External.
	Install   bool   `json:"install"`
	Namespace string `json:"namespace"`
	Instance  string `json:"instance"`
	// External is where the services reach a provider Bulwark does not
	// install (install: false): the issuer's host or the address it
	// resolves to, its port, the network (cidr) the services' egress may
	// reach it at, and tls. Port 0 is refused: nothing hands a port over.
	External External `json:"external"`
}

// KeycloakHTTPSPort is the port the Keycloak operator's pods serve HTTPS
// on (its Constants.KEYCLOAK_HTTPS_PORT).
const KeycloakHTTPSPort = 8443

// KeycloakPodLabels are the labels the Keycloak operator (26.0) puts on
// the pods of the Keycloak resource Instance: its default labels
// (app=keycloak, managed-by) and the instance label with the resource's
// name.
func (i *Identity) KeycloakPodLabels() map[string]string {
	return map[string]string{
		"app":                          "keycloak",
		"app.kubernetes.io/managed-by": "keycloak-operator",
		"app.kubernetes.io/instance":   i.Instance,
	}
}

// InstallsKeycloak says whether the platform runs Keycloak in the
// cluster (by its operator).
func (i *Identity) InstallsKeycloak() bool { return i.Install && i.Provider == "keycloak" }

// KeycloakService is the Service the Keycloak operator creates for the
// Keycloak resource Instance (HTTPS on KeycloakHTTPSPort).
func (i *Identity) KeycloakService() string { return i.Instance + "-service" }

// KeycloakServiceHost is that Service's in-cluster name.
func (i *Identity) KeycloakServiceHost() string {
	return i.KeycloakService() + "." + i.Namespace + ".svc.cluster.local"
}

// ClientSecretsSecret is the Secret in Namespace that holds every
// confidential client's secret under its client ID, for an installed
// Keycloak's realm import (External Secrets syncs it from Vault).
func (i *Identity) ClientSecretsSecret() string { return i.Instance + "-client-secrets" }

// IssuerHostPort is the issuer URL's host and port (443 or 80 when the
// URL names none): where the services send discovery, JWKS and token
// requests.
func (i *Identity) IssuerHostPort() (string, int) {
	u, err := url.Parse(i.Issuer)
	if err != nil {
		return "", 0
	}
	if p, err := strconv.Atoi(u.Port()); err == nil {
		return u.Hostname(), p
	}
	if u.Scheme == "http" {
		return u.Hostname(), 80
	}
	return u.Hostname(), 443
}

// BrowserClient is the public client of the edge's browser app.
type BrowserClient struct {
	ClientID string `json:"clientID"`
	// RedirectURIs are the exact URLs the provider may send a code to: no
	// wildcard, no fragment; https, or http on a loopback host in local
	// and ci.
	RedirectURIs []string `json:"redirectURIs"`
	// WebOrigins are the origins (scheme://host[:port]) allowed to call
	// the token endpoint from the browser (CORS), each the origin of a
	// redirect URI.
	WebOrigins []string `json:"webOrigins"`
	// Scopes the browser may ask for; empty means every scope of the
	// gateway's calls. Each must be a scope of a gateway call.
	Scopes []string `json:"scopes"`
}

// Identity providers.
var IdentityProviders = []string{"keycloak", "hydra"}

// Token lifetime bounds. An access token can't be revoked once issued:
// it lives minutes; a refresh token at most a day.
const (
	MinAccessTokenLifespan  = 5 * time.Minute
	MaxAccessTokenLifespan  = 15 * time.Minute
	MaxRefreshTokenLifespan = 24 * time.Hour
)

// JWKSURI is where the provider publishes its signing keys.
func (i *Identity) JWKSURI() string {
	if i.Provider == "hydra" {
		return strings.TrimSuffix(i.Issuer, "/") + "/.well-known/jwks.json"
	}
	return strings.TrimSuffix(i.Issuer, "/") + "/protocol/openid-connect/certs"
}

// TokenURL is the provider's token endpoint.
func (i *Identity) TokenURL() string {
	if i.Provider == "hydra" {
		return strings.TrimSuffix(i.Issuer, "/") + "/oauth2/token"
	}
	return strings.TrimSuffix(i.Issuer, "/") + "/protocol/openid-connect/token"
}

// AuthorizationURL is the provider's authorization endpoint.
func (i *Identity) AuthorizationURL() string {
	if i.Provider == "hydra" {
		return strings.TrimSuffix(i.Issuer, "/") + "/oauth2/auth"
	}
	return strings.TrimSuffix(i.Issuer, "/") + "/protocol/openid-connect/auth"
}

// EdgeJWT is what the gateway trusts: the provider's issuer and keys and
// the gateway's audience. bulwark:edge.jwt defaults to it.
func (i *Identity) EdgeJWT() JWT {
	return JWT{Issuer: i.Issuer, JWKSURI: i.JWKSURI(), Audiences: []string{i.Audience}}
}

// derived are defaults that follow from another key: after the stack's
// value of the key is decoded, they are computed again from it, and keys
// decoded later (edge follows identity) override only what they set.
var derived = map[string]func(*Config){
	"identity": func(c *Config) { c.Edge.JWT = c.Identity.EdgeJWT() },
}

// ValidateIdentity checks bulwark:identity alone (with the graph and
// bulwark:edge.jwt it must agree with): what Validate reports about it.
// The identity compiler calls it on its input.
func (c *Config) ValidateIdentity() error {
	var l fielderr.List
	c.validateIdentity(func(kind error, path, format string, args ...any) {
		l.Add(kind, Namespace+":"+path, format, args...)
	})
	return l.Err()
}

var (
	realmRe    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	clientIDRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$`)
)

func (c *Config) validateIdentity(bad badFunc) {
	i := &c.Identity
	local := c.Environment == Local || c.Environment == CI
	g := &c.Graph
	if !slices.Contains(IdentityProviders, i.Provider) {
		bad(fielderr.ErrUnsupported, "identity.provider", "%q is not one of %s", i.Provider, strings.Join(IdentityProviders, ", "))
	}
	if !realmRe.MatchString(i.Realm) {
		bad(fielderr.ErrInvalid, "identity.realm", "%q is not a realm name of lower-case letters, digits and '-'", i.Realm)
	}
	u, err := url.Parse(i.Issuer)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || strings.Contains(i.Issuer, "#"):
		bad(fielderr.ErrInvalid, "identity.issuer", "must be an absolute http(s) URL without query or fragment, got %q", i.Issuer)
	case u.Scheme != "https" && (u.Scheme != "http" || !local):
		bad(fielderr.ErrForbidden, "identity.issuer", "must use https outside local and ci, got %q", i.Issuer)
	case i.Provider == "keycloak" && strings.TrimSuffix(u.Path, "/") != "/realms/"+i.Realm:
		bad(fielderr.ErrConflict, "identity.issuer", "a Keycloak issuer ends in /realms/%s (identity.realm), got %q", i.Realm, i.Issuer)
	}
	switch {
	case strings.TrimSpace(i.Audience) == "" || strings.ContainsAny(i.Audience, " \t,*"):
		bad(fielderr.ErrInvalid, "identity.audience", "must be one audience such as \"bulwark-api\", got %q", i.Audience)
	case g.Service(i.Audience) != nil:
		// A service's audience is its name: the gateway's must differ, or
		// a browser token would be a token for that service.
		bad(fielderr.ErrConflict, "identity.audience", "%q is a service's name, the audience of that service's tokens", i.Audience)
	}
	if i.AccessTokenLifespan < MinAccessTokenLifespan || i.AccessTokenLifespan > MaxAccessTokenLifespan {
		bad(fielderr.ErrOutOfRange, "identity.accessTokenLifespan", "must be between %s and %s, got %s", MinAccessTokenLifespan, MaxAccessTokenLifespan, i.AccessTokenLifespan)
	}
	switch {
	case i.RefreshTokenLifespan > MaxRefreshTokenLifespan:
		bad(fielderr.ErrOutOfRange, "identity.refreshTokenLifespan", "%s is above the maximum of %s", shortDuration(i.RefreshTokenLifespan), shortDuration(MaxRefreshTokenLifespan))
	case i.RefreshTokenLifespan <= i.AccessTokenLifespan:
		bad(fielderr.ErrOutOfRange, "identity.refreshTokenLifespan", "must be longer than accessTokenLifespan (%s), got %s", i.AccessTokenLifespan, i.RefreshTokenLifespan)
	}
	i.BrowserClient.validate(local, g, bad)
	i.validateLocation(local, c.Data.Postgres.Install, bad)
	if i.Install && slices.Contains(g.Namespaces(), i.Namespace) {
		// The provider's namespace holds every client's secret: no
		// service shares it.
		bad(fielderr.ErrConflict, "identity.namespace", "%q is a namespace of the graph's services; the identity provider gets its own", i.Namespace)
	}
	// One source: the gateway trusts the provider's tokens, never a
	// second issuer typed by hand.
	if c.Edge.JWT.Issuer != i.Issuer {
		bad(fielderr.ErrConflict, "edge.jwt.issuer", "%q is not identity.issuer %q (edge.jwt follows identity; leave it unset)", c.Edge.JWT.Issuer, i.Issuer)
	}
	if !slices.Contains(c.Edge.JWT.Audiences, i.Audience) {
		bad(fielderr.ErrConflict, "edge.jwt.audiences", "%s lacks identity.audience %q, which every browser token carries", quoteList(c.Edge.JWT.Audiences), i.Audience)
	}
}

// validateLocation checks where the services reach the provider: the
// network policies' IdP peer and, in REGISTRY_ONLY meshes, the
// ServiceEntry are compiled from it.
func (i *Identity) validateLocation(local, postgresInstalled bool, bad badFunc) {
	if i.Install {
		if i.Provider != "keycloak" {
			bad(fielderr.ErrConflict, "identity.install", "installs Keycloak (by its operator), but identity.provider is %q: set install: false and identity.external", i.Provider)
		}
		if len(validation.IsDNS1123Label(i.Namespace)) > 0 {
			bad(fielderr.ErrInvalid, "identity.namespace", "%q is not a DNS-1123 label (the namespace of the Keycloak resource)", i.Namespace)
		}
		if len(validation.IsDNS1123Label(i.Instance)) > 0 {
			bad(fielderr.ErrInvalid, "identity.instance", "%q is not a DNS-1123 label (the Keycloak resource's name, its pods' app.kubernetes.io/instance)", i.Instance)
		}
		if !postgresInstalled {
			// Keycloak's database and its owner role come from the
			// installed PostgreSQL (CloudNativePG); a managed one would need
			// a role and a password nothing here can hand Keycloak.
			bad(fielderr.ErrConflict, "identity.install", "installs Keycloak with its database in the installed PostgreSQL, but data.postgres.install is false")
		}
		return
	}
	const p = "identity.external"
	e := i.External
	if strings.TrimSpace(e.Host) == "" {
		bad(fielderr.ErrRequired, p+".host", "must name the identity provider's host (install: false)")
	}
	if e.Port < 1 || e.Port > 65535 {
		// No runner hands an IdP port over: a rule without the port would
		// open every port of the address.
		bad(fielderr.ErrOutOfRange, p+".port", "must be between 1 and 65535, got %d", e.Port)
	}
	_, network, err := net.ParseCIDR(e.CIDR)
	switch {
	case err != nil:
		bad(fielderr.ErrInvalid, p+".cidr", "%q is not a CIDR (the network the services' egress to the identity provider is allowed to)", e.CIDR)
	case net.ParseIP(e.Host) != nil && !network.Contains(net.ParseIP(e.Host)):
		bad(fielderr.ErrConflict, p+".cidr", "%s does not hold the host %s", e.CIDR, e.Host)
	}
	if local {
		// The runner's Hydra on loopback, on its public port; the
		// environments' default issuer does not name it (yet), so the
		// agreement below is held only outside local and ci.
		return
	}
	// Outside local and ci, what the services dial is the issuer: the
	// peer must be the issuer's address and port, or the policy allows one
	// place and the services go to another.
	host, port := i.IssuerHostPort()
	if e.Host != host && net.ParseIP(e.Host) == nil {
		bad(fielderr.ErrConflict, p+".host", "%q is neither identity.issuer's host %q nor an address it resolves to", e.Host, host)
	}
	if e.Port != port {
		bad(fielderr.ErrConflict, p+".port", "%d is not identity.issuer's port %d", e.Port, port)
	}
	if !e.TLS {
		bad(fielderr.ErrForbidden, p+".tls", "an identity provider outside local and ci must require TLS (its issuer is https)")
	}
}

func (b *BrowserClient) validate(local bool, g *graph.Graph, bad badFunc) {
	const p = "identity.browserClient"
	switch {
	case b.ClientID == "":
		bad(fielderr.ErrRequired, p+".clientID", "must name the browser app's client")
	case !clientIDRe.MatchString(b.ClientID):
		bad(fielderr.ErrInvalid, p+".clientID", "%q is not a client ID of lower-case letters, digits, '-', '_' and '.'", b.ClientID)
	case g.Service(b.ClientID) != nil:
		bad(fielderr.ErrConflict, p+".clientID", "%q is a service's name, which is that service's own client ID", b.ClientID)
	}
	if len(b.RedirectURIs) == 0 {
		bad(fielderr.ErrRequired, p+".redirectURIs", "must list at least one exact redirect URI")
	}
	origins := map[string]bool{}
	seen := map[string]int{}
	for n, raw := range b.RedirectURIs {
		path := fmt.Sprintf("%s.redirectURIs[%d]", p, n)
		if j, dup := seen[raw]; dup {
			bad(fielderr.ErrDuplicate, path, "%q is also redirectURIs[%d]", raw, j)
			continue
		}
		seen[raw] = n
		if u, ok := exactURL(bad, path, raw, local); ok {
			if u.Path == "" {
				bad(fielderr.ErrInvalid, path, "must name the callback's path, got %q", raw)
			}
			origins[u.Scheme+"://"+u.Host] = true
		}
	}
	if len(b.WebOrigins) == 0 {
		bad(fielderr.ErrRequired, p+".webOrigins", "must list the browser app's origin")
	}
	seen = map[string]int{}
	for n, raw := range b.WebOrigins {
		path := fmt.Sprintf("%s.webOrigins[%d]", p, n)
		if j, dup := seen[raw]; dup {
			bad(fielderr.ErrDuplicate, path, "%q is also webOrigins[%d]", raw, j)
			continue
		}
		seen[raw] = n
		if raw == "+" {
			bad(fielderr.ErrForbidden, path, `"+" (every redirect URI's origin) is not an exact origin`)
			continue
		}
		u, ok := exactURL(bad, path, raw, local)
		switch {
		case !ok:
		case u.Path != "" || u.RawQuery != "":
			bad(fielderr.ErrInvalid, path, "an origin is scheme://host[:port], without a path, got %q", raw)
		case !origins[raw] && len(origins) > 0:
			bad(fielderr.ErrConflict, path, "%q is the origin of no redirect URI", raw)
		}
	}
	gatewayScopes := GatewayScopes(g)
	seen = map[string]int{}
	for n, s := range b.Scopes {
		path := fmt.Sprintf("%s.scopes[%d]", p, n)
		if j, dup := seen[s]; dup {
			bad(fielderr.ErrDuplicate, path, "%q is also scopes[%d]", s, j)
			continue
		}
		seen[s] = n
		if !slices.Contains(gatewayScopes, s) {
			bad(fielderr.ErrUnknown, path, "%q is the scope of no gateway call (the gateway's scopes: %s)", s, strings.Join(gatewayScopes, ", "))
		}
	}
}

// exactURL checks that raw is one exact URL a browser is sent to or
// comes from: absolute, no wildcard, fragment or user info; https, or
// http on a loopback host in local and ci.
func exactURL(bad badFunc, path, raw string, local bool) (*url.URL, bool) {
	if strings.Contains(raw, "*") {
		bad(fielderr.ErrForbidden, path, "%q holds a wildcard: only exact URLs are allowed", raw)
		return nil, false
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		bad(fielderr.ErrInvalid, path, "must be an absolute URL, got %q", raw)
		return nil, false
	case u.Fragment != "" || strings.Contains(raw, "#"):
		bad(fielderr.ErrInvalid, path, "%q holds a fragment, which a redirect URI must not (RFC 6749 3.1.2)", raw)
		return nil, false
	case u.User != nil:
		bad(fielderr.ErrInvalid, path, "%q holds user info", raw)
		return nil, false
	case u.Scheme == "https":
		return u, true
	case u.Scheme == "http" && local && isLoopback(u.Hostname()):
		return u, true
	case u.Scheme == "http":
		bad(fielderr.ErrForbidden, path, "must use https (http only to a loopback host in local and ci), got %q", raw)
	default:
		bad(fielderr.ErrUnsupported, path, "scheme %q is not https, got %q", u.Scheme, raw)
	}
	return nil, false
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// GatewayScopes are the scopes of the gateway's calls, each once, in order:
// what a browser token may carry.
func GatewayScopes(g *graph.Graph) []string {
	var out []string
	for _, c := range g.Gateway.Calls {
		for _, s := range c.Scopes {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

func quoteList(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
