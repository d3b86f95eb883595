package identity

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/Nerzal/gocloak/v13"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/datastore"
	"github.com/bulwark-platform/bulwark/internal/keycloakapi"
	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// The model rendered for Keycloak (identity.provider: keycloak, the
// default): a Keycloak resource for the operator (its database from the
// PostgreSQL component, its certificate from the private CA, its hostname
// from the issuer) and a KeycloakRealmImport holding the realm, its roles
// and client scopes, the browser client and one confidential client per
// service. Client secrets never appear in either: the realm names them as
// placeholders the operator fills from the Secret External Secrets syncs
// from Vault, the same values the services read.

// Typed objects of the Keycloak set.
type (
	KeycloakServer = kinds.Object[keycloakapi.KeycloakSpec]
	RealmImport    = kinds.Object[keycloakapi.RealmImportSpec]
)

// KeycloakSet is what the identity component registers for Keycloak.
type KeycloakSet struct {
	Namespace   string
	Server      KeycloakServer
	RealmImport RealmImport
	// Certificate is Keycloak's server certificate, issued by the private
	// CA for the public hostname and the operator's Service.
	Certificate datastore.Certificate
	// Database is Keycloak's database in the data model; DatabaseSecret
	// (in Namespace) holds its owner role's username and password.
	Database       datastore.Database
	DatabaseSecret string
	// ClientSecrets is the Secret (in Namespace) holding each
	// confidential client's secret under its client ID, which External
	// Secrets syncs from the services' oauth-client paths in Vault.
	ClientSecrets string
}

// Keycloak's fixed parts.
const (
	// KeycloakDatabaseName is Keycloak's own database (and, with the
	// data model's convention, its owner role keycloak_owner).
	KeycloakDatabaseName = "keycloak"
	// keycloakServicePort is the operator's Service port for HTTPS.
	keycloakServicePort = config.KeycloakHTTPSPort
	// Client scopes every realm needs beside the graph's: basic puts the
	// subject in the token (Keycloak 25+), roles the realm roles in
	// realm_access.roles, which the services' role checks read.
	ScopeBasic = "basic"
	ScopeRoles = "roles"
	// postgresPort is the CloudNativePG services' port.
	postgresPort = 5432
)

// KeycloakPublicPaths are the paths of Keycloak the edge publishes on the
// issuer's host: the realms' OIDC endpoints and login pages, and their
// static resources. The admin console and API (/admin) stay inside.
var KeycloakPublicPaths = []string{"/realms/*", "/resources/*"}

// KeycloakDatabase is Keycloak's database in the data model: owned like a
// service's by its own role, which only Keycloak logs in as, with the
// role's credentials copied into Keycloak's namespace.
func KeycloakDatabase(cfg *config.Config) datastore.Database {
	return datastore.Database{Service: KeycloakDatabaseName, Name: KeycloakDatabaseName, Owner: datastore.OwnerRole(KeycloakDatabaseName),
		CredentialsCopy: &datastore.SecretCopy{Namespace: cfg.Identity.Namespace, Name: cfg.Identity.Instance + "-db"}}
}

// PlatformDatabases are the databases of the identity provider the
// configuration installs: the data model holds them beside the services'.
func PlatformDatabases(cfg *config.Config) []datastore.Database {
	if !cfg.Identity.InstallsKeycloak() {
		return nil
	}
	return []datastore.Database{KeycloakDatabase(cfg)}
}

// ClientSecretPlaceholder is the realm import's placeholder for a
// client's secret.
func ClientSecretPlaceholder(clientID string) string {
	return "CLIENT_SECRET_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(clientID))
}

