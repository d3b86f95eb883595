// Package secrets compiles the service graph and the Vault configuration
// into the platform's secrets: Vault's side (the Plan the Vault layer
// applies: KV, the Kubernetes auth method with a role and a policy per
// service, the database engine with a role per PostgreSQL service, and a
// role and policy per namespace's secret store), the External Secrets
// objects that sync the static secrets into Kubernetes, and, per service
// that logs in to Vault, the agent injector's annotations that render its
// database credentials. Pure functions, golden-tested per stack.
package secrets

import (
	"fmt"
	"slices"
	"strings"
	"time"

	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/datastore"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/internal/esoapi"
	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// Typed objects of the set.
type (
	SecretStore    = kinds.Object[esoapi.SecretStoreSpec]
	ExternalSecret = kinds.Object[esoapi.ExternalSecretSpec]
	ServiceEntry   = kinds.Object[*networkingv1alpha3.ServiceEntry]
)

// Set is the secrets of one environment.
type Set struct {
	Plan Plan
	// Stores are the SecretStores, one per application namespace that
	// has static secrets, each logging in as StoreAccount of its namespace.
	Stores []SecretStore
	// ExternalSecrets are one per static secret of each service.
	ExternalSecrets []ExternalSecret
	// Injections are the agent's pod annotations and token volume, per
	// service that logs in to Vault (its database credentials), in graph
	// order.
	Injections []Injection
	// ServiceEntries make an external Vault known to a mesh whose
	// sidecars reach only registered services (REGISTRY_ONLY): one per
	// namespace whose pods log in, visible in that namespace only.
	ServiceEntries []ServiceEntry
}

// Names the compiled objects share with the components and the checks.
const (
	// StoreName is each namespace's SecretStore.
	StoreName = "vault"
	// StoreAccount is the service account each namespace's SecretStore
	// logs in to Vault as (the controller requests its tokens).
	StoreAccount = "vault-secret-store"
	// VaultRelease names the installed Vault's chart release and Service.
	VaultRelease = "vault"
	// VaultPort is the port Vault serves its API on.
	VaultPort = 8200
	// VaultPeer names Vault in network policies and reports.
	VaultPeer = "vault"
)

// Compile turns a validated configuration (after the runner's hand-over of
// local stores) into the environment's secrets.
func Compile(cfg *config.Config) (Set, error) {
	v := cfg.Vault
	prefix := v.PathPrefix
	p := Plan{
		Environment:  string(cfg.Environment),
		Distribution: v.Distribution,
		Address:      Address(cfg),
		PathPrefix:   prefix,
		Mounts:       Mounts{KV: prefix + "/kv", Kubernetes: prefix + "/kubernetes", Database: prefix + "/database"},
		Kubernetes:   KubernetesAuth{Host: v.Kubernetes.Host, Issuer: v.Kubernetes.Issuer, Audience: v.Kubernetes.Audience},
	}
	if !cfg.Install.Vault {
		p.Kubernetes.ReviewerSecret = v.Namespace + "/" + ReviewerSecret
	}
	g := &cfg.Graph
	dbs := databases(cfg)
	for i := range g.Services {
		s := &g.Services[i]
		pol := Policy{Name: PolicyName(prefix, s.Name), For: "service " + s.Namespace + "/" + s.Name}
		if statics := s.StaticSecretsOf(); len(statics) > 0 {
			pol.Rules = append(pol.Rules, Rule{Path: p.Mounts.KV + "/data/" + ServicePath(s) + "/*", Capabilities: []string{"read"}})
			for _, sec := range statics {
				p.Static = append(p.Static, staticSecret(s, sec))
			}
		}
		if db, ok := dbs[s.Name]; ok {
			pol.Rules = append(pol.Rules, Rule{Path: p.Mounts.Database + "/creds/" + db.Name, Capabilities: []string{"read"}})
		}
		if len(pol.Rules) == 0 {
			continue // nothing to read: no policy, no role, no login
		}
		p.Policies = append(p.Policies, pol)
		p.Roles = append(p.Roles, Role{Name: s.Name, Service: s.Name, ServiceAccount: s.ServiceAccount, Namespace: s.Namespace,
			Audience: v.Kubernetes.Audience, Policies: []string{pol.Name}, TTL: seconds(v.Token.TTL), MaxTTL: seconds(v.Token.MaxTTL)})
	}
	// One store per namespace: its policy reads exactly the static
	// secrets of the namespace's services, nothing under a wildcard.
	for _, ns := range g.Namespaces() {
		pol := Policy{Name: StorePolicyName(prefix, ns), For: "the secret store of namespace " + ns}
		for _, st := range p.Static {
			if st.Namespace == ns {
				pol.Rules = append(pol.Rules, Rule{Path: p.Mounts.KV + "/data/" + st.Path, Capabilities: []string{"read"}})
			}
		}
		if len(pol.Rules) == 0 {
			continue
		}
		p.Policies = append(p.Policies, pol)
		p.Roles = append(p.Roles, Role{Name: StoreRole(ns), ServiceAccount: StoreAccount, Namespace: ns,
			Audience: v.Kubernetes.Audience, Policies: []string{pol.Name}, TTL: seconds(v.Token.TTL), MaxTTL: seconds(v.Token.MaxTTL)})
	}
	// An installed Keycloak holds each service's client secret: its
	// namespace's store reads exactly the oauth-client secrets.
	if id := cfg.Identity; id.InstallsKeycloak() {
		p.IdentityNamespace = id.Namespace
		pol := Policy{Name: StorePolicyName(prefix, id.Namespace), For: "the identity provider's secret store (namespace " + id.Namespace + "): the services' client secrets"}
		for _, st := range identityClientSecrets(&p) {
			pol.Rules = append(pol.Rules, Rule{Path: p.Mounts.KV + "/data/" + st.Path, Capabilities: []string{"read"}})
		}
		if len(pol.Rules) > 0 {
			p.Policies = append(p.Policies, pol)
			p.Roles = append(p.Roles, Role{Name: StoreRole(id.Namespace), ServiceAccount: StoreAccount, Namespace: id.Namespace,
				Audience: v.Kubernetes.Audience, Policies: []string{pol.Name}, TTL: seconds(v.Token.TTL), MaxTTL: seconds(v.Token.MaxTTL)})
		}
	}
	if len(dbs) > 0 {
		p.Database = database(cfg, dbs)
	}
	if r := cfg.Data.Redis; r.Install && slices.ContainsFunc(g.Services, func(s graph.Service) bool { return s.Redis }) {
		p.RedisPasswordSecret = &SecretRef{Namespace: r.Namespace, Name: datastore.RedisUsersSecret, Key: datastore.RedisAppUser}
	}
	set := Set{Plan: p}
	set.Stores, set.ExternalSecrets = externalSecrets(cfg, &p)
	set.Injections = injections(cfg, &p)
	set.ServiceEntries = serviceEntries(cfg, set.Injections)
	if err := p.Validate(); err != nil {
		// The compiler's own output breaking its invariants is a bug, but
		// one that must stop the program before anything is registered.
		return Set{}, fmt.Errorf("compiled Vault plan: %w", err)
	}
	return set, nil
}

// Address is Vault's URL as the cluster's pods reach it: the installed
// release's Service (TLS from the private CA outside dev mode), or the
// external Vault's address.
func Address(cfg *config.Config) string {
	v := cfg.Vault
	if !cfg.Install.Vault {
		return v.ExternalAddress()
	}
	scheme := "https"
	if v.Mode == "dev" {
		scheme = "http"
	}
	return fmt.Sprintf("%s://%s.%s.svc:%d", scheme, VaultRelease, v.Namespace, VaultPort)
}

// ReviewerSecret is the token Secret of the service account an external
// Vault reviews login tokens with (in the Vault namespace).
const ReviewerSecret = "vault-auth-reviewer-token"

// PolicyName is a service's policy: the path prefix with dashes, then the
// service ("bulwark-prod-order"), so one Vault can hold several
// environments' policies apart.
func PolicyName(prefix, service string) string {
	return strings.ReplaceAll(prefix, "/", "-") + "-" + service
}

// StorePolicyName is the policy of a namespace's secret store.
func StorePolicyName(prefix, ns string) string {
	return strings.ReplaceAll(prefix, "/", "-") + "-store-" + ns
}

// StoreRole is the auth role of a namespace's secret store. Service names
// are DNS labels and "store-" is kept out of them by the graph's check
// below, so a store role never collides with a service's.
func StoreRole(ns string) string { return "store-" + ns }

// ServicePath is the service's own prefix under the KV mount.
func ServicePath(s *graph.Service) string { return s.Namespace + "/" + s.Name }

// SecretName is the Kubernetes Secret a static secret is synced into.
func SecretName(service, secret string) string { return service + "-" + secret }

func staticSecret(s *graph.Service, sec graph.Secret) StaticSecret {
	st := StaticSecret{Service: s.Name, Namespace: s.Namespace, Name: sec.Name,
		Path: ServicePath(s) + "/" + sec.Name, Keys: sec.SecretKeys()}
	switch sec.Name {
	case graph.OAuthClientSecret:
		// The identity provider's client registration takes this ID and
		// secret; until it lands, Vault holds the only copy.
		st.Fixed = map[string]string{"client_id": s.Name}
		st.Generated = []string{"client_secret"}
	case graph.RedisSecret:
		st.Fixed = map[string]string{"username": datastore.RedisAppUser}
		st.From = map[string]string{"password": FromRedisPassword}
	}
	// Only the keys the service picked are seeded.
	for k := range st.Fixed {
		if !slices.Contains(st.Keys, k) {
			delete(st.Fixed, k)
		}
	}
	for k := range st.From {
		if !slices.Contains(st.Keys, k) {
			delete(st.From, k)
		}
	}
	st.Generated = slices.DeleteFunc(st.Generated, func(k string) bool { return !slices.Contains(st.Keys, k) })
	return st
}

func seconds(d time.Duration) int { return int(d / time.Second) }

// dbService is where a PostgreSQL service's database lives, as Vault and
// the service reach it.
type dbService struct {
	Name, Owner, Connection, Host string
	Port                          int
	TLS                           bool
}

func databases(cfg *config.Config) map[string]dbService {
	pg := cfg.Data.Postgres
	out := map[string]dbService{}
	for _, db := range datastore.Databases(&cfg.Graph) {
		d := dbService{Name: db.Name, Owner: db.Owner}
		if pg.Install {
			cluster := datastore.ClusterName(db.Service, pg.Topology)
			d.Connection, d.Host, d.Port, d.TLS = cluster, cluster+"-rw."+pg.Namespace+".svc", datastore.PostgresPort, true
		} else {
			d.Connection, d.Host, d.Port, d.TLS = datastore.PostgresStore, pg.External.Host, pg.External.Port, pg.External.TLS
		}
		out[db.Service] = d
	}
	return out
}

// database is one connection per PostgreSQL server and one role per
// service that owns a database.
func database(cfg *config.Config, dbs map[string]dbService) *Database {
	d := &Database{}
	v := cfg.Vault
	for _, s := range cfg.Graph.Services {
		db, ok := dbs[s.Name]
		if !ok {
			continue
		}
		i := slices.IndexFunc(d.Connections, func(c Connection) bool { return c.Name == db.Connection })
		if i < 0 {
			c := Connection{Name: db.Connection, Host: db.Host, Port: db.Port,
				Database: "postgres", Username: cfg.Data.Postgres.ManagementRole, TLS: db.TLS}
			if pg := cfg.Data.Postgres; pg.Install {
				c.PasswordSecret = &SecretRef{Namespace: pg.Namespace, Name: datastore.RoleSecret(db.Connection, pg.ManagementRole), Key: "password"}
			}
			d.Connections = append(d.Connections, c)
			i = len(d.Connections) - 1
		}
		d.Connections[i].AllowedRoles = append(d.Connections[i].AllowedRoles, s.Name)
		d.Roles = append(d.Roles, DBRole{Name: s.Name, Service: s.Name, Connection: db.Connection,
			Creation: CreationStatements(db.Owner), Revocation: RevocationStatements(),
			TTL: seconds(v.Database.TTL), MaxTTL: seconds(v.Database.MaxTTL),
			Database: db.Name, Host: db.Host, Port: db.Port})
	}
	return d
}

// CreationStatements make a role that logs in until its lease ends and
// may do exactly what the service's owner role may: connect to that one
// database (the data model grants CONNECT to the owner alone) and use the
// tables the owner owns. Every session acts as the owner (SET ROLE by
// default), so what migrations create is the owner's, not the short-lived
// role's, and the role can always be dropped.
func CreationStatements(owner string) []string {
	o := quoteIdent(owner)
	return []string{
		`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' INHERIT NOCREATEDB NOCREATEROLE IN ROLE ` + o + `;`,
		`ALTER ROLE "{{name}}" SET role = ` + o + `;`,
	}
}

// RevocationStatements end the role's sessions, then drop it, so no
// connection outlives its lease. The management role signals backends as
// pg_signal_backend (it inherits nothing, so it takes the role for that
// statement only).
func RevocationStatements() []string {
	return []string{
		`SET ROLE pg_signal_backend;`,
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}';`,
		`RESET ROLE;`,
		`DROP ROLE IF EXISTS "{{name}}";`,
	}
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// identityClientSecrets are the static secrets an installed identity
// provider reads: each service's oauth-client secret holding a
// client_secret.
func identityClientSecrets(p *Plan) []StaticSecret {
	var out []StaticSecret
	for _, st := range p.Static {
		if st.Name == graph.OAuthClientSecret && slices.Contains(st.Keys, "client_secret") {
			out = append(out, st)
		}
	}
	return out
}

// externalSecrets are one SecretStore per namespace with static secrets
// and one ExternalSecret per static secret; with an installed identity
// provider, a store in its namespace and one ExternalSecret gathering the
// services' client secrets, each under its client ID.
func externalSecrets(cfg *config.Config, p *Plan) ([]SecretStore, []ExternalSecret) {
	var stores []SecretStore
	var out []ExternalSecret
	kv := p.Mounts.KV
	namespaces := cfg.Graph.Namespaces()
	idSecrets := identityClientSecrets(p)
	if p.IdentityNamespace != "" && len(idSecrets) > 0 {
		namespaces = append(slices.Clone(namespaces), p.IdentityNamespace)
	}
	for _, ns := range namespaces {
		if ns != p.IdentityNamespace && !slices.ContainsFunc(p.Static, func(s StaticSecret) bool { return s.Namespace == ns }) {
			continue
		}
		vp := &esoapi.VaultProvider{
			Server: p.Address, Path: &kv, Version: esoapi.KVVersion2,
			Auth: &esoapi.VaultAuth{Kubernetes: &esoapi.VaultKubernetesAuth{
				Path: p.Mounts.Kubernetes, Role: StoreRole(ns),
				ServiceAccountRef: &esoapi.ServiceAccountSelector{Name: StoreAccount, Audiences: []string{p.Kubernetes.Audience}},
			}},
		}
		if strings.HasPrefix(p.Address, "https://") && cfg.Install.Vault {
			// The installed Vault's certificate is the private CA's.
			vp.CAProvider = &esoapi.CAProvider{Type: esoapi.CAProviderSecret, Name: naming.TrustBundle, Key: "ca.crt"}
		}
		stores = append(stores, kinds.SecretStore.Of(StoreName, ns, map[string]string{naming.PeerLabel: VaultPeer},
			esoapi.SecretStoreSpec{Provider: &esoapi.SecretStoreProvider{Vault: vp}}))
	}
	refresh := &metav1.Duration{Duration: cfg.ExternalSecrets.RefreshInterval}
	for _, st := range p.Static {
		spec := esoapi.ExternalSecretSpec{
			SecretStoreRef:  esoapi.SecretStoreRef{Name: StoreName, Kind: esoapi.KindSecretStore},
			RefreshInterval: refresh,
			Target: esoapi.ExternalSecretTarget{Name: SecretName(st.Service, st.Name),
				CreationPolicy: esoapi.CreationPolicyOwner, DeletionPolicy: esoapi.DeletionPolicyRetain,
				Template: &esoapi.ExternalSecretTemplate{Type: "Opaque", Metadata: esoapi.ExternalSecretTemplateMetadata{
					Labels: naming.SelectorLabels(st.Service)}}},
		}
		for _, k := range st.Keys {
			spec.Data = append(spec.Data, esoapi.ExternalSecretData{SecretKey: k, RemoteRef: esoapi.ExternalSecretDataRemoteRef{Key: st.Path, Property: k}})
		}
		out = append(out, kinds.ExternalSecret.Of(SecretName(st.Service, st.Name), st.Namespace,
			map[string]string{naming.ServiceLabel: st.Service}, spec))
	}
	if p.IdentityNamespace != "" && len(idSecrets) > 0 {
		name := cfg.Identity.ClientSecretsSecret()
		spec := esoapi.ExternalSecretSpec{
			SecretStoreRef:  esoapi.SecretStoreRef{Name: StoreName, Kind: esoapi.KindSecretStore},
			RefreshInterval: refresh,
			Target: esoapi.ExternalSecretTarget{Name: name,
				CreationPolicy: esoapi.CreationPolicyOwner, DeletionPolicy: esoapi.DeletionPolicyRetain,
				Template: &esoapi.ExternalSecretTemplate{Type: "Opaque", Metadata: esoapi.ExternalSecretTemplateMetadata{
					Labels: map[string]string{naming.PartOfLabel: naming.PartOf}}}},
		}
		for _, st := range idSecrets {
			// The key is the client ID, which is the service's name.
			spec.Data = append(spec.Data, esoapi.ExternalSecretData{SecretKey: st.Service, RemoteRef: esoapi.ExternalSecretDataRemoteRef{Key: st.Path, Property: "client_secret"}})
		}
		out = append(out, kinds.ExternalSecret.Of(name, p.IdentityNamespace, map[string]string{naming.PartOfLabel: naming.PartOf}, spec))
	}
	return stores, out
}

// VaultPodLabels select the installed Vault's server pods (the charts'
// labels; the name is the distribution's chart).
func VaultPodLabels(distribution string) map[string]string {
	return map[string]string{naming.NameLabel: distribution, naming.InstanceLabel: VaultRelease, "component": "server"}
}

// Peers lists Vault as a peer of each service that logs in to it (those
// whose database credentials the agent renders): the installed server's
// pods, or the external Vault's address.
func Peers(cfg *config.Config) map[string][]datastore.Peer {
	v := cfg.Vault
	peer := datastore.Peer{Store: VaultPeer, Name: VaultPeer, Namespace: v.Namespace, PodLabels: VaultPodLabels(v.Distribution), Ports: []int{VaultPort}}
	if !cfg.Install.Vault {
		peer = datastore.Peer{Store: VaultPeer, Name: VaultPeer, CIDR: v.External.CIDR}
		if v.External.Port != 0 {
			// Port 0 is the local cluster's OpenBao, on a port chosen at
			// its first start: the rule names the loopback address only.
			peer.Ports = []int{v.External.Port}
		}
	}
	out := map[string][]datastore.Peer{}
	for _, db := range datastore.Databases(&cfg.Graph) {
		out[db.Service] = []datastore.Peer{peer}
	}
	return out
}

// serviceEntries register an external Vault with a REGISTRY_ONLY mesh in
// each namespace whose pods log in (the agent's traffic goes through the
// sidecar), exported to that namespace only. A Vault in the cluster is a
// Service the mesh knows already; ALLOW_ANY meshes need nothing.
func serviceEntries(cfg *config.Config, ins []Injection) []ServiceEntry {
	if cfg.Install.Vault || !cfg.Mesh.RegistryOnly() || len(ins) == 0 {
		return nil
	}
	var out []ServiceEntry
	for _, ns := range cfg.Graph.Namespaces() {
		if slices.ContainsFunc(ins, func(in Injection) bool { return cfg.Graph.Service(in.Service).Namespace == ns }) {
			out = append(out, kinds.ServiceEntry.Of("vault-external", ns, map[string]string{naming.PeerLabel: VaultPeer},
				datastore.ExternalServiceEntry(cfg.Vault.External, cfg.Vault.External.Host, VaultPeer)))
		}
	}
	return out
}
