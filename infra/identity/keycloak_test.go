package identity

import (
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/internal/testkit/golden"
)

// The realm Keycloak imports holds the model's invariants, read from the
// rendered representation (what the operator gets), not from the model.
func TestKeycloakRealmInvariants(t *testing.T) {
	for _, stack := range golden.Stacks {
		t.Run(stack, func(t *testing.T) {
			cfg, m, set := keycloakOf(t, stack)
			r := set.RealmImport.Spec.Realm
			if !*r.RevokeRefreshToken || *r.RefreshTokenMaxReuse != 0 {
				t.Errorf("refresh tokens must rotate with reuse refused: revoke %v, max reuse %d", *r.RevokeRefreshToken, *r.RefreshTokenMaxReuse)
			}
			if got := *r.AccessTokenLifespan; got < 300 || got > 900 {
				t.Errorf("access token lifespan %ds outside 5-15 min", got)
			}
			scopeNames := map[string]bool{}
			for _, s := range *r.ClientScopes {
				scopeNames[*s.Name] = true
			}
			placeholders := set.RealmImport.Spec.Placeholders
			confidential := map[string]int{}
			for _, c := range *r.Clients {
				id := *c.ClientID
				for _, s := range slices.Concat(*c.DefaultClientScopes, *c.OptionalClientScopes) {
					if !scopeNames[s] {
						t.Errorf("client %s names scope %q the realm does not define", id, s)
					}
				}
				for _, u := range slices.Concat(deref(c.RedirectURIs), deref(c.WebOrigins)) {
					if strings.Contains(u, "*") || u == "+" {
						t.Errorf("client %s: wildcard redirect or origin %q", id, u)
					}
				}
				if *c.PublicClient {
					if (*c.Attributes)["pkce.code.challenge.method"] != "S256" {
						t.Errorf("public client %s without PKCE S256", id)
					}
					if *c.ImplicitFlowEnabled || *c.DirectAccessGrantsEnabled || *c.ServiceAccountsEnabled {
						t.Errorf("public client %s holds a grant beyond the code flow", id)
					}
					continue
				}
				confidential[id]++
				if *c.StandardFlowEnabled || *c.ImplicitFlowEnabled || *c.DirectAccessGrantsEnabled || !*c.ServiceAccountsEnabled {
					t.Errorf("confidential client %s holds a grant beyond client credentials", id)
				}
				// Its scopes are exactly its edges' (beside basic).
				mc, _ := m.Client(id)
				got := slices.DeleteFunc(slices.Clone(*c.DefaultClientScopes), func(s string) bool { return s == ScopeBasic })
				if !slices.Equal(got, mc.Scopes) || len(*c.OptionalClientScopes) > 0 {
					t.Errorf("client %s scopes %v (optional %v), its edges name %v", id, got, *c.OptionalClientScopes, mc.Scopes)
				}
				var auds []string
				for _, pm := range *c.ProtocolMappers {
					auds = append(auds, (*pm.Config)["included.custom.audience"])
				}
				if !slices.Equal(auds, mc.Audiences) {
					t.Errorf("client %s audiences %v, its callees are %v", id, auds, mc.Audiences)
				}
				// The secret is a placeholder filled from the synced Secret.
				ph := ClientSecretPlaceholder(id)
				if *c.Secret != "${"+ph+"}" || placeholders[ph].Secret.Key != id || placeholders[ph].Secret.Name != set.ClientSecrets {
					t.Errorf("client %s: secret %q, placeholder %+v", id, *c.Secret, placeholders[ph])
				}
			}
			for _, s := range cfg.Graph.Services {
				if confidential[s.Name] != 1 {
					t.Errorf("service %s has %d confidential clients, want 1", s.Name, confidential[s.Name])
				}
			}
			// The browser's tokens carry the realm roles the services check.
			if !slices.Contains(*r.DefaultDefaultClientScopes, ScopeRoles) {
				t.Errorf("realm default scopes %v lack %s", *r.DefaultDefaultClientScopes, ScopeRoles)
			}
			if !slices.Contains(*r.DefaultRole.Composites.Realm, RoleUser) {
				t.Errorf("default role %v does not grant %s", *r.DefaultRole.Composites.Realm, RoleUser)
			}
		})
	}
}

// No secret value is written into the resources: only placeholders.
func TestKeycloakHoldsNoSecret(t *testing.T) {
	_, _, set := keycloakOf(t, "prod")
	for _, c := range *set.RealmImport.Spec.Realm.Clients {
		if c.Secret != nil && !strings.HasPrefix(*c.Secret, "${CLIENT_SECRET_") {
			t.Errorf("client %s carries a literal secret", *c.ClientID)
		}
	}
	if set.Server.Spec.DB.PasswordSecret.Name != set.DatabaseSecret || set.Server.Spec.HTTP.HTTPEnabled {
		t.Errorf("database password from %q (want %q), plain HTTP %v", set.Server.Spec.DB.PasswordSecret.Name, set.DatabaseSecret, set.Server.Spec.HTTP.HTTPEnabled)
	}
}

// compiledStack loads a stack's configuration and compiles its model.
func compiledStack(t *testing.T, stack string) (*config.Config, Model) {
	t.Helper()
	cfg, err := config.LoadStack(root, stack)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, m
}

// keycloakOf compiles a stack's model and its Keycloak rendering.
func keycloakOf(t *testing.T, stack string) (*config.Config, Model, KeycloakSet) {
	t.Helper()
	cfg, m := compiledStack(t, stack)
	set, err := Keycloak(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, m, set
}

func deref(p *[]string) []string {
	if p == nil {
		return nil
	}
	return *p
}
