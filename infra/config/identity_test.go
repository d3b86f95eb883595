package config

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-platform/bulwark/internal/fielderr"
)

// Token lifetimes and the browser app's URLs are decided per environment
// in Defaults: prod's access tokens live 5 minutes, dev's 15; only local
// and ci redirect to http://localhost.
func TestIdentityDefaultsPerEnvironment(t *testing.T) {
	want := map[Environment]time.Duration{Local: 15 * time.Minute, CI: 15 * time.Minute, Dev: 15 * time.Minute, Staging: 10 * time.Minute, Prod: 5 * time.Minute}
	for _, env := range Environments {
		id := Defaults(env).Identity
		if id.AccessTokenLifespan != want[env] || id.AccessTokenLifespan < MinAccessTokenLifespan || id.AccessTokenLifespan > MaxAccessTokenLifespan {
			t.Errorf("%s: access tokens live %s, want %s", env, id.AccessTokenLifespan, want[env])
		}
		if id.Provider != "keycloak" || !strings.HasSuffix(id.Issuer, "/realms/"+id.Realm) {
			t.Errorf("%s: provider %s, issuer %s", env, id.Provider, id.Issuer)
		}
		for _, raw := range append(slices.Clone(id.BrowserClient.RedirectURIs), id.BrowserClient.WebOrigins...) {
			u, err := url.Parse(raw)
			local := env == Local || env == CI
			if err != nil || (u.Scheme == "http") != local || (local && u.Hostname() != "localhost") {
				t.Errorf("%s: browser URL %s", env, raw)
			}
		}
	}
}

