// Package graph is the typed service graph: which services exist, who calls
// whom on which methods and paths with which OAuth scopes, and which secrets
// each service needs. It is the single source of truth that workloads,
// network policies, mesh authorization, Vault roles, ExternalSecrets and
// identity clients are compiled from, so no fact about a service is written
// twice.
package graph

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bulwark-platform/bulwark/internal/fielderr"
)

// GatewayName is the reserved caller name of the ingress gateway. Calls made
// by the gateway are the platform's edge routes.
const GatewayName = "gateway"

// Graph is the whole service graph of one environment.
type Graph struct {
	// Gateway is the ingress gateway: a caller of the edge services.
	Gateway Gateway `json:"gateway"`
	// Services are the platform's workloads.
	Services []Service `json:"services"`
}

// Gateway is the identity of the ingress gateway and the routes it forwards.
type Gateway struct {
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	// PodLabels select the gateway's pods (for network policies).
	PodLabels map[string]string `json:"podLabels"`
	Calls     []Call            `json:"calls"`
}

// Service is one workload of the platform.
type Service struct {
	Name           string `json:"name"`
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	Port           int    `json:"port"`
	MetricsPort    int    `json:"metricsPort"`
	Image          string `json:"image"`
	// Digest pins the image ("sha256:<64 hex>") when it is known: the
	// Deployment then references the immutable image, not the tag.
	Digest   string   `json:"digest"`
	Redis    bool     `json:"redis"`
	Postgres bool     `json:"postgres"`
	Calls    []Call   `json:"calls"`
	Secrets  []Secret `json:"secrets"`
	// NativeTLS gives the service a certificate of the private CA for
	// serving TLS itself (beyond the mesh's mTLS).
	NativeTLS bool `json:"nativeTLS"`
	// AutomountServiceAccountToken mounts the Kubernetes API token into the
	// pod. Off unless the service talks to the Kubernetes API itself: Vault
	// and mesh identity use projected tokens of their own.
	AutomountServiceAccountToken bool `json:"automountServiceAccountToken"`
}

// Call is one permitted request shape from a caller to a target service:
// every method of it on every path of it, with one of its scopes. A caller
// that needs different scopes for different requests to one target (GET
// with orders:read, POST with orders:write) lists one call for each, so
// nothing beyond what the target serves is allowed.
type Call struct {
	Target  string   `json:"target"`
	Methods []string `json:"methods"`
	Paths   []string `json:"paths"`
	Scopes  []string `json:"scopes"`
}

// Secret is a static secret a service reads from files: one of
// StaticSecrets, kept in Vault's KV store at the service's own path and
// synced into a Kubernetes Secret of the service's namespace. Keys picks
// some of the secret's keys; empty means all of them.
type Secret struct {
	Name string   `json:"name"`
	Keys []string `json:"keys"`
}

// StaticSecrets are the static secrets a service may name, with their keys.
// The platform knows how each is seeded and what reads it, so a name
// outside this list is an error, not a Secret nothing fills.
// (The database credentials and the Redis login follow from `postgres`
// and `redis`; they are not listed.)
var StaticSecrets = map[string][]string{
	// The service's confidential OAuth client (client credentials grant).
	OAuthClientSecret: {"client_id", "client_secret"},
}

// Names of the secrets the platform provides.
const (
	OAuthClientSecret = "oauth-client"
	// DatabaseSecret is the dynamic PostgreSQL login of a service with
	// postgres: true (Vault's database engine, rendered by the agent).
	DatabaseSecret = "database"
	// RedisSecret is the Redis login of a service with redis: true.
	RedisSecret = "redis"
)

// SecretKeys returns the keys of a service's static secret: those it
// picks, or all of the secret's.
func (s Secret) SecretKeys() []string {
	if len(s.Keys) > 0 {
		return s.Keys
	}
	if s.Name == RedisSecret {
		return RedisSecretKeys
	}
	return StaticSecrets[s.Name]
}

