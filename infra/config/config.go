// Package config turns a stack's configuration into one typed, validated
// Config. Values flow one way: environment defaults, then the stack file,
// then validation of the whole result before the program registers any
// resource. Every error names the key path, for example
// `bulwark:graph.services[1].calls[0].path: must start with "/"`.
package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// Namespace is the Pulumi configuration namespace of the project.
const Namespace = "bulwark"

// Environment names a deployment environment; defaults follow from it.
type Environment string

// The environments Bulwark knows.
const (
	Local   Environment = "local"
	CI      Environment = "ci"
	Dev     Environment = "dev"
	Staging Environment = "staging"
	Prod    Environment = "prod"
)

// Environments lists every known environment.
var Environments = []Environment{Local, CI, Dev, Staging, Prod}

// Config is the whole typed configuration of one stack.
type Config struct {
	Environment   Environment
	Kubernetes    Kubernetes
	Workloads     Workloads
	Observability Observability
	Vault         Vault
	Install       Install
	Mesh          Mesh
	Certificates  Certificates
	Edge          Edge
	// Identity is the OIDC provider: issuer, the gateway's audience, the
	// browser client and token lifetimes (infra/identity compiles the
	// realm and clients from it and the graph).
	Identity Identity
	Data     Data
	// ExternalSecrets configures the External Secrets Operator.
	ExternalSecrets ExternalSecrets
	Graph           graph.Graph
}

// Data configures the services' data stores.
type Data struct {
	Postgres Postgres `json:"postgres"`
	Redis    Redis    `json:"redis"`
}

// Postgres is the services' PostgreSQL: CloudNativePG clusters Bulwark
// installs, or an existing server (a managed database) it points at.
type Postgres struct {
	// Install runs PostgreSQL in the cluster with CloudNativePG; false
	// uses the server at External.
	Install bool `json:"install"`
	// External is the existing server when install is false.
	External External `json:"external"`
	// Namespace of the installed clusters and their operator.
	Namespace string `json:"namespace"`
	// Topology is "shared" (one cluster, a database per service) or
	// "perService" (a cluster per service: its own failure domain,
	// resources, backups and restores).
	Topology string `json:"topology"`
	// Instances per cluster (the primary and its standbys).
	Instances int `json:"instances"`
	// SynchronousReplicas is how many standbys confirm each commit before
	// it returns; 0 replicates asynchronously.
	SynchronousReplicas int `json:"synchronousReplicas"`
	// ImageName is the PostgreSQL operand image.
	ImageName string    `json:"imageName"`
	Storage   Storage   `json:"storage"`
	Resources Resources `json:"resources"`
	Backup    Backup    `json:"backup"`
	// ManagementRole is the role Vault's database engine logs in as: it
	// may create roles and administer each service's owner role, nothing
	// more.
	ManagementRole string `json:"managementRole"`
}

// External is a store outside the cluster, by address.
type External struct {
	Host string `json:"host"`
	// Port 0 means the local cluster's store, handed over by the runner
	// (local and ci only).
	Port int `json:"port"`
	// CIDR holds the store's address: the only network the services'
	// egress may reach it at.
	CIDR string `json:"cidr"`
	// TLS says the store requires TLS (always, outside local and ci).
	TLS bool `json:"tls"`
}

// Address is host:port.
func (e External) Address() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// Storage is a volume's size and class.
type Storage struct {
	Size         string `json:"size"`
	StorageClass string `json:"storageClass"`
}

// Backup sends base backups and WAL to object storage (point-in-time
// recovery); an empty destinationPath means no backups.
type Backup struct {
	// DestinationPath is s3://bucket/prefix, gs://bucket/prefix or an Azure
	// blob URL.
	DestinationPath string `json:"destinationPath"`
	// EndpointURL is an S3-compatible store's endpoint (MinIO, say).
	EndpointURL string `json:"endpointURL"`
	// CredentialsSecret holds ACCESS_KEY_ID and ACCESS_SECRET_KEY, in the
	// clusters' namespace.
	CredentialsSecret string `json:"credentialsSecret"`
	// Schedule of base backups: a six-field cron expression, seconds first.
	Schedule string `json:"schedule"`
	// RetentionPolicy keeps backups and WAL this long: "30d", "4w", "3m".
	RetentionPolicy string `json:"retentionPolicy"`
}

// Enabled says whether backups are configured.
func (b Backup) Enabled() bool { return b.DestinationPath != "" }

// Redis is the services' cache: Valkey (Redis-compatible) installed from
// its chart, or an existing server by address.
type Redis struct {
	Install  bool     `json:"install"`
	External External `json:"external"`
	// Namespace of the installed Redis.
	Namespace string `json:"namespace"`
	// Replicas beside the primary; 0 runs one server.
	Replicas int `json:"replicas"`
	// Sentinel promotes a replica when the primary fails (needs 2 replicas).
	Sentinel    bool        `json:"sentinel"`
	Persistence Persistence `json:"persistence"`
	Resources   Resources   `json:"resources"`
}