// bulwark:edge.jwt follows bulwark:identity: the defaults agree, a stack
// that changes the issuer moves the gateway with it, and what the stack
// sets on edge.jwt itself still applies.
func TestEdgeJWTFollowsIdentity(t *testing.T) {
	for _, env := range Environments {
		c := Defaults(env)
		if c.Edge.JWT.Issuer != c.Identity.Issuer || c.Edge.JWT.JWKSURI != c.Identity.JWKSURI() || !slices.Equal(c.Edge.JWT.Audiences, []string{c.Identity.Audience}) {
			t.Errorf("%s: edge.jwt %+v does not follow identity %+v", env, c.Edge.JWT, c.Identity)
		}
	}
	cfg, err := load(devWith(map[string]string{"bulwark:identity": `{"provider": "hydra", "issuer": "https://auth.example.com/", "audience": "shop-api", ` + hydraAt + `}`}))
	if err != nil {
		t.Fatal(err)
	}
	if j := cfg.Edge.JWT; j.Issuer != "https://auth.example.com/" || j.JWKSURI != "https://auth.example.com/.well-known/jwks.json" || !slices.Equal(j.Audiences, []string{"shop-api"}) {
		t.Errorf("edge.jwt did not follow identity: %+v", j)
	}
	if u := cfg.Identity.TokenURL(); u != "https://auth.example.com/oauth2/token" {
		t.Errorf("hydra token URL %s", u)
	}
	cfg, err = load(devWith(map[string]string{
		"bulwark:identity": `{"provider": "hydra", "issuer": "https://auth.example.com/", ` + hydraAt + `}`,
		"bulwark:edge":     `{"jwt": {"jwksUri": "https://hydra-public.identity.svc:4444/.well-known/jwks.json"}}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if j := cfg.Edge.JWT; j.Issuer != "https://auth.example.com/" || j.JWKSURI != "https://hydra-public.identity.svc:4444/.well-known/jwks.json" {
		t.Errorf("the stack's jwksUri or the derived issuer was lost: %+v", j)
	}
}

// hydraAt is an external Hydra at auth.example.com, as a dev stack that
// picks Hydra must say where it is (Bulwark installs only Keycloak).
const hydraAt = `"install": false, "external": {"host": "auth.example.com", "port": 443, "cidr": "203.0.113.10/32", "tls": true}`

// Where the services reach the provider is decided per environment: the
// operator's Keycloak in the cluster from dev up, the runner's Hydra on
// loopback (its public port, no hand-over) in local and ci.
func TestIdentityLocationPerEnvironment(t *testing.T) {
	for _, env := range Environments {
		id := Defaults(env).Identity
		switch env {
		case Local, CI:
			if id.Install || id.External != (External{Host: "127.0.0.1", Port: 4444, CIDR: "127.0.0.1/32"}) {
				t.Errorf("%s: install %v, external %+v", env, id.Install, id.External)
			}
		default:
			if !id.Install || id.Namespace != "identity" || id.Instance != "keycloak" {
				t.Errorf("%s: install %v in %s/%s", env, id.Install, id.Namespace, id.Instance)
			}
			if l := id.KeycloakPodLabels(); l["app"] != "keycloak" || l["app.kubernetes.io/instance"] != "keycloak" {
				t.Errorf("%s: pod labels %v", env, l)
			}
		}
	}
	cfg, err := load(map[string]string{"bulwark:environment": "prod", "bulwark:identity": `{"install": false, "external": {"host": "10.50.0.4", "port": 443, "cidr": "10.50.0.0/28", "tls": true}}`})
	if err != nil {
		t.Fatalf("an external Keycloak at an address of the issuer's: %v", err)
	}
	if h, p := cfg.Identity.IssuerHostPort(); h != "id.prod.bulwark.example.com" || p != 443 {
		t.Errorf("issuer host and port %s %d", h, p)
	}
}

func TestBadIdentityNamesTheKeyAndKind(t *testing.T) {
	tests := []struct {
		name   string
		env    string
		values map[string]string
		path   string
		kind   error
	}{
		{"an unknown provider", "dev", map[string]string{"bulwark:identity": `{"provider": "auth0"}`}, "bulwark:identity.provider", fielderr.ErrUnsupported},
		{"an unknown key", "dev", map[string]string{"bulwark:identity": `{"browserClient": {"redirectUri": "x"}}`}, "bulwark:identity.browserClient.redirectUri", fielderr.ErrUnknown},
		{"a plain-http issuer in prod", "prod", map[string]string{"bulwark:identity": `{"issuer": "http://id.prod.bulwark.example.com/realms/bulwark"}`}, "bulwark:identity.issuer", fielderr.ErrForbidden},
		{"a Keycloak issuer of another realm", "dev", map[string]string{"bulwark:identity": `{"issuer": "https://id.example.com/realms/other"}`}, "bulwark:identity.issuer", fielderr.ErrConflict},
		{"a realm that is no name", "dev", map[string]string{"bulwark:identity": `{"realm": "My Realm"}`}, "bulwark:identity.realm", fielderr.ErrInvalid},
		{"the gateway audience of a service", "dev", map[string]string{"bulwark:identity": `{"audience": "order"}`}, "bulwark:identity.audience", fielderr.ErrConflict},
		{"an access token above 15 minutes", "dev", map[string]string{"bulwark:identity": `{"accessTokenLifespan": "16m"}`}, "bulwark:identity.accessTokenLifespan", fielderr.ErrOutOfRange},
		{"an access token below 5 minutes", "dev", map[string]string{"bulwark:identity": `{"accessTokenLifespan": "1m"}`}, "bulwark:identity.accessTokenLifespan", fielderr.ErrOutOfRange},
		{"a refresh token above a day", "dev", map[string]string{"bulwark:identity": `{"refreshTokenLifespan": "48h"}`}, "bulwark:identity.refreshTokenLifespan", fielderr.ErrOutOfRange},
		{"a browser client ID of a service", "dev", map[string]string{"bulwark:identity": `{"browserClient": {"clientID": "user"}}`}, "bulwark:identity.browserClient.clientID", fielderr.ErrConflict},
		{"no redirect URI", "dev", map[string]string{"bulwark:identity": `{"browserClient": {"redirectURIs": []}}`}, "bulwark:identity.browserClient.redirectURIs", fielderr.ErrRequired},
		{"a redirect URI with a wildcard", "dev", map[string]string{"bulwark:identity": `{"browserClient": {"redirectURIs": ["https://*.example.com/callback"]}}`}, "bulwark:identity.browserClient.redirectURIs[0]", fielderr.ErrForbidden},
		{"a redirect URI with a fragment", "dev", map[string]string{"bulwark:identity": `{"browserClient": {"redirectURIs": ["https://app.dev.bulwark.example.com/callback#x"]}}`}, "bulwark:identity.browserClient.redirectURIs[0]", fielderr.ErrInvalid},
		{"a plain-http redirect outside local", "staging", map[string]string{"bulwark:identity": `{"browserClient": {"redirectURIs": ["http://localhost:3000/callback"], "webOrigins": ["http://localhost:3000"]}}`}, "bulwark:identity.browserClient.redirectURIs[0]", fielderr.ErrForbidden},
		{"a plain-http redirect to a host that is not loopback", "local", map[string]string{"bulwark:identity": `{"browserClient": {"redirectURIs": ["http://app.example.com/callback"], "webOrigins": ["http://app.example.com"]}}`}, "bulwark:identity.browserClient.redirectURIs[0]", fielderr.ErrForbidden},
		{"a redirect URI twice", "dev", map[string]string{"bulwark:identity": `{"browserClient": {"redirectURIs": ["https://a.example.com/cb", "https://a.example.com/cb"], "webOrigins": ["https://a.example.com"]}}`}, "bulwark:identity.browserClient.redirectURIs[1]", fielderr.ErrDuplicate},
		{"a web origin of every redirect", "dev", map[string]string{"bulwark:identity": `{"browserClient": {"webOrigins": ["+"]}}`}, "bulwark:identity.browserClient.webOrigins[0]", fielderr.ErrForbidden},
		{"a web origin with a path", "dev", map[string]string{"bulwark:identity": `{"browserClient": {"webOrigins": ["https://app.dev.bulwark.example.com/app"]}}`}, "bulwark:identity.browserClient.webOrigins[0]", fielderr.ErrInvalid},
		{"a web origin of no redirect URI", "dev", map[string]string{"bulwark:identity": `{"browserClient": {"webOrigins": ["https://evil.example.com"]}}`}, "bulwark:identity.browserClient.webOrigins[0]", fielderr.ErrConflict},
		{"a browser scope no edge uses", "dev", map[string]string{"bulwark:identity": `{"browserClient": {"scopes": ["admin:all"]}}`}, "bulwark:identity.browserClient.scopes[0]", fielderr.ErrUnknown},
		{"an edge issuer other than the provider's", "dev", map[string]string{"bulwark:edge": `{"jwt": {"issuer": "https://other.example.com"}}`}, "bulwark:edge.jwt.issuer", fielderr.ErrConflict},
		{"Hydra installed", "dev", map[string]string{"bulwark:identity": `{"provider": "hydra", "issuer": "https://auth.example.com/"}`}, "bulwark:identity.install", fielderr.ErrConflict},
		{"a Keycloak namespace that is no label", "dev", map[string]string{"bulwark:identity": `{"namespace": "Identity"}`}, "bulwark:identity.namespace", fielderr.ErrInvalid},
		{"Keycloak without the installed PostgreSQL", "dev", map[string]string{"bulwark:data": `{"postgres": {"install": false, "external": {"host": "pg.example.net", "port": 5432, "cidr": "10.30.0.0/24", "tls": true}}}`}, "bulwark:identity.install", fielderr.ErrConflict},
		{"Keycloak in a services' namespace", "dev", map[string]string{"bulwark:identity": `{"namespace": "shop"}`}, "bulwark:identity.namespace", fielderr.ErrConflict},
		{"a Keycloak instance that is no label", "prod", map[string]string{"bulwark:identity": `{"instance": ""}`}, "bulwark:identity.instance", fielderr.ErrInvalid},
		{"an external provider without a host", "dev", map[string]string{"bulwark:identity": `{"install": false, "external": {"port": 443, "cidr": "10.0.0.0/24", "tls": true}}`}, "bulwark:identity.external.host", fielderr.ErrRequired},
		{"an external provider on port 0", "ci", map[string]string{"bulwark:identity": `{"external": {"port": 0}}`}, "bulwark:identity.external.port", fielderr.ErrOutOfRange},
		{"an external provider without a CIDR", "dev", map[string]string{"bulwark:identity": `{"install": false, "external": {"host": "id.dev.bulwark.example.com", "port": 443, "tls": true}}`}, "bulwark:identity.external.cidr", fielderr.ErrInvalid},
		{"a CIDR without the host", "local", map[string]string{"bulwark:identity": `{"external": {"cidr": "10.0.0.0/8"}}`}, "bulwark:identity.external.cidr", fielderr.ErrConflict},
		{"an external host that is not the issuer's", "staging", map[string]string{"bulwark:identity": `{"install": false, "external": {"host": "other.example.com", "port": 443, "cidr": "203.0.113.0/24", "tls": true}}`}, "bulwark:identity.external.host", fielderr.ErrConflict},
		{"an external port that is not the issuer's", "prod", map[string]string{"bulwark:identity": `{"install": false, "external": {"host": "id.prod.bulwark.example.com", "port": 8443, "cidr": "203.0.113.0/24", "tls": true}}`}, "bulwark:identity.external.port", fielderr.ErrConflict},
		{"an external provider without TLS", "prod", map[string]string{"bulwark:identity": `{"install": false, "external": {"host": "id.prod.bulwark.example.com", "port": 443, "cidr": "203.0.113.0/24"}}`}, "bulwark:identity.external.tls", fielderr.ErrForbidden},
		{"edge audiences without the gateway's", "dev", map[string]string{"bulwark:edge": `{"jwt": {"audiences": ["other"]}}`}, "bulwark:edge.jwt.audiences", fielderr.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			values := map[string]string{"bulwark:environment": tc.env}
			for k, v := range tc.values {
				values[k] = v
			}
			_, err := load(values)
			if !errors.Is(err, tc.kind) {
				t.Fatalf("error %v is not %v", err, tc.kind)
			}
			if !slices.ContainsFunc(fielderr.All(err), func(e *FieldError) bool { return e.Path == tc.path && errors.Is(e, tc.kind) }) {
				t.Errorf("no %v at %s in:\n%v", tc.kind, tc.path, err)
			}
		})
	}
}