// RedisSecretKeys are the keys of the Redis login.
var RedisSecretKeys = []string{"username", "password"}

// StaticSecretsOf lists the service's static secrets: those it names,
// then its Redis login when it uses Redis.
func (s *Service) StaticSecretsOf() []Secret {
	out := slices.Clone(s.Secrets)
	if s.Redis {
		out = append(out, Secret{Name: RedisSecret})
	}
	return out
}

// Edge is everything one caller may ask of one callee: their identities
// and the calls (request shapes). Every allow rule the platform emits
// traces back to one Edge.
type Edge struct {
	From  Identity
	To    *Service
	Calls []Call
}

// Scopes are the OAuth scopes of the edge's calls, each once, in order.
func (e Edge) Scopes() []string {
	var out []string
	for _, c := range e.Calls {
		for _, s := range c.Scopes {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// Identity is a workload identity: the Kubernetes service account that the
// mesh turns into a SPIFFE ID.
type Identity struct {
	Name           string
	Namespace      string
	ServiceAccount string
}

// SPIFFEID is the Istio principal of the identity within the trust domain.
func (i Identity) SPIFFEID(trustDomain string) string {
	return fmt.Sprintf("%s/ns/%s/sa/%s", trustDomain, i.Namespace, i.ServiceAccount)
}

// ImageRef is the image as a Deployment references it: pinned by digest
// when one is known.
func (s *Service) ImageRef() string {
	if s.Digest == "" {
		return s.Image
	}
	return s.Image + "@" + s.Digest
}

// Identity returns the service's workload identity.
func (s *Service) Identity() Identity {
	return Identity{Name: s.Name, Namespace: s.Namespace, ServiceAccount: s.ServiceAccount}
}

// GatewayIdentity returns the ingress gateway's workload identity.
func (g *Graph) GatewayIdentity() Identity {
	return Identity{Name: GatewayName, Namespace: g.Gateway.Namespace, ServiceAccount: g.Gateway.ServiceAccount}
}

// Service returns the service with the given name, or nil.
func (g *Graph) Service(name string) *Service {
	for i := range g.Services {
		if g.Services[i].Name == name {
			return &g.Services[i]
		}
	}
	return nil
}

// Namespaces returns the application namespaces in first-use order.
func (g *Graph) Namespaces() []string {
	var out []string
	for _, s := range g.Services {
		if !slices.Contains(out, s.Namespace) {
			out = append(out, s.Namespace)
		}
	}
	return out
}

// Edges groups the calls into one Edge per caller and target, gateway
// first, in the order targets first appear. It assumes a validated graph;
// unknown targets are skipped.
func (g *Graph) Edges() []Edge {
	var out []Edge
	add := func(from Identity, calls []Call) {
		first := len(out)
		for _, c := range calls {
			to := g.Service(c.Target)
			if to == nil {
				continue
			}
			if i := slices.IndexFunc(out[first:], func(e Edge) bool { return e.To == to }); i >= 0 {
				out[first+i].Calls = append(out[first+i].Calls, c)
				continue
			}
			out = append(out, Edge{From: from, To: to, Calls: []Call{c}})
		}
	}
	add(g.GatewayIdentity(), g.Gateway.Calls)
	for i := range g.Services {
		add(g.Services[i].Identity(), g.Services[i].Calls)
	}
	return out
}

// Callers returns the edges whose target is the named service.
func (g *Graph) Callers(name string) []Edge {
	var out []Edge
	for _, e := range g.Edges() {
		if e.To.Name == name {
			out = append(out, e)
		}
	}
	return out
}

var (
	scopeRe  = regexp.MustCompile(`^[A-Za-z0-9_.:\-]+$`)
	digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	pathRe   = regexp.MustCompile(`^/[A-Za-z0-9._~!$&'()+,;=:@/%\-]*\*?$`)
)

// HTTPMethods are the methods a call may name.
var HTTPMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// Validate checks the whole graph and returns every problem, each naming
// its field path under prefix (for example "bulwark:graph").
func (g *Graph) Validate(prefix string) error {
	var l fielderr.List
	bad := l.Add
	checkLabel := func(path, v string) {
		switch {
		case v == "":
			bad(fielderr.ErrRequired, path, "must not be empty")
		case len(validation.IsDNS1123Label(v)) > 0:
			bad(fielderr.ErrInvalid, path, "%q is not a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters)", v)
		}
	}

	checkLabel(prefix+".gateway.namespace", g.Gateway.Namespace)
	checkLabel(prefix+".gateway.serviceAccount", g.Gateway.ServiceAccount)
	if len(g.Gateway.PodLabels) == 0 {
		bad(fielderr.ErrRequired, prefix+".gateway.podLabels", "must select the gateway's pods with at least one label")
	}
	if len(g.Services) == 0 {
		bad(fielderr.ErrRequired, prefix+".services", "must name at least one service")
	}
	seen := map[string]int{}
	identities := map[string]int{g.Gateway.Namespace + "/" + g.Gateway.ServiceAccount: -1}
	for i, s := range g.Services {
		p := fmt.Sprintf("%s.services[%d]", prefix, i)
		checkLabel(p+".name", s.Name)
		if s.Name == GatewayName {
			bad(fielderr.ErrForbidden, p+".name", "%q is reserved for the ingress gateway", s.Name)
		}
		if j, dup := seen[s.Name]; dup && s.Name != "" {
			bad(fielderr.ErrDuplicate, p+".name", "duplicate service name %q (also %s.services[%d])", s.Name, prefix, j)
		} else {
			seen[s.Name] = i
		}
		checkLabel(p+".namespace", s.Namespace)
		checkLabel(p+".serviceAccount", s.ServiceAccount)
		// The service account is the mesh identity (SPIFFE ID): two
		// services sharing one would share every permission.
		id := s.Namespace + "/" + s.ServiceAccount
		if j, shared := identities[id]; shared && s.ServiceAccount != "" {
			other := "the gateway"
			if j >= 0 {
				other = fmt.Sprintf("%s.services[%d]", prefix, j)
			}
			bad(fielderr.ErrDuplicate, p+".serviceAccount", "%q in namespace %q is already the identity of %s; each service needs its own", s.ServiceAccount, s.Namespace, other)
		} else {
			identities[id] = i
		}
		if s.Port < 1 || s.Port > 65535 {
			bad(fielderr.ErrOutOfRange, p+".port", "must be between 1 and 65535, got %d", s.Port)
		}
		if s.MetricsPort < 1 || s.MetricsPort > 65535 {
			bad(fielderr.ErrOutOfRange, p+".metricsPort", "must be between 1 and 65535, got %d", s.MetricsPort)
		} else if s.MetricsPort == s.Port {
			bad(fielderr.ErrConflict, p+".metricsPort", "must differ from port %d", s.Port)
		}
		if s.Digest != "" && !digestRe.MatchString(s.Digest) {
			bad(fielderr.ErrInvalid, p+".digest", "%q is not an image digest (sha256:<64 hex digits>)", s.Digest)
		}
		if strings.TrimSpace(s.Image) == "" || strings.ContainsAny(s.Image, " \t\n") {
			bad(fielderr.ErrInvalid, p+".image", "must be a container image reference, got %q", s.Image)
		}
		named := map[string]int{}
		for j, sec := range s.Secrets {
			sp := fmt.Sprintf("%s.secrets[%d]", p, j)
			known, ok := StaticSecrets[sec.Name]
			switch {
			case sec.Name == DatabaseSecret || sec.Name == RedisSecret:
				bad(fielderr.ErrForbidden, sp+".name", "%q follows from the service's %s: true; don't list it", sec.Name, map[string]string{DatabaseSecret: "postgres", RedisSecret: "redis"}[sec.Name])
				continue
			case !ok:
				bad(fielderr.ErrUnknown, sp+".name", "unknown secret %q (known: %s)", sec.Name, strings.Join(slices.Sorted(maps.Keys(StaticSecrets)), ", "))
				continue
			}
			if k, dup := named[sec.Name]; dup {
				bad(fielderr.ErrDuplicate, sp+".name", "%q is also %s.secrets[%d]", sec.Name, p, k)
			}
			named[sec.Name] = j
			for k, key := range sec.Keys {
				if !slices.Contains(known, key) {
					bad(fielderr.ErrUnknown, fmt.Sprintf("%s.keys[%d]", sp, k), "%q is not a key of %s (its keys: %s)", key, sec.Name, strings.Join(known, ", "))
				}
			}
		}
	}
	// Calls are checked after every name is known so that targets resolve.
	g.validateCalls(prefix+".gateway.calls", "", g.Gateway.Calls, bad)
	for i, s := range g.Services {
		g.validateCalls(fmt.Sprintf("%s.services[%d].calls", prefix, i), s.Name, s.Calls, bad)
	}
	return l.Err()
}

func (g *Graph) validateCalls(prefix, caller string, calls []Call, bad func(error, string, string, ...any)) {
	// A method and path named by two calls to one target would make its
	// scopes ambiguous.
	type shape struct{ target, method, path string }
	shapes := map[shape]int{}
	for i, c := range calls {
		p := fmt.Sprintf("%s[%d]", prefix, i)
		switch {
		case c.Target == "":
			bad(fielderr.ErrRequired, p+".target", "must name a service")
		case g.Service(c.Target) == nil:
			bad(fielderr.ErrUnknown, p+".target", "unknown service %q (known: %s)", c.Target, strings.Join(g.serviceNames(), ", "))
		case c.Target == caller:
			bad(fielderr.ErrForbidden, p+".target", "a service may not call itself through the mesh")
		}
		for _, m := range c.Methods {
			for _, path := range c.Paths {
				key := shape{c.Target, m, path}
				if j, dup := shapes[key]; dup && j != i {
					bad(fielderr.ErrDuplicate, p, "%s %s on %q is also in %s[%d]: one request, one set of scopes", m, path, c.Target, prefix, j)
				} else {
					shapes[key] = i
				}
			}
		}
		if len(c.Methods) == 0 {
			bad(fielderr.ErrRequired, p+".methods", "must list at least one HTTP method")
		}
		for j, m := range c.Methods {
			if !slices.Contains(HTTPMethods, m) {
				bad(fielderr.ErrUnsupported, fmt.Sprintf("%s.methods[%d]", p, j), "%q is not one of %s", m, strings.Join(HTTPMethods, ", "))
			}
		}
		if len(c.Paths) == 0 {
			bad(fielderr.ErrRequired, p+".paths", "must list at least one path")
		}
		for j, path := range c.Paths {
			pp := fmt.Sprintf("%s.paths[%d]", p, j)
			switch {
			case !strings.HasPrefix(path, "/"):
				bad(fielderr.ErrInvalid, pp, "must start with \"/\", got %q", path)
			case !pathRe.MatchString(path):
				bad(fielderr.ErrInvalid, pp, "%q may hold URL path characters and end in one '*' (a prefix match), nothing else", path)
			}
		}
		for j, sc := range c.Scopes {
			if !scopeRe.MatchString(sc) {
				bad(fielderr.ErrInvalid, fmt.Sprintf("%s.scopes[%d]", p, j), "%q is not a valid OAuth scope", sc)
			}
		}
	}
}

func (g *Graph) serviceNames() []string {
	names := make([]string, len(g.Services))
	for i, s := range g.Services {
		names[i] = s.Name
	}
	return names
}