// Keycloak renders the model for the Keycloak operator. It renders for
// any stack (the stack check holds every stack's objects against the
// operator's CRDs); the platform registers it only where
// cfg.Identity.InstallsKeycloak().
func Keycloak(m Model, cfg *config.Config) (KeycloakSet, error) {
	id := cfg.Identity
	u, err := url.Parse(m.Endpoints.Issuer)
	if err != nil {
		return KeycloakSet{}, fmt.Errorf("%s:identity.issuer: %w", config.Namespace, err)
	}
	ns, instance := id.Namespace, id.Instance
	db := KeycloakDatabase(cfg)
	pg := cfg.Data.Postgres
	cluster := datastore.ClusterName(db.Service, pg.Topology)
	set := KeycloakSet{
		Namespace: ns,
		Certificate: datastore.Certificate{
			Name: instance + "-tls", Namespace: ns, SecretName: instance + "-tls",
			DNSNames: append([]string{u.Hostname()}, serviceDNSNames(id.KeycloakService(), ns)...),
		},
		Database:       db,
		DatabaseSecret: db.CredentialsCopy.Name,
		ClientSecrets:  id.ClientSecretsSecret(),
	}
	labels := map[string]string{naming.PartOfLabel: naming.PartOf}
	set.Server = kinds.Keycloak.Of(instance, ns, labels, keycloakapi.KeycloakSpec{
		Instances: cfg.Install.Replicas,
		DB: &keycloakapi.DB{
			Vendor: "postgres", Host: cluster + "-rw." + pg.Namespace + ".svc", Port: postgresPort, Database: db.Name,
			UsernameSecret: &keycloakapi.SecretKeyRef{Name: set.DatabaseSecret, Key: "username"},
			PasswordSecret: &keycloakapi.SecretKeyRef{Name: set.DatabaseSecret, Key: "password"},
			PoolMaxSize:    20,
		},
		// HTTPS only, with the private CA's certificate: the mesh's
		// gateway and the services verify it like any other TLS server.
		HTTP: &keycloakapi.HTTP{HTTPEnabled: false, HTTPSPort: keycloakServicePort, TLSSecret: set.Certificate.SecretName},
		// The issuer's origin: every URL Keycloak builds, and each token's
		// iss, is the configured issuer, whichever way a request came.
		Hostname: &keycloakapi.Hostname{Hostname: u.Scheme + "://" + u.Host, Strict: true, BackchannelDynamic: false},
		Proxy:    &keycloakapi.Proxy{Headers: "xforwarded"},
		Ingress:  &keycloakapi.Ingress{Enabled: false},
		Resources: &corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(500, resource.DecimalSI), corev1.ResourceMemory: *resource.NewQuantity(1<<30, resource.BinarySI)},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: *resource.NewQuantity(2, resource.DecimalSI), corev1.ResourceMemory: *resource.NewQuantity(2<<30, resource.BinarySI)},
		},
		AdditionalOptions: []keycloakapi.Option{
			// Health and metrics on the management port, for the probes
			// the operator sets and the observability issue's scrape.
			{Name: "health-enabled", Value: "true"},
			{Name: "metrics-enabled", Value: "true"},
		},
	})
	spec := keycloakapi.RealmImportSpec{KeycloakCRName: instance, Realm: KeycloakRealm(m), Placeholders: map[string]keycloakapi.Placeholder{}}
	for _, c := range m.Clients {
		spec.Placeholders[ClientSecretPlaceholder(c.ClientID)] = keycloakapi.Placeholder{
			Secret: keycloakapi.SecretKeyRef{Name: set.ClientSecrets, Key: c.ClientID}}
	}
	set.RealmImport = kinds.KeycloakRealmImport.Of(instance+"-"+m.Realm.Name, ns, labels, spec)
	return set, nil
}

func serviceDNSNames(svc, ns string) []string {
	return []string{svc, svc + "." + ns, svc + "." + ns + ".svc", svc + "." + ns + ".svc.cluster.local"}
}