// Persistence is how Redis keeps its data across restarts.
type Persistence struct {
	Size         string `json:"size"`
	StorageClass string `json:"storageClass"`
	// AppendOnly logs every write (fsync every second).
	AppendOnly bool `json:"appendOnly"`
	// Snapshots are RDB save points, "<seconds> <changes>" pairs such as
	// "3600 1 300 100"; empty takes none.
	Snapshots string `json:"snapshots"`
}

// Certificates configures the private CA chain and leaf certificates.
type Certificates struct {
	// RootCADuration and LeafDuration are written as Go durations
	// ("43800h"); renewal starts when a third of the lifetime is left.
	RootCADuration time.Duration `json:"rootCADuration"`
	LeafDuration   time.Duration `json:"leafDuration"`
	// Issuer signs the leaf certificates: "bulwark-ca" (the private CA) or
	// one of ExternalIssuers.
	Issuer string `json:"issuer"`
	// ExternalIssuers are ClusterIssuers that exist outside Bulwark (an
	// ACME issuer for public names, say).
	ExternalIssuers []string `json:"externalIssuers"`
	// IstioCSR makes istiod sign workload certificates through the same
	// private CA (cert-manager istio-csr) instead of its own root.
	IstioCSR bool `json:"istioCSR"`
}

// Edge configures the ingress gateway.
type Edge struct {
	// Hosts are the DNS names the gateway serves (and its certificate holds).
	Hosts []string `json:"hosts"`
	// MinTLSVersion is "1.2" or "1.3" (prod insists on 1.3).
	MinTLSVersion string `json:"minTLSVersion"`
	JWT           JWT    `json:"jwt"`
	// RateLimit applies to every route; RouteRateLimits override it per
	// gateway route, keyed by target service.
	RateLimit       RateLimit            `json:"rateLimit"`
	RouteRateLimits map[string]RateLimit `json:"routeRateLimits"`
}

// JWT is the token issuer the gateway trusts.
type JWT struct {
	Issuer    string   `json:"issuer"`
	JWKSURI   string   `json:"jwksUri"`
	Audiences []string `json:"audiences"`
}

// RateLimit is a token bucket: Requests per PerSeconds, per gateway pod.
type RateLimit struct {
	Requests   int `json:"requests"`
	PerSeconds int `json:"perSeconds"`
}

// Kubernetes selects the cluster the explicit provider talks to.
type Kubernetes struct {
	// Kubeconfig is a kubeconfig file path or its contents. Empty means the
	// kubeconfig handed over by the runner, else the provider's default
	// ($KUBECONFIG or ~/.kube/config).
	Kubeconfig string `json:"kubeconfig"`
	// Context is the kubeconfig context; empty means its current context.
	Context string `json:"context"`
}

// Workloads sizes and hardens every service deployment.
type Workloads struct {
	Replicas                      int         `json:"replicas"`
	Resources                     Resources   `json:"resources"`
	Autoscaling                   Autoscaling `json:"autoscaling"`
	VPAMode                       string      `json:"vpaMode"`
	TerminationGracePeriodSeconds int         `json:"terminationGracePeriodSeconds"`
	PreStopSleepSeconds           int         `json:"preStopSleepSeconds"`
	TopologySpread                string      `json:"topologySpread"`
	// DisruptionBudget is each service's PodDisruptionBudget: exactly one
	// of minAvailable and maxUnavailable.
	DisruptionBudget DisruptionBudget `json:"disruptionBudget"`
	// TmpSize bounds the scratch volume at /tmp (the root filesystem is
	// read-only); it counts against the ephemeral-storage limit.
	TmpSize string `json:"tmpSize"`
}

// DisruptionBudget is how many pods of a service voluntary disruptions
// (node drains) must leave running, or may take at once.
type DisruptionBudget struct {
	MinAvailable   int `json:"minAvailable"`
	MaxUnavailable int `json:"maxUnavailable"`
}

// Resources are container requests and limits as Kubernetes quantities.
type Resources struct {
	Requests Quantities `json:"requests"`
	Limits   Quantities `json:"limits"`
}

// Quantities are CPU, memory and ephemeral (node-local disk) storage.
type Quantities struct {
	CPU              string `json:"cpu"`
	Memory           string `json:"memory"`
	EphemeralStorage string `json:"ephemeralStorage"`
}

// Autoscaling bounds the HorizontalPodAutoscaler.
type Autoscaling struct {
	MinReplicas             int `json:"minReplicas"`
	MaxReplicas             int `json:"maxReplicas"`
	TargetCPUUtilization    int `json:"targetCPUUtilization"`
	TargetMemoryUtilization int `json:"targetMemoryUtilization"`
}

