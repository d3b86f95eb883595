package identity

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/internal/testkit/golden"
)

// placeholderSecrets stand for the secrets the runner reads from Vault.
func placeholderSecrets(m Model) map[string]string {
	out := map[string]string{}
	for _, c := range m.Clients {
		out[c.ClientID] = "<" + c.ClientID + "'s client secret, from Vault>"
	}
	return out
}

// Every stack's model rendered for Hydra (the server's settings and the
// admin API's client bodies) is kept as a golden file in testdata/hydra:
// go test ./infra/identity -run TestGoldenHydra -update rewrites them.
func TestGoldenHydra(t *testing.T) {
	golden.PerStackIn(t, root, filepath.Join("testdata", "hydra"), func(cfg *config.Config) ([]byte, error) {
		m, err := Compile(cfg)
		if err != nil {
			return nil, err
		}
		return m.HydraManifests(placeholderSecrets(m))
	})
}

// The Hydra clients keep the model's least privilege on every stack and
// random graph: a service's client may ask for exactly its edges' scopes
// and its callees' audiences, with client credentials only and its
// secret in the form body; the browser's is public, code + refresh only,
// with the exact redirect URIs and origins; every access token is a JWT
// living the realm's lifetime; and the server enforces PKCE and strict
// refresh rotation.
func TestHydraClientsKeepTheModel(t *testing.T) {
	for name, cfg := range configs(t) {
		m, err := Compile(cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		clients, err := m.HydraClients(placeholderSecrets(m))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(clients) != 1+len(cfg.Graph.Services) {
			t.Fatalf("%s: %d clients for %d services and the browser", name, len(clients), len(cfg.Graph.Services))
		}
		access := (time.Duration(m.Realm.AccessTokenLifespan) * time.Second).String()
		b := clients[0]
		if b.ClientID != m.BrowserClient.ClientID || b.ClientSecret != "" || b.TokenEndpointAuthMethod != "none" {
			t.Errorf("%s: browser client %q: secret %q, auth %q; want public (none)", name, b.ClientID, b.ClientSecret, b.TokenEndpointAuthMethod)
		}
		if !slices.Equal(b.GrantTypes, []string{GrantAuthorizationCode, GrantRefreshToken}) || !slices.Equal(b.ResponseTypes, []string{ResponseCode}) {
			t.Errorf("%s: browser grants %v, responses %v", name, b.GrantTypes, b.ResponseTypes)
		}
		if want := append(slices.Clone(HydraBrowserProtocolScopes), m.BrowserClient.Scopes...); !slices.Equal(strings.Fields(b.Scope), want) {
			t.Errorf("%s: browser scope %q, want %v", name, b.Scope, want)
		}
		if !slices.Equal(b.RedirectURIs, cfg.Identity.BrowserClient.RedirectURIs) || !slices.Equal(b.AllowedCORSOrigins, cfg.Identity.BrowserClient.WebOrigins) {
			t.Errorf("%s: browser redirect URIs %v, origins %v", name, b.RedirectURIs, b.AllowedCORSOrigins)
		}
		for _, u := range append(slices.Clone(b.RedirectURIs), b.AllowedCORSOrigins...) {
			if strings.Contains(u, "*") {
				t.Errorf("%s: browser client holds a wildcard %q", name, u)
			}
		}
		if b.AuthorizationCodeGrantAccessTokenLifespan != access || b.RefreshTokenGrantAccessTokenLifespan != access {
			t.Errorf("%s: browser access token lifespans %s/%s, want %s", name, b.AuthorizationCodeGrantAccessTokenLifespan, b.RefreshTokenGrantAccessTokenLifespan, access)
		}
		for i, c := range clients[1:] {
			s := &cfg.Graph.Services[i]
			var scopes, auds []string
			for _, e := range cfg.Graph.Edges() {
				if e.From.Name != s.Name {
					continue
				}
				auds = appendNew(auds, e.To.Name)
				for _, sc := range e.Scopes() {
					scopes = appendNew(scopes, sc)
				}
			}
			if c.ClientID != s.Name || c.ClientSecret == "" || c.TokenEndpointAuthMethod != AuthClientSecretPost {
				t.Errorf("%s: client %d is %q (secret %q, auth %s), want %s with its secret in the form body", name, i, c.ClientID, c.ClientSecret, c.TokenEndpointAuthMethod, s.Name)
			}
			if !slices.Equal(c.GrantTypes, []string{GrantClientCredentials}) || len(c.RedirectURIs) != 0 {
				t.Errorf("%s: client %s grants %v, redirects %v; want client credentials only", name, c.ClientID, c.GrantTypes, c.RedirectURIs)
			}
			if !slices.Equal(strings.Fields(c.Scope), scopes) || !slices.Equal(c.Audience, auds) {
				t.Errorf("%s: client %s scope %q audience %v, want its edges' %v and callees %v", name, c.ClientID, c.Scope, c.Audience, scopes, auds)
			}
			if c.ClientCredentialsGrantAccessTokenLifespan != access || c.AccessTokenStrategy != "jwt" {
				t.Errorf("%s: client %s lifespan %s strategy %s", name, c.ClientID, c.ClientCredentialsGrantAccessTokenLifespan, c.AccessTokenStrategy)
			}
		}
		srv := m.HydraServer()
		if !srv.PKCEEnforced || !srv.PKCEEnforcedForPublicClients || srv.RefreshTokenRotationGracePeriod != 0 || srv.AccessTokenStrategy != "jwt" || srv.ClientCredentialsDefaultGrantAllowedScope ||
			srv.ScopeStrategy != "exact" || len(srv.DefaultClientScope) != 0 {
			t.Errorf("%s: server settings %+v do not enforce PKCE, strict rotation, JWT access tokens and asked-for scopes", name, srv)
		}
		if srv.Issuer != m.Endpoints.Issuer {
			t.Errorf("%s: hydra issuer %q, model issuer %q", name, srv.Issuer, m.Endpoints.Issuer)
		}
	}
}

// The bodies use Hydra's admin API field names (a typo would be dropped
// by Hydra silently and the client would get its defaults).
func TestHydraClientJSONNames(t *testing.T) {
	_, m := compiledStack(t, "ci")
	clients, err := m.HydraClients(placeholderSecrets(m))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(clients[0])
	var got map[string]any
	_ = json.Unmarshal(raw, &got)
	for _, k := range []string{"client_id", "grant_types", "response_types", "scope", "audience", "redirect_uris", "allowed_cors_origins",
		"token_endpoint_auth_method", "access_token_strategy", "skip_consent", "authorization_code_grant_access_token_lifespan",
		"authorization_code_grant_refresh_token_lifespan", "refresh_token_grant_access_token_lifespan", "refresh_token_grant_refresh_token_lifespan"} {
		if _, ok := got[k]; !ok {
			t.Errorf("the browser client's body lacks %s: %s", k, raw)
		}
	}
	if got["skip_consent"] != false {
		t.Errorf("skip_consent = %v, want false", got["skip_consent"])
	}
}

// A service client without a secret from Vault is refused, naming it.
func TestHydraClientsNeedEverySecret(t *testing.T) {
	_, m := compiledStack(t, "ci")
	secrets := placeholderSecrets(m)
	delete(secrets, "payment")
	if _, err := m.HydraClients(secrets); err == nil || !strings.Contains(err.Error(), `"payment"`) {
		t.Fatalf("a missing secret: got %v, want an error naming payment", err)
	}
	secrets["payment"] = "short"
	if _, err := m.HydraClients(secrets); err == nil || !strings.Contains(err.Error(), `"payment"`) {
		t.Fatalf("a 5-character secret: got %v, want an error naming payment", err)
	}
}
