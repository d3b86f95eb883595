package identity

import (
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// The model rendered for Ory Hydra v2 (identity.provider: hydra).
//
// How the clients reach Hydra, decided: through its admin API, from the
// runner (POST /admin/clients, then PUT /admin/clients/{id} on a change,
// with the bodies HydraClients renders and each secret read from Vault at
// that moment), not as OAuth2Client resources reconciled by the Hydra
// chart's hydra-maester. hydra-maester could hold the same clients (it
// reads a client's secret from a Kubernetes Secret, which External
// Secrets could fill from Vault), but it is one more controller and CRD
// to pin, run and keep in step with Hydra, and it needs a cluster; the
// admin API needs only the Hydra process, so on this machine the very
// bodies a deployment sends are proven against `hydra serve all`
// (services/identityflows). The cost: the runner must reach Hydra's
// admin port (never routed through the gateway), and a client changed by
// hand at Hydra stays changed until the runner applies the model again.
// The server is configured from HydraServerSettings (its Config is the
// configuration file, the Hydra chart's hydra.config).

// HydraClient is one OAuth 2.0 client in the JSON of Hydra v2's admin API
// (POST /admin/clients, PUT /admin/clients/{id}).
type HydraClient struct {
	ClientID string `json:"client_id"`
	// ClientSecret is given by the caller (the secrets come from Vault);
	// empty for the public client.
	ClientSecret  string   `json:"client_secret,omitempty"`
	GrantTypes    []string `json:"grant_types"`
	ResponseTypes []string `json:"response_types"`
	// Scope is the space-separated scopes the client may ask for.
	Scope string `json:"scope"`
	// Audience is the audiences the client may ask its tokens to carry.
	Audience           []string `json:"audience"`
	RedirectURIs       []string `json:"redirect_uris"`
	AllowedCORSOrigins []string `json:"allowed_cors_origins"`
	// TokenEndpointAuthMethod: "none" for the public client,
	// client_secret_post for the services.
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method"`
	AccessTokenStrategy     string `json:"access_token_strategy"`
	// SkipConsent is false: the browser client's grants pass the consent
	// app.
	SkipConsent bool `json:"skip_consent"`
	// Lifespans (Go durations) from the realm; only the grants the client
	// holds have one.
	AuthorizationCodeGrantAccessTokenLifespan  string `json:"authorization_code_grant_access_token_lifespan,omitempty"`
	AuthorizationCodeGrantIDTokenLifespan      string `json:"authorization_code_grant_id_token_lifespan,omitempty"`
	AuthorizationCodeGrantRefreshTokenLifespan string `json:"authorization_code_grant_refresh_token_lifespan,omitempty"`
	RefreshTokenGrantAccessTokenLifespan       string `json:"refresh_token_grant_access_token_lifespan,omitempty"`
	RefreshTokenGrantIDTokenLifespan           string `json:"refresh_token_grant_id_token_lifespan,omitempty"`
	RefreshTokenGrantRefreshTokenLifespan      string `json:"refresh_token_grant_refresh_token_lifespan,omitempty"`
	ClientCredentialsGrantAccessTokenLifespan  string `json:"client_credentials_grant_access_token_lifespan,omitempty"`
	// Metadata names the service (and its namespace) a client is for.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// HydraAccessTokenStrategy: JWT access tokens, which the services and
// the gateway verify against Hydra's JWKS (no introspection call).
const HydraAccessTokenStrategy = "jwt"

// Protocol scopes the browser client holds beside its API scopes: openid
// (the login's ID token) and offline_access, without which Hydra issues
// no refresh token at all (it issues one only to a grant holding
// offline_access or offline). They name no graph edge and no service
// checks them.
var HydraBrowserProtocolScopes = []string{"openid", "offline_access"}

// hydraMinSecret is Hydra's minimum client secret length.
const hydraMinSecret = 6

// HydraClients renders the model's clients: the browser's public client,
// then one confidential client per service, in graph order. secrets holds
// each service's client secret by client ID (from Vault); a confidential
// client without one is an error naming it.
func (m Model) HydraClients(secrets map[string]string) ([]HydraClient, error) {
	r := m.Realm
	access := duration(r.AccessTokenLifespan)
	refresh := duration(r.RefreshTokenLifespan)
	b := m.BrowserClient
	out := []HydraClient{{
		ClientID:                b.ClientID,
		GrantTypes:              append([]string(nil), b.GrantTypes...),
		ResponseTypes:           append([]string(nil), b.ResponseTypes...),
		Scope:                   strings.Join(append(append([]string(nil), HydraBrowserProtocolScopes...), b.Scopes...), " "),
		Audience:                append([]string(nil), b.Audiences...),
		RedirectURIs:            append([]string(nil), b.RedirectURIs...),
		AllowedCORSOrigins:      append([]string(nil), b.WebOrigins...),
		TokenEndpointAuthMethod: b.TokenEndpointAuthMethod,
		AccessTokenStrategy:     HydraAccessTokenStrategy,
		AuthorizationCodeGrantAccessTokenLifespan:  access,
		AuthorizationCodeGrantIDTokenLifespan:      access,
		AuthorizationCodeGrantRefreshTokenLifespan: refresh,
		RefreshTokenGrantAccessTokenLifespan:       access,
		RefreshTokenGrantIDTokenLifespan:           access,
		RefreshTokenGrantRefreshTokenLifespan:      refresh,
	}}
	for _, c := range m.Clients {
		secret := secrets[c.ClientID]
		if len(secret) < hydraMinSecret {
			return nil, fmt.Errorf("identity: hydra client %q (service %s): no client secret of at least %d characters given", c.ClientID, c.Service, hydraMinSecret)
		}
		out = append(out, HydraClient{
			ClientID:     c.ClientID,
			ClientSecret: secret,
			GrantTypes:   append([]string(nil), c.GrantTypes...),
			// None: it never uses the authorization endpoint. (Hydra
			// stores its default, code, which the grant types leave
			// unusable: fosite's code flow needs authorization_code.)
			ResponseTypes:           []string{},
			Scope:                   strings.Join(c.Scopes, " "),
			Audience:                append([]string{}, c.Audiences...),
			RedirectURIs:            []string{},
			AllowedCORSOrigins:      []string{},
			TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
			AccessTokenStrategy:     HydraAccessTokenStrategy,
			ClientCredentialsGrantAccessTokenLifespan: access,
			Metadata: map[string]string{"service": c.Service, "namespace": c.Namespace},
		})
	}
	return out, nil
}

// HydraServerSettings are the Hydra server settings the model implies
// (its configuration keys, in comments): what a Hydra serving this model
// must run with. The clients alone can't hold them.
type HydraServerSettings struct {
	// Issuer: urls.self.issuer, the tokens' iss (identity.issuer).
	Issuer string
	// AccessTokenStrategy: strategies.access_token = jwt, the default for
	// every client (each client also says so).
	AccessTokenStrategy string
	// ScopeStrategy: strategies.scope = exact. A client holding
	// users:read may ask for users:read and nothing else; Hydra's default,
	// wildcard, reads dots and "*" in scope names as a hierarchy the
	// model's scopes don't have.
	ScopeStrategy string
	// JWTScopeClaim: strategies.jwt.scope_claim = list, the scopes as the
	// access token's scp array (services/internal/platform/auth reads scp
	// and scope).
	JWTScopeClaim string
	// PKCE is enforced by oauth2.pkce.enforced = true (every client's
	// authorization request must carry a code_challenge, and the code's
	// exchange the matching code_verifier) and
	// oauth2.pkce.enforced_for_public_clients = true (the same for clients
	// with token_endpoint_auth_method none, should the first be relaxed).
	// S256 is the only method: Hydra never enables fosite's plain
	// challenge method (fositex.Config.GetEnablePKCEPlainChallengeMethod),
	// so the model's PKCEMethod needs no setting of its own.
	PKCEEnforced                 bool
	PKCEEnforcedForPublicClients bool
	// AccessTokenTTL, RefreshTokenTTL, AuthCodeTTL, IDTokenTTL:
	// ttl.access_token, ttl.refresh_token, ttl.auth_code, ttl.id_token,
	// the defaults for a client without its own lifespans.
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	AuthCodeTTL     time.Duration
	IDTokenTTL      time.Duration
	// Refresh-token rotation is enforced by
	// oauth2.grant.refresh_token.rotation_grace_period = 0s: each refresh
	// returns a new refresh token and the used one is inactive at once.
	// Hydra (fosite's refresh handler, handleRefreshTokenReuse) treats a
	// refresh with an inactive token as reuse and revokes the whole
	// grant's tokens, the new refresh token included: the reuse detection
	// the model's RefreshTokenMaxReuse 0 asks for. A grace period above
	// zero would let the old token be reused that long: it stays 0.
	RefreshTokenRotationGracePeriod time.Duration
	// ClientCredentialsDefaultGrantAllowedScope:
	// oauth2.client_credentials.default_grant_allowed_scope = false, so a
	// client-credentials token carries the scopes the service asked for,
	// never every scope its client may hold.
	ClientCredentialsDefaultGrantAllowedScope bool
	// DefaultClientScope: oidc.dynamic_client_registration.default_scope
	// = []. Hydra gives a client created without a scope this default
	// ("offline_access offline openid" unless set), so a service with no
	// outgoing edge, whose client holds no scope, would hold those.
	DefaultClientScope []string
}

// HydraServer returns the settings the model implies.
func (m Model) HydraServer() HydraServerSettings {
	return HydraServerSettings{
		Issuer:                          m.Endpoints.Issuer,
		AccessTokenStrategy:             HydraAccessTokenStrategy,
		ScopeStrategy:                   "exact",
		JWTScopeClaim:                   "list",
		PKCEEnforced:                    true,
		PKCEEnforcedForPublicClients:    true,
		AccessTokenTTL:                  time.Duration(m.Realm.AccessTokenLifespan) * time.Second,
		RefreshTokenTTL:                 time.Duration(m.Realm.RefreshTokenLifespan) * time.Second,
		AuthCodeTTL:                     time.Duration(m.Realm.AuthorizationCodeLifespan) * time.Second,
		IDTokenTTL:                      time.Duration(m.Realm.AccessTokenLifespan) * time.Second,
		RefreshTokenRotationGracePeriod: 0,
		DefaultClientScope:              []string{},
	}
}

// HydraConfig is the part of Hydra's configuration file (hydra serve
// --config; the Hydra chart's hydra.config is the same tree) the model
// sets.
type HydraConfig struct {
	URLS struct {
		Self struct {
			Issuer string `json:"issuer"`
		} `json:"self"`
	} `json:"urls"`
	Strategies struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
		JWT         struct {
			ScopeClaim string `json:"scope_claim"`
		} `json:"jwt"`
	} `json:"strategies"`
	TTL struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		AuthCode     string `json:"auth_code"`
		IDToken      string `json:"id_token"`
	} `json:"ttl"`
	OAuth2 struct {
		PKCE struct {
			Enforced                 bool `json:"enforced"`
			EnforcedForPublicClients bool `json:"enforced_for_public_clients"`
		} `json:"pkce"`
		Grant struct {
			RefreshToken struct {
				RotationGracePeriod string `json:"rotation_grace_period"`
			} `json:"refresh_token"`
		} `json:"grant"`
		ClientCredentials struct {
			DefaultGrantAllowedScope bool `json:"default_grant_allowed_scope"`
		} `json:"client_credentials"`
	} `json:"oauth2"`
	OIDC struct {
		DynamicClientRegistration struct {
			DefaultScope []string `json:"default_scope"`
		} `json:"dynamic_client_registration"`
	} `json:"oidc"`
}

