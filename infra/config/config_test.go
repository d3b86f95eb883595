package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-platform/bulwark/internal/fielderr"

	"gopkg.in/yaml.v3"
)

func load(m map[string]string) (*Config, error) { return Load(MapGetter(m), Keys(m)) }

// devWith is a dev stack's values with these set (a set environment wins).
func devWith(values map[string]string) map[string]string {
	out := map[string]string{"bulwark:environment": "dev"}
	maps.Copy(out, values)
	return out
}

func TestEnvironmentDefaults(t *testing.T) {
	for _, env := range Environments {
		t.Run(string(env), func(t *testing.T) {
			cfg, err := load(map[string]string{"bulwark:environment": string(env)})
			if err != nil {
				t.Fatalf("defaults of %s are invalid: %v", env, err)
			}
			if cfg.Environment != env {
				t.Errorf("environment = %s", cfg.Environment)
			}
		})
	}
	prod, local := Defaults(Prod), Defaults(Local)
	if prod.Workloads.Replicas < 3 || prod.Workloads.Autoscaling.MaxReplicas < 10 || prod.Vault.Mode != "ha" {
		t.Errorf("prod defaults lack redundancy: %+v %+v", prod.Workloads, prod.Vault)
	}
	if local.Workloads.Replicas != 1 || local.Vault.Mode != "dev" {
		t.Errorf("local defaults: replicas %d, vault %s", local.Workloads.Replicas, local.Vault.Mode)
	}
	if prod.Observability.TraceSamplingRatio >= local.Observability.TraceSamplingRatio {
		t.Errorf("prod samples %v of traces, local %v: prod should sample less", prod.Observability.TraceSamplingRatio, local.Observability.TraceSamplingRatio)
	}
}