// KeycloakRealm renders the model as Keycloak's RealmRepresentation.
func KeycloakRealm(m Model) gocloak.RealmRepresentation {
	r := m.Realm
	roles := make([]gocloak.Role, 0, len(r.Roles))
	for _, role := range r.Roles {
		roles = append(roles, gocloak.Role{Name: ptr(role.Name), Description: ptr(role.Description)})
	}
	scopes := []gocloak.ClientScope{
		{
			Name: ptr(ScopeBasic), Description: ptr("The subject of every token."), Protocol: ptr("openid-connect"),
			ClientScopeAttributes: &gocloak.ClientScopeAttributes{IncludeInTokenScope: ptr("false"), DisplayOnConsentScreen: ptr("false")},
			ProtocolMappers: &[]gocloak.ProtocolMappers{{
				Name: ptr("sub"), Protocol: ptr("openid-connect"), ProtocolMapper: ptr("oidc-sub-mapper"),
				ProtocolMappersConfig: &gocloak.ProtocolMappersConfig{AccessTokenClaim: ptr("true")},
			}},
		},
		{
			Name: ptr(ScopeRoles), Description: ptr("The user's realm roles in realm_access.roles."), Protocol: ptr("openid-connect"),
			ClientScopeAttributes: &gocloak.ClientScopeAttributes{IncludeInTokenScope: ptr("false"), DisplayOnConsentScreen: ptr("false")},
			ProtocolMappers: &[]gocloak.ProtocolMappers{{
				Name: ptr("realm roles"), Protocol: ptr("openid-connect"), ProtocolMapper: ptr("oidc-usermodel-realm-role-mapper"),
				ProtocolMappersConfig: &gocloak.ProtocolMappersConfig{
					ClaimName: ptr("realm_access.roles"), Multivalued: ptr("true"), JSONTypeLabel: ptr("String"),
					AccessTokenClaim: ptr("true"), IDTokenClaim: ptr("false"), UserinfoTokenClaim: ptr("false"),
				},
			}},
		},
	}
	for _, s := range m.Scopes {
		scopes = append(scopes, gocloak.ClientScope{
			Name: ptr(s.Name), Protocol: ptr("openid-connect"),
			Description: ptr("Granted for " + strings.Join(s.Edges, ", ")),
			// In the token's scope claim, which the services check.
			ClientScopeAttributes: &gocloak.ClientScopeAttributes{IncludeInTokenScope: ptr("true"), DisplayOnConsentScreen: ptr("true")},
		})
	}
	clients := []gocloak.Client{browserClient(m)}
	for _, c := range m.Clients {
		clients = append(clients, confidentialClient(c))
	}
	// The default role is the realm's composite default-roles-<realm>,
	// holding the model's default role.
	defaultRole := gocloak.Role{
		Name: ptr("default-roles-" + r.Name), Composite: ptr(true),
		Description: ptr("Granted to every user who logs in."),
		Composites:  &gocloak.CompositesRepresentation{Realm: &[]string{r.DefaultRole}},
	}
	roles = append(roles, defaultRole)
	return gocloak.RealmRepresentation{
		Realm: ptr(r.Name), Enabled: ptr(true),
		// Every request over TLS, from anywhere.
		SslRequired:                 ptr("all"),
		AccessTokenLifespan:         ptr(r.AccessTokenLifespan),
		AccessCodeLifespan:          ptr(r.AuthorizationCodeLifespan),
		SsoSessionIdleTimeout:       ptr(r.RefreshTokenLifespan),
		SsoSessionMaxLifespan:       ptr(r.RefreshTokenLifespan),
		RevokeRefreshToken:          ptr(r.RefreshTokenRotation),
		RefreshTokenMaxReuse:        ptr(r.RefreshTokenMaxReuse),
		RegistrationAllowed:         ptr(false),
		BruteForceProtected:         ptr(true),
		Roles:                       &gocloak.RolesRepresentation{Realm: &roles},
		DefaultRole:                 &defaultRole,
		ClientScopes:                &scopes,
		DefaultDefaultClientScopes:  &[]string{ScopeBasic, ScopeRoles},
		DefaultOptionalClientScopes: &[]string{},
		Clients:                     &clients,
	}
}