// Observability configures tracing for the environment.
type Observability struct {
	TraceSamplingRatio float64 `json:"traceSamplingRatio"`
	// SLO is every service's objectives; SLOs overrides them per service
	// (by name).
	SLO  SLO            `json:"slo"`
	SLOs map[string]SLO `json:"slos"`
}

// Mesh is where the platform's own parts run and what else the mesh and
// network policies must let through: every path a workload may take
// beyond the graph's edges is named here, nowhere else.
type Mesh struct {
	// TrustDomain of the SPIFFE IDs (cluster.local/ns/<ns>/sa/<sa>).
	TrustDomain string `json:"trustDomain"`
	// RootNamespace is Istio's root namespace (mesh-wide policy lives there).
	RootNamespace string `json:"rootNamespace"`
	// Istiod serves xDS and workload certificates to the sidecars.
	Istiod Peer `json:"istiod"`
	// DNS is the cluster DNS every pod resolves names with.
	DNS Peer `json:"dns"`
	// Prometheus scrapes every service's metrics port, over mTLS.
	Prometheus Peer `json:"prometheus"`
	// OTelCollector receives traces (OTLP gRPC) from every service.
	OTelCollector Peer `json:"otelCollector"`
	// EgressCIDRs are the only addresses outside the cluster that
	// application pods may reach; empty means none.
	EgressCIDRs []string `json:"egressCIDRs"`
	// OutboundTrafficPolicy is the sidecars' outbound mode: REGISTRY_ONLY
	// (only services the mesh knows) or ALLOW_ANY.
	OutboundTrafficPolicy string `json:"outboundTrafficPolicy"`
}

// Peer is a platform workload a service talks to, or that talks to it.
type Peer struct {
	Namespace      string            `json:"namespace"`
	Service        string            `json:"service"`
	ServiceAccount string            `json:"serviceAccount"`
	PodLabels      map[string]string `json:"podLabels"`
	Port           int               `json:"port"`
}

// Address is the peer's in-cluster Service address, host:port.
func (p Peer) Address() string {
	return fmt.Sprintf("%s.%s.svc:%d", p.Service, p.Namespace, p.Port)
}

// Install says which third-party parts Bulwark installs. false adopts an
// installation that already runs in the cluster.
type Install struct {
	Istio           bool `json:"istio"`
	CertManager     bool `json:"certManager"`
	Vault           bool `json:"vault"`
	ExternalSecrets bool `json:"externalSecrets"`
	Observability   bool `json:"observability"`
	// Replicas of the installed control planes (istiod, the ingress
	// gateway, cert-manager's controller and webhook).
	Replicas int `json:"replicas"`
}

// Allowed enumerations.
var (
	VPAModes                = []string{"Off", "Initial", "Recreate", "InPlaceOrRecreate"}
	TopologySpreads         = []string{"ScheduleAnyway", "DoNotSchedule"}
	OutboundTrafficPolicies = []string{"REGISTRY_ONLY", "ALLOW_ANY"}
)

// RegistryOnly reports whether sidecars may reach only known services.
func (m *Mesh) RegistryOnly() bool { return m.OutboundTrafficPolicy == "REGISTRY_ONLY" }

// key is one top-level configuration key and where it decodes to.
type key struct {
	name   string
	target func(*Config) any
	// replace: a value set on the stack replaces the default whole instead
	// of overriding field by field.
	replace bool
}

// keys are every configuration key the program reads. Pulumi.yaml
// declares each with its type and description (a test keeps them in step).
var keys = []key{
	{"environment", func(c *Config) any { return &c.Environment }, false},
	{"kubernetes", func(c *Config) any { return &c.Kubernetes }, false},
	{"workloads", func(c *Config) any { return &c.Workloads }, false},
	{"observability", func(c *Config) any { return &c.Observability }, false},
	{"vault", func(c *Config) any { return &c.Vault }, false},
	{"install", func(c *Config) any { return &c.Install }, false},
	{"mesh", func(c *Config) any { return &c.Mesh }, false},
	{"certificates", func(c *Config) any { return &c.Certificates }, false},
	{"identity", func(c *Config) any { return &c.Identity }, false},
	{"edge", func(c *Config) any { return &c.Edge }, false},
	{"data", func(c *Config) any { return &c.Data }, false},
	{"externalSecrets", func(c *Config) any { return &c.ExternalSecrets }, false},
	{"graph", func(c *Config) any { return &c.Graph }, true},
}

// KeyNames returns the full names ("bulwark:graph") of every known key.
func KeyNames() []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = Namespace + ":" + k.name
	}
	return out
}

// FieldError is a configuration error at one key path: the platform's
// one field-error type.
type FieldError = fielderr.Error

// Getter reads one configuration value by its full key ("bulwark:graph").
type Getter func(key string) (string, bool)