// Config is the settings as Hydra's configuration file.
func (s HydraServerSettings) Config() HydraConfig {
	var c HydraConfig
	c.URLS.Self.Issuer = s.Issuer
	c.Strategies.AccessToken, c.Strategies.Scope, c.Strategies.JWT.ScopeClaim = s.AccessTokenStrategy, s.ScopeStrategy, s.JWTScopeClaim
	c.TTL.AccessToken, c.TTL.RefreshToken = s.AccessTokenTTL.String(), s.RefreshTokenTTL.String()
	c.TTL.AuthCode, c.TTL.IDToken = s.AuthCodeTTL.String(), s.IDTokenTTL.String()
	c.OAuth2.PKCE.Enforced, c.OAuth2.PKCE.EnforcedForPublicClients = s.PKCEEnforced, s.PKCEEnforcedForPublicClients
	c.OAuth2.Grant.RefreshToken.RotationGracePeriod = s.RefreshTokenRotationGracePeriod.String()
	c.OAuth2.ClientCredentials.DefaultGrantAllowedScope = s.ClientCredentialsDefaultGrantAllowedScope
	c.OIDC.DynamicClientRegistration.DefaultScope = append([]string{}, s.DefaultClientScope...)
	return c
}

// ConfigYAML is Config as YAML.
func (s HydraServerSettings) ConfigYAML() ([]byte, error) {
	y, err := yaml.Marshal(s.Config())
	if err != nil {
		return nil, fmt.Errorf("identity: hydra config: %w", err)
	}
	return y, nil
}

// HydraManifests renders the server's configuration and the clients
// (with the secrets given) for golden files and review.
func (m Model) HydraManifests(secrets map[string]string) ([]byte, error) {
	clients, err := m.HydraClients(secrets)
	if err != nil {
		return nil, err
	}
	y, err := yaml.Marshal(struct {
		Server  HydraConfig   `json:"server"`
		Clients []HydraClient `json:"clients"`
	}{m.HydraServer().Config(), clients})
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return append([]byte("# the identity model for Ory Hydra: the server's configuration and the admin API's client bodies\n"), y...), nil
}

func duration(seconds int) string { return (time.Duration(seconds) * time.Second).String() }