// browserClient is the public client: the authorization code flow with
// PKCE S256 required, exact redirect URIs and origins, refresh tokens.
func browserClient(m Model) gocloak.Client {
	b := m.BrowserClient
	return gocloak.Client{
		ClientID: ptr(b.ClientID), Name: ptr(b.ClientID), Enabled: ptr(true), Protocol: ptr("openid-connect"),
		PublicClient:              ptr(true),
		StandardFlowEnabled:       ptr(true),
		ImplicitFlowEnabled:       ptr(false),
		DirectAccessGrantsEnabled: ptr(false),
		ServiceAccountsEnabled:    ptr(false),
		FullScopeAllowed:          ptr(false),
		RedirectURIs:              ptr(b.RedirectURIs),
		WebOrigins:                ptr(b.WebOrigins),
		Attributes: &map[string]string{
			"pkce.code.challenge.method": b.PKCEMethod,
			"use.refresh.tokens":         "true",
			"post.logout.redirect.uris":  strings.Join(b.RedirectURIs, "##"),
		},
		DefaultClientScopes:  &[]string{ScopeBasic, ScopeRoles},
		OptionalClientScopes: ptr(b.Scopes),
		ProtocolMappers:      audienceMappers(b.Audiences),
	}
}

// confidentialClient is a service's client: client credentials only,
// its edges' scopes in every token, an audience per callee, its secret a
// placeholder filled from Vault's copy.
func confidentialClient(c ConfidentialClient) gocloak.Client {
	return gocloak.Client{
		ClientID: ptr(c.ClientID), Name: ptr(c.ClientID), Enabled: ptr(true), Protocol: ptr("openid-connect"),
		Description:               ptr("service " + c.Namespace + "/" + c.Service),
		PublicClient:              ptr(false),
		ClientAuthenticatorType:   ptr("client-secret"),
		Secret:                    ptr("${" + ClientSecretPlaceholder(c.ClientID) + "}"),
		ServiceAccountsEnabled:    ptr(true),
		StandardFlowEnabled:       ptr(false),
		ImplicitFlowEnabled:       ptr(false),
		DirectAccessGrantsEnabled: ptr(false),
		FullScopeAllowed:          ptr(false),
		Attributes:                &map[string]string{"client_credentials.use_refresh_token": "false"},
		// Default scopes are in every client-credentials token: exactly
		// the scopes its edges name, nothing optional to ask for.
		DefaultClientScopes:  ptr(append([]string{ScopeBasic}, c.Scopes...)),
		OptionalClientScopes: &[]string{},
		ProtocolMappers:      audienceMappers(c.Audiences),
	}
}

// audienceMappers put each audience in the access token's aud.
func audienceMappers(audiences []string) *[]gocloak.ProtocolMapperRepresentation {
	out := []gocloak.ProtocolMapperRepresentation{}
	for _, a := range audiences {
		out = append(out, gocloak.ProtocolMapperRepresentation{
			Name: ptr("audience " + a), Protocol: ptr("openid-connect"), ProtocolMapper: ptr("oidc-audience-mapper"),
			Config: &map[string]string{"included.custom.audience": a, "access.token.claim": "true", "id.token.claim": "false"},
		})
	}
	return &out
}

func ptr[T any](v T) *T { return &v }

// Manifests renders the set for golden files and review.
func (s KeycloakSet) Manifests() ([]byte, error) {
	server, err := kinds.YAML(kinds.Keycloak, []KeycloakServer{s.Server})
	if err != nil {
		return nil, err
	}
	realm, err := kinds.YAML(kinds.KeycloakRealmImport, []RealmImport{s.RealmImport})
	if err != nil {
		return nil, err
	}
	extra, err := yaml.Marshal(map[string]any{"certificate": s.Certificate, "database": s.Database,
		"databaseSecret": s.DatabaseSecret, "clientSecrets": s.ClientSecrets})
	if err != nil {
		return nil, err
	}
	out := []byte("# Keycloak: the operator's resources rendered from the identity model\n")
	out = append(out, server...)
	out = append(out, realm...)
	out = append(out, "---\n# what the component wires beside them\n"...)
	return append(out, extra...), nil
}