func TestStackValuesOverrideOnlyWhatTheySet(t *testing.T) {
	cfg, err := load(map[string]string{
		"bulwark:environment": "prod",
		"bulwark:workloads":   `{"replicas": 4, "autoscaling": {"maxReplicas": 20}}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.Workloads
	if w.Replicas != 4 || w.Autoscaling.MaxReplicas != 20 {
		t.Errorf("overrides not applied: %+v", w)
	}
	if w.Autoscaling.MinReplicas != 3 || w.Resources.Limits.CPU != "1" || w.TerminationGracePeriodSeconds != 45 {
		t.Errorf("unset fields lost their prod defaults: %+v", w)
	}
}

func TestStackMapsReplaceDefaultMaps(t *testing.T) {
	cfg, err := load(map[string]string{"bulwark:environment": "dev", "bulwark:mesh": `{"prometheus": {"podLabels": {"app": "prom"}}}`})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Mesh.Prometheus.PodLabels; len(got) != 1 || got["app"] != "prom" {
		t.Errorf("podLabels = %v, want only the stack's", got)
	}
	if cfg.Mesh.Prometheus.Namespace != "monitoring" {
		t.Errorf("unset sibling lost its default: %q", cfg.Mesh.Prometheus.Namespace)
	}
}

func TestGraphOverrideReplacesTheDefaultGraph(t *testing.T) {
	cfg, err := load(map[string]string{
		"bulwark:environment": "dev",
		"bulwark:graph": `{"gateway": {"namespace": "edge", "serviceAccount": "gw", "podLabels": {"app": "gw"}, "calls": [{"target": "api", "methods": ["GET"], "paths": ["/v1/*"]}]},
			"services": [{"name": "api", "namespace": "apps", "serviceAccount": "api", "port": 8080, "metricsPort": 9090, "image": "example/api:1"}]}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Graph.Services) != 1 || cfg.Graph.Services[0].Name != "api" || cfg.Graph.Gateway.Namespace != "edge" {
		t.Errorf("graph not replaced: %+v", cfg.Graph)
	}
}

func TestBadConfigurationNamesTheKey(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]string
		want   string
	}{
		{"a call to an unknown service", map[string]string{
			"bulwark:graph": `{"gateway": {"namespace": "edge", "serviceAccount": "gw", "podLabels": {"app": "gw"}, "calls": []},
				"services": [{"name": "api", "namespace": "apps", "serviceAccount": "api", "port": 8080, "metricsPort": 9090, "image": "x/api:1",
					"calls": [{"target": "ledger", "methods": ["GET"], "paths": ["/x"]}]}]}`},
			`bulwark:graph.services[0].calls[0].target: unknown service "ledger"`},
		{"a path without a slash", map[string]string{
			"bulwark:graph": `{"gateway": {"namespace": "edge", "serviceAccount": "gw", "podLabels": {"app": "gw"}, "calls": [{"target": "api", "methods": ["GET"], "paths": ["v1"]}]},
				"services": [{"name": "api", "namespace": "apps", "serviceAccount": "api", "port": 8080, "metricsPort": 9090, "image": "x/api:1"}]}`},
			`bulwark:graph.gateway.calls[0].paths[0]: must start with "/"`},
		{"negative replicas", map[string]string{"bulwark:workloads": `{"replicas": -1}`},
			"bulwark:workloads.replicas: must be at least 1, got -1"},
		{"an unknown top-level key", map[string]string{"bulwark:replicaCount": "3"},
			"bulwark:replicaCount: unknown configuration key"},
		{"an unknown nested key", map[string]string{"bulwark:workloads": `{"replica": 2}`},
			"bulwark:workloads.replica: unknown key"},
		{"an unknown key deep in the graph", map[string]string{"bulwark:graph": `{"services": [{"name": "a", "sidecar": true}]}`},
			"bulwark:graph.services[0].sidecar: unknown key"},
		{"a string where a number belongs", map[string]string{"bulwark:workloads": `{"replicas": "three"}`},
			`bulwark:workloads.replicas: must be an integer, got the string "three"`},
		{"a fraction where an integer belongs", map[string]string{"bulwark:workloads": `{"autoscaling": {"maxReplicas": 2.5}}`},
			"bulwark:workloads.autoscaling.maxReplicas: must be an integer"},
		{"a list where an object belongs", map[string]string{"bulwark:vault": `["ha"]`},
			"bulwark:vault: must be an object, got a list"},
		{"an unknown environment", map[string]string{"bulwark:environment": "qa"},
			`bulwark:environment: "qa" is not one of local, ci, dev, staging, prod`},
		{"requests above limits", map[string]string{"bulwark:workloads": `{"resources": {"requests": {"cpu": "2"}}}`},
			"bulwark:workloads.resources.requests.cpu: 2 exceeds the limit"},
		{"a malformed quantity", map[string]string{"bulwark:workloads": `{"resources": {"limits": {"memory": "lots"}}}`},
			`bulwark:workloads.resources.limits.memory: "lots" is not a Kubernetes quantity`},
		{"max replicas below min", map[string]string{"bulwark:workloads": `{"autoscaling": {"minReplicas": 4, "maxReplicas": 2}}`},
			"bulwark:workloads.autoscaling.maxReplicas: must be at least minReplicas (4), got 2"},
		{"a sampling ratio above one", map[string]string{"bulwark:observability": `{"traceSamplingRatio": 1.5}`},
			"bulwark:observability.traceSamplingRatio: must be between 0 and 1, got 1.5"},
		{"an availability objective of 100 %", map[string]string{"bulwark:observability": `{"slo": {"availability": 1}}`},
			"bulwark:observability.slo.availability: must be between 0.9 and 0.9999, got 1"},
		{"a latency threshold between buckets", map[string]string{"bulwark:observability": `{"slos": {"order": {"availability": 0.99, "latencyTarget": 0.95, "latencyThreshold": "300ms"}}}`},
			"bulwark:observability.slos.order.latencyThreshold: 300ms is not a bucket of the services' latency histogram"},
		{"an objective for no service", map[string]string{"bulwark:observability": `{"slos": {"billing": {"availability": 0.99, "latencyTarget": 0.95, "latencyThreshold": "250ms"}}}`},
			`bulwark:observability.slos.billing: "billing" is not a service of the graph`},
		{"an unknown VPA mode", map[string]string{"bulwark:workloads": `{"vpaMode": "Auto"}`},
			`bulwark:workloads.vpaMode: "Auto" is not one of`},
		{"a preStop sleep as long as the grace period", map[string]string{"bulwark:workloads": `{"preStopSleepSeconds": 30}`},
			"bulwark:workloads.preStopSleepSeconds: must be at least 0 and below terminationGracePeriodSeconds (30)"},
		{"an even raft cluster", map[string]string{"bulwark:vault": `{"mode": "ha", "replicas": 4}`},
			"bulwark:vault.replicas: ha mode (raft) needs an odd number"},
		{"a malformed egress CIDR", map[string]string{"bulwark:mesh": `{"egressCIDRs": ["10.0.0.0/33"]}`},
			`bulwark:mesh.egressCIDRs[0]: "10.0.0.0/33" is not a CIDR`},
		{"a peer without pod labels", map[string]string{"bulwark:mesh": `{"dns": {"podLabels": {}}}`},
			"bulwark:mesh.dns.podLabels: must select"},
		{"an unknown certificate issuer", map[string]string{"bulwark:certificates": `{"issuer": "letsencrypt"}`},
			`bulwark:certificates.issuer: unknown issuer "letsencrypt" (known: bulwark-ca)`},
		{"a leaf outliving its root", map[string]string{"bulwark:certificates": `{"rootCADuration": "24h", "leafDuration": "48h"}`},
			"bulwark:certificates.leafDuration: 48h must be shorter than the root CA's 24h"},
		{"a duration that is not one", map[string]string{"bulwark:certificates": `{"rootCADuration": "ten years"}`},
			`bulwark:certificates.rootCADuration: must be a duration`},
		{"a rate limit for a route the gateway lacks", map[string]string{"bulwark:edge": `{"routeRateLimits": {"payment": {"requests": 5, "perSeconds": 1}}}`},
			`bulwark:edge.routeRateLimits.payment: "payment" is not a gateway route`},
		{"a zero rate limit", map[string]string{"bulwark:edge": `{"rateLimit": {"requests": 0, "perSeconds": 1}}`},
			"bulwark:edge.rateLimit: requests and perSeconds must be positive"},
		{"a JWKS over plain http outside local", map[string]string{"bulwark:edge": `{"jwt": {"jwksUri": "http://id.example.com/certs"}}`},
			"bulwark:edge.jwt.jwksUri: must use https outside local and ci"},
		{"a host that is not a DNS name", map[string]string{"bulwark:edge": `{"hosts": ["api example"]}`},
			`bulwark:edge.hosts[0]: "api example" is not a DNS name`},
		{"istio-csr on an adopted mesh", map[string]string{"bulwark:install": `{"istio": false}`, "bulwark:certificates": `{"istioCSR": true}`},
			"bulwark:certificates.istioCSR: needs install.istio"},
		{"invalid JSON", map[string]string{"bulwark:install": `{istio: true`},
			"bulwark:install: not a valid value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := load(devWith(tc.values))
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			if cfg != nil {
				t.Error("returned a Config along with the error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not name the key:\n got: %v\nwant: %s", err, tc.want)
			}
		})
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	_, err := load(map[string]string{
		"bulwark:environment": "dev",
		"bulwark:typo":        "1",
		"bulwark:workloads":   `{"replicas": "x"}`,
	})
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %T carries no FieldError", err)
	}
	for _, want := range []string{"bulwark:typo", "bulwark:workloads.replicas"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error misses %s: %v", want, err)
		}
	}
}