// Load builds the Config from the values that get returns. present lists
// every key set on the stack; a key in the bulwark namespace that the
// program does not know is an error. All problems found are returned
// together, joined.
func Load(get Getter, present []string) (*Config, error) {
	var errs []error
	var l fielderr.List
	known := KeyNames()
	for _, k := range present {
		if ns, _, ok := strings.Cut(k, ":"); ok && ns == Namespace && !slices.Contains(known, k) {
			l.Add(fielderr.ErrUnknown, k, "unknown configuration key (known keys: %s)", strings.Join(known, ", "))
		}
	}

	envRaw, ok := get(Namespace + ":environment")
	if !ok || envRaw == "" {
		l.Add(fielderr.ErrRequired, Namespace+":environment", "must be set to one of %s", envList())
		return nil, l.Err()
	}
	env := Environment(envRaw)
	if !slices.Contains(Environments, env) {
		l.Add(fielderr.ErrUnsupported, Namespace+":environment", "%q is not one of %s", envRaw, envList())
		return nil, l.Err()
	}
	if err := l.Err(); err != nil {
		errs = append(errs, err)
	}

	cfg := Defaults(env)
	for _, k := range keys[1:] {
		raw, ok := get(Namespace + ":" + k.name)
		if !ok {
			continue
		}
		target := k.target(cfg)
		if k.replace && strings.TrimSpace(raw) == "{}" {
			// Pulumi.yaml's default: nothing set, keep the default value.
			continue
		}
		saved := reflect.ValueOf(target).Elem().Interface()
		if k.replace {
			reflect.ValueOf(target).Elem().SetZero()
		}
		if err := decodeStrict(Namespace+":"+k.name, raw, target); err != nil {
			errs = append(errs, err)
			// Validate the rest against the default, so that one bad key
			// doesn't bury the report in follow-on errors.
			reflect.ValueOf(target).Elem().Set(reflect.ValueOf(saved))
		}
		if derive := derived[k.name]; derive != nil {
			derive(cfg)
		}
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

func envList() string {
	names := make([]string, len(Environments))
	for i, e := range Environments {
		names[i] = string(e)
	}
	return strings.Join(names, ", ")
}

// Validate checks the whole configuration and returns every problem found.
func (c *Config) Validate() error {
	var l fielderr.List
	bad := func(kind error, path, format string, args ...any) {
		l.Add(kind, Namespace+":"+path, format, args...)
	}
	c.Workloads.validate(bad)
	if r := c.Observability.TraceSamplingRatio; r < 0 || r > 1 {
		bad(fielderr.ErrOutOfRange, "observability.traceSamplingRatio", "must be between 0 and 1, got %s", strconv.FormatFloat(r, 'g', -1, 64))
	}
	c.Observability.validate(&c.Graph, bad)
	c.Mesh.validate(bad)
	c.Certificates.validate(bad)
	if c.Certificates.IstioCSR && !c.Install.Istio {
		bad(fielderr.ErrConflict, "certificates.istioCSR", "needs install.istio: the CA of a mesh Bulwark adopts is not Bulwark's to change")
	}
	c.Edge.validate(c.Environment, &c.Graph, bad)
	c.validateIdentity(bad)
	c.Vault.validate(c.Environment, c.Install.Vault, bad)
	c.ExternalSecrets.validate(c.Install.ExternalSecrets, bad)
	c.Data.validate(c.Environment, bad)
	if c.Install.Replicas < 1 {
		bad(fielderr.ErrOutOfRange, "install.replicas", "must be at least 1, got %d", c.Install.Replicas)
	}
	errs := []error{l.Err()}
	errs = append(errs, c.Graph.Validate(Namespace+":graph"))
	return errors.Join(errs...)
}

// Allowed data store settings.
var (
	PostgresTopologies = []string{"shared", "perService"}
	backupSchemes      = []string{"s3://", "gs://", "https://"}
	retentionRe        = regexp.MustCompile(`^([1-9][0-9]*)([dwm])$`)
	roleNameRe         = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	snapshotsRe        = regexp.MustCompile(`^([1-9][0-9]* [1-9][0-9]*)( [1-9][0-9]* [1-9][0-9]*)*$`)
)

// MinRetentionDays is the shortest backup retention accepted: a week, so a
// problem noticed on Monday can still be rolled back to the last Monday.
const MinRetentionDays = 7

func (d *Data) validate(env Environment, bad badFunc) {
	p := d.Postgres
	if p.Install {
		if len(validation.IsDNS1123Label(p.Namespace)) > 0 {
			bad(fielderr.ErrInvalid, "data.postgres.namespace", "%q is not a DNS-1123 label", p.Namespace)
		}
		if !slices.Contains(PostgresTopologies, p.Topology) {
			bad(fielderr.ErrUnsupported, "data.postgres.topology", "%q is not one of %s", p.Topology, strings.Join(PostgresTopologies, ", "))
		}
		switch {
		case p.Instances < 1:
			bad(fielderr.ErrOutOfRange, "data.postgres.instances", "must be at least 1, got %d", p.Instances)
		case env == Prod && p.Instances < 3:
			bad(fielderr.ErrForbidden, "data.postgres.instances", "prod runs at least 3 instances (a primary and two standbys), got %d", p.Instances)
		}
		switch {
		case p.SynchronousReplicas < 0 || (p.Instances >= 1 && p.SynchronousReplicas >= p.Instances):
			bad(fielderr.ErrOutOfRange, "data.postgres.synchronousReplicas", "must be at least 0 and below instances (%d), got %d", p.Instances, p.SynchronousReplicas)
		case env == Prod && p.SynchronousReplicas < 1:
			bad(fielderr.ErrForbidden, "data.postgres.synchronousReplicas", "prod confirms every commit on a standby: at least 1, got %d", p.SynchronousReplicas)
		}
		if strings.TrimSpace(p.ImageName) == "" {
			bad(fielderr.ErrRequired, "data.postgres.imageName", "must name the PostgreSQL image")
		}
		quantity(bad, "data.postgres.storage.size", p.Storage.Size)
		validateStoreResources(bad, "data.postgres.resources", p.Resources)
		p.Backup.validate(env, bad)
	} else {
		p.External.validate(env, "data.postgres.external", bad)
	}
	if !roleNameRe.MatchString(p.ManagementRole) || p.ManagementRole == "postgres" {
		bad(fielderr.ErrInvalid, "data.postgres.managementRole", "%q is not a lower-case role name other than postgres", p.ManagementRole)
	}
	r := d.Redis
	if r.Install {
		if len(validation.IsDNS1123Label(r.Namespace)) > 0 {
			bad(fielderr.ErrInvalid, "data.redis.namespace", "%q is not a DNS-1123 label", r.Namespace)
		}
		if r.Replicas < 0 {
			bad(fielderr.ErrOutOfRange, "data.redis.replicas", "must be at least 0, got %d", r.Replicas)
		}
		if r.Sentinel && r.Replicas < 2 {
			bad(fielderr.ErrConflict, "data.redis.sentinel", "needs at least 2 replicas (3 servers for a quorum), got %d", r.Replicas)
		}
		if env == Prod && (r.Replicas < 2 || !r.Sentinel) {
			bad(fielderr.ErrForbidden, "data.redis.sentinel", "prod fails over automatically: sentinel with at least 2 replicas")
		}
		if r.Persistence.Size != "" {
			quantity(bad, "data.redis.persistence.size", r.Persistence.Size)
		} else if r.Replicas > 0 || r.Persistence.AppendOnly || r.Persistence.Snapshots != "" {
			bad(fielderr.ErrRequired, "data.redis.persistence.size", "replicas, appendOnly and snapshots need a volume")
		}
		if r.Persistence.Snapshots != "" && !snapshotsRe.MatchString(r.Persistence.Snapshots) {
			bad(fielderr.ErrInvalid, "data.redis.persistence.snapshots", "%q is not \"<seconds> <changes>\" pairs such as \"3600 1 300 100\"", r.Persistence.Snapshots)
		}
		validateStoreResources(bad, "data.redis.resources", r.Resources)
	} else {
		r.External.validate(env, "data.redis.external", bad)
	}
}

func (e External) validate(env Environment, path string, bad badFunc) {
	local := env == Local || env == CI
	if strings.TrimSpace(e.Host) == "" {
		bad(fielderr.ErrRequired, path+".host", "must name the store's host (install: false)")
	}
	switch {
	case e.Port == 0 && !local:
		bad(fielderr.ErrRequired, path+".port", "must be set outside local and ci (0 takes the local cluster's store)")
	case e.Port < 0 || e.Port > 65535:
		bad(fielderr.ErrOutOfRange, path+".port", "must be between 1 and 65535, got %d", e.Port)
	}
	_, network, err := net.ParseCIDR(e.CIDR)
	switch {
	case err != nil:
		bad(fielderr.ErrInvalid, path+".cidr", "%q is not a CIDR (the network egress to the store is allowed to)", e.CIDR)
	case net.ParseIP(e.Host) != nil && !network.Contains(net.ParseIP(e.Host)):
		bad(fielderr.ErrConflict, path+".cidr", "%s does not hold the host %s", e.CIDR, e.Host)
	}
	if !e.TLS && !local {
		bad(fielderr.ErrForbidden, path+".tls", "a store outside local and ci must require TLS")
	}
}

func (b Backup) validate(env Environment, bad badFunc) {
	if !b.Enabled() {
		if env == Prod {
			bad(fielderr.ErrRequired, "data.postgres.backup.destinationPath", "prod keeps backups: an object-store path such as s3://bucket/prefix")
		}
		return
	}
	if !slices.ContainsFunc(backupSchemes, func(s string) bool { return strings.HasPrefix(b.DestinationPath, s) }) {
		bad(fielderr.ErrInvalid, "data.postgres.backup.destinationPath", "%q is not an s3://, gs:// or https:// (Azure) path", b.DestinationPath)
	}
	if b.EndpointURL != "" {
		if u, err := url.Parse(b.EndpointURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad(fielderr.ErrInvalid, "data.postgres.backup.endpointURL", "must be an http(s) URL, got %q", b.EndpointURL)
		}
	}
	if len(validation.IsDNS1123Subdomain(b.CredentialsSecret)) > 0 {
		bad(fielderr.ErrInvalid, "data.postgres.backup.credentialsSecret", "%q is not a Secret name", b.CredentialsSecret)
	}
	if len(strings.Fields(b.Schedule)) != 6 {
		bad(fielderr.ErrInvalid, "data.postgres.backup.schedule", "%q is not a six-field cron expression (seconds first), such as \"0 0 3 * * *\"", b.Schedule)
	}
	m := retentionRe.FindStringSubmatch(b.RetentionPolicy)
	if m == nil {
		bad(fielderr.ErrInvalid, "data.postgres.backup.retentionPolicy", "%q is not a retention such as \"30d\", \"4w\" or \"3m\"", b.RetentionPolicy)
		return
	}
	n, _ := strconv.Atoi(m[1])
	if days := n * map[string]int{"d": 1, "w": 7, "m": 30}[m[2]]; days < MinRetentionDays {
		bad(fielderr.ErrOutOfRange, "data.postgres.backup.retentionPolicy", "%s is below the minimum of %d days", b.RetentionPolicy, MinRetentionDays)
	}
}

// validateStoreResources checks a store's CPU and memory requests and limits.
func validateStoreResources(bad badFunc, path string, r Resources) {
	for _, pair := range [][3]string{{"cpu", r.Requests.CPU, r.Limits.CPU}, {"memory", r.Requests.Memory, r.Limits.Memory}} {
		req := quantity(bad, path+".requests."+pair[0], pair[1])
		limit := quantity(bad, path+".limits."+pair[0], pair[2])
		if req != nil && limit != nil && req.Cmp(*limit) > 0 {
			bad(fielderr.ErrConflict, path+".requests."+pair[0], "%s exceeds the limit %s", pair[1], pair[2])
		}
	}
}

// quantity parses a positive Kubernetes quantity, reporting a problem at path.
func quantity(bad badFunc, path, v string) *resource.Quantity {
	if v == "" {
		bad(fielderr.ErrRequired, path, "must be set")
		return nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		bad(fielderr.ErrInvalid, path, "%q is not a Kubernetes quantity", v)
		return nil
	}
	if q.Sign() <= 0 {
		bad(fielderr.ErrOutOfRange, path, "must be positive, got %q", v)
		return nil
	}
	return &q
}

type badFunc func(kind error, path, format string, args ...any)

func (w *Workloads) validate(bad badFunc) {
	if w.Replicas < 1 {
		bad(fielderr.ErrOutOfRange, "workloads.replicas", "must be at least 1, got %d", w.Replicas)
	}
	r := w.Resources
	for _, pair := range []struct {
		name       string
		req, limit string
	}{{"cpu", r.Requests.CPU, r.Limits.CPU}, {"memory", r.Requests.Memory, r.Limits.Memory}, {"ephemeralStorage", r.Requests.EphemeralStorage, r.Limits.EphemeralStorage}} {
		req := quantity(bad, "workloads.resources.requests."+pair.name, pair.req)
		limit := quantity(bad, "workloads.resources.limits."+pair.name, pair.limit)
		if req != nil && limit != nil && req.Cmp(*limit) > 0 {
			bad(fielderr.ErrConflict, "workloads.resources.requests."+pair.name, "%s exceeds the limit %s", pair.req, pair.limit)
		}
	}
	if tmp := quantity(bad, "workloads.tmpSize", w.TmpSize); tmp != nil {
		if limit, err := resource.ParseQuantity(r.Limits.EphemeralStorage); err == nil && limit.Cmp(*tmp) <= 0 {
			bad(fielderr.ErrConflict, "workloads.resources.limits.ephemeralStorage", "%s must exceed tmpSize %s (the /tmp volume counts against it, and so do the logs)", r.Limits.EphemeralStorage, w.TmpSize)
		}
	}
	a := w.Autoscaling
	if a.MinReplicas < 1 {
		bad(fielderr.ErrOutOfRange, "workloads.autoscaling.minReplicas", "must be at least 1, got %d", a.MinReplicas)
	}
	if a.MaxReplicas < a.MinReplicas {
		bad(fielderr.ErrOutOfRange, "workloads.autoscaling.maxReplicas", "must be at least minReplicas (%d), got %d", a.MinReplicas, a.MaxReplicas)
	}
	if w.Replicas >= 1 && a.MinReplicas >= 1 && a.MaxReplicas >= a.MinReplicas && (w.Replicas < a.MinReplicas || w.Replicas > a.MaxReplicas) {
		bad(fielderr.ErrConflict, "workloads.replicas", "%d lies outside the autoscaling bounds [%d, %d]", w.Replicas, a.MinReplicas, a.MaxReplicas)
	}
	for _, u := range []struct {
		path string
		v    int
	}{{"workloads.autoscaling.targetCPUUtilization", a.TargetCPUUtilization}, {"workloads.autoscaling.targetMemoryUtilization", a.TargetMemoryUtilization}} {
		if u.v < 1 || u.v > 100 {
			bad(fielderr.ErrOutOfRange, u.path, "must be a percentage between 1 and 100, got %d", u.v)
		}
	}
	if !slices.Contains(VPAModes, w.VPAMode) {
		bad(fielderr.ErrUnsupported, "workloads.vpaMode", "%q is not one of %s", w.VPAMode, strings.Join(VPAModes, ", "))
	}
	if w.TerminationGracePeriodSeconds < 1 || w.TerminationGracePeriodSeconds > 3600 {
		bad(fielderr.ErrOutOfRange, "workloads.terminationGracePeriodSeconds", "must be between 1 and 3600, got %d", w.TerminationGracePeriodSeconds)
	}
	if w.PreStopSleepSeconds < 0 || w.PreStopSleepSeconds >= w.TerminationGracePeriodSeconds {
		bad(fielderr.ErrOutOfRange, "workloads.preStopSleepSeconds", "must be at least 0 and below terminationGracePeriodSeconds (%d), got %d", w.TerminationGracePeriodSeconds, w.PreStopSleepSeconds)
	}
	if !slices.Contains(TopologySpreads, w.TopologySpread) {
		bad(fielderr.ErrUnsupported, "workloads.topologySpread", "%q is not one of %s", w.TopologySpread, strings.Join(TopologySpreads, ", "))
	}
	d := w.DisruptionBudget
	switch {
	case (d.MinAvailable > 0) == (d.MaxUnavailable > 0):
		bad(fielderr.ErrConflict, "workloads.disruptionBudget", "set exactly one of minAvailable and maxUnavailable (positive), got %d and %d", d.MinAvailable, d.MaxUnavailable)
	case d.MinAvailable < 0 || d.MaxUnavailable < 0:
		bad(fielderr.ErrOutOfRange, "workloads.disruptionBudget", "must not be negative")
	case d.MinAvailable > 0 && w.Replicas >= 1 && d.MinAvailable >= w.Replicas:
		// minAvailable = replicas would refuse every eviction: no node
		// could ever be drained.
		bad(fielderr.ErrConflict, "workloads.disruptionBudget.minAvailable", "%d must be below replicas (%d), or no node could ever be drained", d.MinAvailable, w.Replicas)
	}
}

func (m *Mesh) validate(bad badFunc) {
	label := func(path, v string) {
		if len(validation.IsDNS1123Label(v)) > 0 {
			bad(fielderr.ErrInvalid, path, "%q is not a DNS-1123 label", v)
		}
	}
	if m.TrustDomain == "" || strings.ContainsAny(m.TrustDomain, "/ \t") {
		bad(fielderr.ErrInvalid, "mesh.trustDomain", "must be a domain such as cluster.local, got %q", m.TrustDomain)
	}
	label("mesh.rootNamespace", m.RootNamespace)
	peers := []struct {
		name string
		p    Peer
		sa   bool
	}{
		{"istiod", m.Istiod, false}, {"dns", m.DNS, false}, {"prometheus", m.Prometheus, true},
		{"otelCollector", m.OTelCollector, false},
	}
	for _, pe := range peers {
		path := "mesh." + pe.name
		label(path+".namespace", pe.p.Namespace)
		if pe.p.Service != "" {
			label(path+".service", pe.p.Service)
		}
		if pe.sa {
			label(path+".serviceAccount", pe.p.ServiceAccount)
		}
		if len(pe.p.PodLabels) == 0 {
			bad(fielderr.ErrRequired, path+".podLabels", "must select the peer's pods with at least one label")
		}
		if pe.p.Port < 0 || pe.p.Port > 65535 || (pe.name != "prometheus" && pe.p.Port == 0) {
			bad(fielderr.ErrOutOfRange, path+".port", "must be between 1 and 65535, got %d", pe.p.Port)
		}
	}
	if m.OTelCollector.Service == "" {
		bad(fielderr.ErrRequired, "mesh.otelCollector.service", "must name the collector's Service (the services export traces to it)")
	}
	for i, cidr := range m.EgressCIDRs {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			bad(fielderr.ErrInvalid, fmt.Sprintf("mesh.egressCIDRs[%d]", i), "%q is not a CIDR", cidr)
		}
	}
	if !slices.Contains(OutboundTrafficPolicies, m.OutboundTrafficPolicy) {
		bad(fielderr.ErrUnsupported, "mesh.outboundTrafficPolicy", "%q is not one of %s", m.OutboundTrafficPolicy, strings.Join(OutboundTrafficPolicies, ", "))
	}
}

// CAIssuer is the ClusterIssuer of the private CA.
const CAIssuer = naming.CAIssuer

func (c *Certificates) validate(bad badFunc) {
	if c.RootCADuration < time.Hour {
		bad(fielderr.ErrOutOfRange, "certificates.rootCADuration", "must be a duration of at least 1h such as \"43800h\", got %s", c.RootCADuration)
	}
	if c.LeafDuration < time.Hour {
		bad(fielderr.ErrOutOfRange, "certificates.leafDuration", "must be a duration of at least 1h such as \"2160h\", got %s", c.LeafDuration)
	}
	if c.LeafDuration >= time.Hour && c.RootCADuration >= time.Hour && c.LeafDuration >= c.RootCADuration {
		bad(fielderr.ErrConflict, "certificates.leafDuration", "%s must be shorter than the root CA's %s", shortDuration(c.LeafDuration), shortDuration(c.RootCADuration))
	}
	for i, name := range c.ExternalIssuers {
		if len(validation.IsDNS1123Label(name)) > 0 || name == CAIssuer {
			bad(fielderr.ErrInvalid, fmt.Sprintf("certificates.externalIssuers[%d]", i), "%q is not a usable ClusterIssuer name", name)
		}
	}
	if c.Issuer != CAIssuer && !slices.Contains(c.ExternalIssuers, c.Issuer) {
		bad(fielderr.ErrUnknown, "certificates.issuer", "unknown issuer %q (known: %s)", c.Issuer, strings.Join(append([]string{CAIssuer}, c.ExternalIssuers...), ", "))
	}
}

// shortDuration prints whole hours as "48h" rather than "48h0m0s".
func shortDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return d.String()
}

