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
	cfg, err := load(devWith(map[string]string{"bulwark:identity": `{"provider": "hydra", "issuer": "https://auth.example.com/", "audience": "shop-api"}`}))
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
		"bulwark:identity": `{"provider": "hydra", "issuer": "https://auth.example.com/"}`,
		"bulwark:edge":     `{"jwt": {"jwksUri": "https://hydra-public.identity.svc:4444/.well-known/jwks.json"}}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if j := cfg.Edge.JWT; j.Issuer != "https://auth.example.com/" || j.JWKSURI != "https://hydra-public.identity.svc:4444/.well-known/jwks.json" {
		t.Errorf("the stack's jwksUri or the derived issuer was lost: %+v", j)
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