func TestProdRequiresTLS13(t *testing.T) {
	_, err := load(map[string]string{"bulwark:environment": "prod", "bulwark:edge": `{"minTLSVersion": "1.2"}`})
	if err == nil || !strings.Contains(err.Error(), `bulwark:edge.minTLSVersion: prod requires TLS 1.3, got "1.2"`) {
		t.Fatalf("prod accepted TLS 1.2: %v", err)
	}
	if _, err := load(map[string]string{"bulwark:environment": "staging", "bulwark:edge": `{"minTLSVersion": "1.2"}`}); err != nil {
		t.Fatalf("staging refused TLS 1.2: %v", err)
	}
}

func TestProdRefusesVaultDevMode(t *testing.T) {
	_, err := load(map[string]string{"bulwark:environment": "prod", "bulwark:vault": `{"mode": "dev", "replicas": 1}`})
	if err == nil || !strings.Contains(err.Error(), "bulwark:vault.mode: dev mode") {
		t.Fatalf("prod accepted Vault dev mode: %v", err)
	}
}

func TestMissingEnvironment(t *testing.T) {
	_, err := load(map[string]string{"bulwark:workloads": `{}`})
	if err == nil || !strings.Contains(err.Error(), "bulwark:environment: must be set") {
		t.Fatalf("got %v", err)
	}
}