var dnsName = regexp.MustCompile(`^(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func (e *Edge) validate(env Environment, g *graph.Graph, bad badFunc) {
	if len(e.Hosts) == 0 {
		bad(fielderr.ErrRequired, "edge.hosts", "must name at least one host")
	}
	for i, h := range e.Hosts {
		if len(h) > 253 || !dnsName.MatchString(h) {
			bad(fielderr.ErrInvalid, fmt.Sprintf("edge.hosts[%d]", i), "%q is not a DNS name", h)
		}
	}
	switch {
	case e.MinTLSVersion != "1.2" && e.MinTLSVersion != "1.3":
		bad(fielderr.ErrUnsupported, "edge.minTLSVersion", "must be \"1.2\" or \"1.3\", got %q", e.MinTLSVersion)
	case env == Prod && e.MinTLSVersion != "1.3":
		bad(fielderr.ErrForbidden, "edge.minTLSVersion", "prod requires TLS 1.3, got %q", e.MinTLSVersion)
	}
	checkURL := func(path, v string) {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad(fielderr.ErrInvalid, path, "must be an http(s) URL, got %q", v)
		} else if u.Scheme != "https" && env != Local && env != CI {
			bad(fielderr.ErrForbidden, path, "must use https outside local and ci, got %q", v)
		}
	}
	checkURL("edge.jwt.issuer", e.JWT.Issuer)
	checkURL("edge.jwt.jwksUri", e.JWT.JWKSURI)
	checkLimit := func(path string, r RateLimit) {
		if r.Requests < 1 || r.PerSeconds < 1 {
			bad(fielderr.ErrOutOfRange, path, "requests and perSeconds must be positive, got %d per %ds", r.Requests, r.PerSeconds)
		}
	}
	checkLimit("edge.rateLimit", e.RateLimit)
	for _, k := range slices.Sorted(maps.Keys(e.RouteRateLimits)) {
		if !slices.ContainsFunc(g.Gateway.Calls, func(c graph.Call) bool { return c.Target == k }) {
			bad(fielderr.ErrUnknown, "edge.routeRateLimits."+k, "%q is not a gateway route (the gateway calls: %s)", k, strings.Join(gatewayTargets(g), ", "))
		}
		checkLimit("edge.routeRateLimits."+k, e.RouteRateLimits[k])
	}
}

func gatewayTargets(g *graph.Graph) []string {
	var out []string
	for _, c := range g.Gateway.Calls {
		if !slices.Contains(out, c.Target) {
			out = append(out, c.Target)
		}
	}
	return out
}

// RouteRateLimit is the limit of the gateway route to target.
func (e *Edge) RouteRateLimit(target string) RateLimit {
	if r, ok := e.RouteRateLimits[target]; ok {
		return r
	}
	return e.RateLimit
}