// Pulumi.yaml must declare exactly the keys the program reads, each with
// a type and a description, so `pulumi config` and the program agree.
func TestPulumiYAMLDeclaresEveryKey(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var proj struct {
		Config map[string]struct {
			Type        string `yaml:"type"`
			Description string `yaml:"description"`
		} `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &proj); err != nil {
		t.Fatal(err)
	}
	var declared []string
	for k, v := range proj.Config {
		declared = append(declared, k)
		if v.Type == "" || v.Description == "" {
			t.Errorf("%s: declared without type or description", k)
		}
		wantType := "object"
		if k == "bulwark:environment" {
			wantType = "string"
		}
		if v.Type != wantType {
			t.Errorf("%s: type %q, want %q", k, v.Type, wantType)
		}
	}
	slices.Sort(declared)
	known := KeyNames()
	slices.Sort(known)
	if !slices.Equal(declared, known) {
		t.Errorf("Pulumi.yaml declares %v, the program reads %v", declared, known)
	}
}

func TestEveryStackFileLoads(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "stacks", "Pulumi.*.yaml"))
	if err != nil || len(files) != 5 {
		t.Fatalf("want 5 stack files, got %v (%v)", files, err)
	}
	for _, f := range files {
		m, err := ReadStackFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := load(m); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
}

// Each problem wraps the sentinel of its kind, so callers and tests match
// the kind with errors.Is and read the path from the *FieldError.
func TestProblemsCarryTheirKindAndPath(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]string
		path   string
		kind   error
	}{
		{"an unknown key", map[string]string{"bulwark:replicaCount": "3"}, "bulwark:replicaCount", fielderr.ErrUnknown},
		{"a wrong type", map[string]string{"bulwark:workloads": `{"replicas": "three"}`}, "bulwark:workloads.replicas", fielderr.ErrInvalid},
		{"negative replicas", map[string]string{"bulwark:workloads": `{"replicas": -1}`}, "bulwark:workloads.replicas", fielderr.ErrOutOfRange},
		{"dev Vault in prod", map[string]string{"bulwark:environment": "prod", "bulwark:vault": `{"mode": "dev", "replicas": 1}`}, "bulwark:vault.mode", fielderr.ErrForbidden},
		{"dev Vault in staging", map[string]string{"bulwark:environment": "staging", "bulwark:vault": `{"mode": "dev", "replicas": 1}`}, "bulwark:vault.mode", fielderr.ErrForbidden},
		{"a credential lifetime above the maximum", map[string]string{"bulwark:vault": `{"database": {"maxTTL": "48h"}}`}, "bulwark:vault.database.maxTTL", fielderr.ErrOutOfRange},
		{"a token TTL beyond its maximum", map[string]string{"bulwark:vault": `{"token": {"ttl": "5h"}}`}, "bulwark:vault.token.ttl", fielderr.ErrConflict},
		{"an unknown Vault distribution", map[string]string{"bulwark:vault": `{"distribution": "conjur"}`}, "bulwark:vault.distribution", fielderr.ErrUnsupported},
		{"an external Vault without TLS outside local and ci", map[string]string{"bulwark:install": `{"vault": false}`, "bulwark:vault": `{"external": {"host": "vault.example.net", "port": 8200, "cidr": "10.0.0.0/8"}}`}, "bulwark:vault.external.tls", fielderr.ErrForbidden},
		{"a path prefix with a trailing slash", map[string]string{"bulwark:vault": `{"pathPrefix": "bulwark/"}`}, "bulwark:vault.pathPrefix", fielderr.ErrInvalid},
		{"an unknown secret in the graph", map[string]string{"bulwark:graph": `{"gateway": {"namespace": "edge", "serviceAccount": "gw", "podLabels": {"app": "gw"}},
			"services": [{"name": "api", "namespace": "apps", "serviceAccount": "api", "port": 8080, "metricsPort": 9090, "image": "x/api:1", "secrets": [{"name": "stripe-key"}]}]}`},
			"bulwark:graph.services[0].secrets[0].name", fielderr.ErrUnknown},
		{"a refresh interval of a second", map[string]string{"bulwark:externalSecrets": `{"refreshInterval": "1s"}`}, "bulwark:externalSecrets.refreshInterval", fielderr.ErrOutOfRange},
		{"a call to an unknown service", map[string]string{"bulwark:graph": `{"gateway": {"namespace": "edge", "serviceAccount": "gw", "podLabels": {"app": "gw"},
			"calls": [{"target": "ledger", "methods": ["GET"], "paths": ["/x"]}]},
			"services": [{"name": "api", "namespace": "apps", "serviceAccount": "api", "port": 8080, "metricsPort": 9090, "image": "x/api:1"}]}`},
			"bulwark:graph.gateway.calls[0].target", fielderr.ErrUnknown},
		{"a duration that is not one", map[string]string{"bulwark:certificates": `{"leafDuration": "a day"}`}, "bulwark:certificates.leafDuration", fielderr.ErrInvalid},
		{"a PDB that blocks every drain", map[string]string{"bulwark:workloads": `{"disruptionBudget": {"minAvailable": 2}}`}, "bulwark:workloads.disruptionBudget.minAvailable", fielderr.ErrConflict},
		{"both PDB bounds", map[string]string{"bulwark:workloads": `{"disruptionBudget": {"minAvailable": 1, "maxUnavailable": 1}}`}, "bulwark:workloads.disruptionBudget", fielderr.ErrConflict},
		{"no ephemeral-storage limit", map[string]string{"bulwark:workloads": `{"resources": {"limits": {"ephemeralStorage": ""}}}`}, "bulwark:workloads.resources.limits.ephemeralStorage", fielderr.ErrRequired},
		{"/tmp as large as the ephemeral-storage limit", map[string]string{"bulwark:workloads": `{"tmpSize": "256Mi"}`}, "bulwark:workloads.resources.limits.ephemeralStorage", fielderr.ErrConflict},
		{"an unknown outbound policy", map[string]string{"bulwark:mesh": `{"outboundTrafficPolicy": "OPEN"}`}, "bulwark:mesh.outboundTrafficPolicy", fielderr.ErrUnsupported},
		{"no control-plane replicas", map[string]string{"bulwark:install": `{"replicas": 0}`}, "bulwark:install.replicas", fielderr.ErrOutOfRange},
		{"an unknown store", map[string]string{"bulwark:data": `{"mongo": {"install": true}}`}, "bulwark:data.mongo", fielderr.ErrUnknown},
		{"zero PostgreSQL instances", map[string]string{"bulwark:data": `{"postgres": {"instances": 0}}`}, "bulwark:data.postgres.instances", fielderr.ErrOutOfRange},
		{"a backup retention below the minimum", map[string]string{"bulwark:data": `{"postgres": {"backup": {"retentionPolicy": "3d"}}}`}, "bulwark:data.postgres.backup.retentionPolicy", fielderr.ErrOutOfRange},
		{"a backup retention that is not one", map[string]string{"bulwark:data": `{"postgres": {"backup": {"retentionPolicy": "forever"}}}`}, "bulwark:data.postgres.backup.retentionPolicy", fielderr.ErrInvalid},
		{"a backup to a local path", map[string]string{"bulwark:data": `{"postgres": {"backup": {"destinationPath": "/var/backups"}}}`}, "bulwark:data.postgres.backup.destinationPath", fielderr.ErrInvalid},
		{"a five-field backup schedule", map[string]string{"bulwark:data": `{"postgres": {"backup": {"schedule": "0 3 * * *"}}}`}, "bulwark:data.postgres.backup.schedule", fielderr.ErrInvalid},
		{"an unknown topology", map[string]string{"bulwark:data": `{"postgres": {"topology": "sharded"}}`}, "bulwark:data.postgres.topology", fielderr.ErrUnsupported},
		{"synchronous replicas without standbys", map[string]string{"bulwark:data": `{"postgres": {"instances": 1, "synchronousReplicas": 1}}`}, "bulwark:data.postgres.synchronousReplicas", fielderr.ErrOutOfRange},
		{"prod with one PostgreSQL instance", map[string]string{"bulwark:environment": "prod", "bulwark:data": `{"postgres": {"instances": 1, "synchronousReplicas": 0}}`}, "bulwark:data.postgres.instances", fielderr.ErrForbidden},
		{"prod without backups", map[string]string{"bulwark:environment": "prod", "bulwark:data": `{"postgres": {"backup": {"destinationPath": ""}}}`}, "bulwark:data.postgres.backup.destinationPath", fielderr.ErrRequired},
		{"prod Redis without failover", map[string]string{"bulwark:environment": "prod", "bulwark:data": `{"redis": {"sentinel": false}}`}, "bulwark:data.redis.sentinel", fielderr.ErrForbidden},
		{"Sentinel with one replica", map[string]string{"bulwark:data": `{"redis": {"replicas": 1, "sentinel": true}}`}, "bulwark:data.redis.sentinel", fielderr.ErrConflict},
		{"malformed Redis snapshots", map[string]string{"bulwark:data": `{"redis": {"persistence": {"snapshots": "hourly"}}}`}, "bulwark:data.redis.persistence.snapshots", fielderr.ErrInvalid},
		{"an external store without its port outside local", map[string]string{"bulwark:data": `{"postgres": {"install": false, "external": {"host": "db.example.com", "cidr": "10.0.0.0/16", "tls": true}}}`}, "bulwark:data.postgres.external.port", fielderr.ErrRequired},
		{"an external store whose CIDR misses its host", map[string]string{"bulwark:data": `{"postgres": {"install": false, "external": {"host": "10.1.0.5", "port": 5432, "cidr": "10.2.0.0/16", "tls": true}}}`}, "bulwark:data.postgres.external.cidr", fielderr.ErrConflict},
		{"the superuser as management role", map[string]string{"bulwark:data": `{"postgres": {"managementRole": "postgres"}}`}, "bulwark:data.postgres.managementRole", fielderr.ErrInvalid},
		{"a malformed image digest", map[string]string{"bulwark:graph": `{"gateway": {"namespace": "edge", "serviceAccount": "gw", "podLabels": {"app": "gw"}},
			"services": [{"name": "api", "namespace": "apps", "serviceAccount": "api", "port": 8080, "metricsPort": 9090, "image": "x/api:1", "digest": "sha256:abc"}]}`},
			"bulwark:graph.services[0].digest", fielderr.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(devWith(tc.values))
			if !errors.Is(err, tc.kind) {
				t.Fatalf("error %v is not %v", err, tc.kind)
			}
			if !slices.ContainsFunc(fielderr.All(err), func(e *FieldError) bool { return e.Path == tc.path && errors.Is(e, tc.kind) }) {
				t.Errorf("no %v at %s in:\n%v", tc.kind, tc.path, err)
			}
		})
	}
}

// Environment-dependent decisions are made in Defaults, nowhere else.
func TestEnvironmentDecisionsLiveInDefaults(t *testing.T) {
	for _, env := range Environments {
		c := Defaults(env)
		wantRegistryOnly := env == Staging || env == Prod
		if c.Mesh.RegistryOnly() != wantRegistryOnly {
			t.Errorf("%s: registry-only %v", env, c.Mesh.RegistryOnly())
		}
		d := c.Workloads.DisruptionBudget
		if d.MinAvailable >= c.Workloads.Replicas {
			t.Errorf("%s: minAvailable %d blocks drains of %d replicas", env, d.MinAvailable, c.Workloads.Replicas)
		}
		if env == Prod && (d.MinAvailable < 2 || c.Install.Replicas < 3) {
			t.Errorf("prod: minAvailable %d, control-plane replicas %d", d.MinAvailable, c.Install.Replicas)
		}
		if c.Certificates.RootCADuration <= c.Certificates.LeafDuration {
			t.Errorf("%s: leaf %s outlives root %s", env, c.Certificates.LeafDuration, c.Certificates.RootCADuration)
		}
	}
}

func TestDurationsAreReadAsGoDurations(t *testing.T) {
	cfg, err := load(map[string]string{"bulwark:environment": "dev", "bulwark:certificates": `{"rootCADuration": "1000h", "leafDuration": "90m"}`})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Certificates.RootCADuration != 1000*time.Hour || cfg.Certificates.LeafDuration != 90*time.Minute {
		t.Errorf("durations %s and %s", cfg.Certificates.RootCADuration, cfg.Certificates.LeafDuration)
	}
}
