// Package podconfig compiles what each service's pods are given to start:
// environment variables (the token issuer and audience, its callees' URLs,
// its Redis, OpenTelemetry, shutdown timing), the files its variables point
// at (Secrets synced by External Secrets, the credentials file the Vault
// agent renders, the private CA's trust bundle) and the agent's pod
// annotations. It is the platform's half of the config contract; the
// services declare the other half (services/contract), and Check holds the
// two together.
package podconfig

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/datastore"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/infra/identity"
	"github.com/bulwark-platform/bulwark/infra/secrets"
	"github.com/bulwark-platform/bulwark/internal/naming"
	"github.com/bulwark-platform/bulwark/services/contract"
)

// Pod is one service's configuration as its Deployment carries it.
type Pod struct {
	Service string `json:"service"`
	// Env are literal variables.
	Env map[string]string `json:"env"`
	// SecretEnv are variables read from a key of a Secret of the namespace.
	SecretEnv map[string]SecretKey `json:"secretEnv,omitempty"`
	// Volumes are Secrets mounted read-only in the application container.
	Volumes []SecretVolume `json:"volumes,omitempty"`
	// Files are the files the variables name, each with what provides it.
	Files map[string]string `json:"files,omitempty"`
	// Injection is the Vault agent's, when the service logs in to Vault.
	Injection *secrets.Injection `json:"-"`
}

// SecretKey is one key of a Secret.
type SecretKey struct {
	Secret string `json:"secret"`
	Key    string `json:"key"`
}

// SecretVolume mounts a Secret: every key a file under MountPath, kept
// current by the kubelet when the Secret changes (no subPath), which is
// what lets the services reload a rotated secret without a restart.
type SecretVolume struct {
	Secret    string `json:"secret"`
	MountPath string `json:"mountPath"`
}

// Where files appear in the application container.
const (
	// SecretsDir holds one folder per static secret.
	SecretsDir = "/etc/bulwark/secrets"
	// TrustDir holds the private CA's root (ca.crt).
	TrustDir = "/etc/bulwark/trust"
)

// Compile gives every service of the graph its pod configuration.
func Compile(cfg *config.Config, id identity.Model, sec secrets.Set) []Pod {
	out := make([]Pod, 0, len(cfg.Graph.Services))
	for i := range cfg.Graph.Services {
		out = append(out, compile(cfg, id, sec, &cfg.Graph.Services[i]))
	}
	return out
}

func compile(cfg *config.Config, id identity.Model, sec secrets.Set, s *graph.Service) Pod {
	p := Pod{Service: s.Name, Env: map[string]string{}, SecretEnv: map[string]SecretKey{}, Files: map[string]string{}}
	wl := cfg.Workloads
	env := p.Env
	// Tokens: the identity model's issuer (the edge's too), and the
	// audience the service requires: its own, which the browser client's
	// tokens carry for the services the gateway routes to and each
	// caller's client-credentials tokens for exactly its callees.
	env["OIDC_ISSUER"] = id.Endpoints.Issuer
	if aud, ok := id.AudienceOf(s.Name); ok {
		env["OIDC_AUDIENCE"] = aud
	}
	if cfg.Identity.InstallsKeycloak() {
		// The installed Keycloak serves the private CA's certificate:
		// discovery, JWKS and token requests verify it with the root.
		env["OIDC_TLS_CA_FILE"] = p.trust()
	}
	// Traces, sampled per environment in this one place.
	env["OTEL_SERVICE_NAME"] = s.Name
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://" + cfg.Mesh.OTelCollector.Address()
	env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc"
	env["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
	env["OTEL_TRACES_SAMPLER_ARG"] = strconv.FormatFloat(cfg.Observability.TraceSamplingRatio, 'f', -1, 64)
	env["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment.name=" + string(cfg.Environment) + ",service.namespace=" + s.Namespace
	// Shutdown fits the grace period: the preStop sleep has already taken
	// the pod out of the endpoints, a short drain covers stragglers, and
	// the server's own timeout ends 3 s before the kubelet's SIGKILL.
	drain := 2
	env["DRAIN_DELAY"] = strconv.Itoa(drain) + "s"
	env["SHUTDOWN_TIMEOUT"] = strconv.Itoa(max(1, wl.TerminationGracePeriodSeconds-wl.PreStopSleepSeconds-drain-3)) + "s"
	// Each callee's base URL, in the variable the service's contract
	// names for it: plain HTTP to the Service, which the sidecars carry
	// over mutual TLS.
	c, _ := contract.For(s.Name)
	for _, e := range cfg.Graph.Edges() {
		if e.From.Name == s.Name && e.From.Namespace == s.Namespace {
			env[calleeVar(c, e.To.Name)] = fmt.Sprintf("http://%s.%s.svc:%d", e.To.Name, e.To.Namespace, e.To.Port)
		}
	}
	if in, ok := sec.Injection(s.Name); ok {
		p.Injection = &in
		env["DB_CREDENTIALS_FILE"] = in.CredentialsFile
		p.Files[in.CredentialsFile] = "the Vault agent (" + in.CredentialsPath + ")"
		if dbTLS(cfg) {
			env["DB_TLS_CA_FILE"] = p.trust()
		}
	}
	for _, st := range s.StaticSecretsOf() {
		name := secrets.SecretName(s.Name, st.Name)
		dir := path.Join(SecretsDir, st.Name)
		p.Volumes = append(p.Volumes, SecretVolume{Secret: name, MountPath: dir})
		for _, k := range st.SecretKeys() {
			p.Files[path.Join(dir, k)] = "Secret " + name + " (External Secrets, from Vault)"
		}
		switch st.Name {
		case graph.OAuthClientSecret:
			p.SecretEnv["OAUTH_CLIENT_ID"] = SecretKey{Secret: name, Key: "client_id"}
			env["OAUTH_CLIENT_SECRET_FILE"] = path.Join(dir, "client_secret")
		case graph.RedisSecret:
			p.SecretEnv["REDIS_USERNAME"] = SecretKey{Secret: name, Key: "username"}
			env["REDIS_PASSWORD_FILE"] = path.Join(dir, "password")
		}
	}
	if s.Redis {
		env["REDIS_ADDR"] = redisAddr(cfg.Data.Redis)
		if cfg.Data.Redis.Install || cfg.Data.Redis.External.TLS {
			env["REDIS_TLS_CA_FILE"] = p.trust()
		}
	}
	return p
}

// trust mounts the namespace's trust bundle once and returns its CA file.
func (p *Pod) trust() string {
	file := path.Join(TrustDir, "ca.crt")
	if !slices.ContainsFunc(p.Volumes, func(v SecretVolume) bool { return v.Secret == naming.TrustBundle }) {
		p.Volumes = append(p.Volumes, SecretVolume{Secret: naming.TrustBundle, MountPath: TrustDir})
		p.Files[file] = "Secret " + naming.TrustBundle + " (cert-manager, the private CA's root)"
	}
	return file
}

// dbTLS: the services' PostgreSQL requires TLS (installed: always).
func dbTLS(cfg *config.Config) bool {
	return cfg.Data.Postgres.Install || cfg.Data.Postgres.External.TLS
}

// redisAddr is Redis as the services reach it.
func redisAddr(r config.Redis) string {
	if r.Install {
		return datastore.RedisServerName(r.Namespace) + ":" + strconv.Itoa(datastore.RedisPort)
	}
	return r.External.Address()
}

// CalleeVar is the variable holding a callee's base URL when the caller
// has no contract naming one: USER_URL for "user", LEDGER_API_URL for
// "ledger-api".
func CalleeVar(service string) string {
	return strings.ToUpper(strings.ReplaceAll(service, "-", "_")) + "_URL"
}

// calleeVar is the variable c names for callee's URL, else CalleeVar.
func calleeVar(c contract.Contract, callee string) string {
	for _, v := range c.Vars {
		if v.URLOf == callee {
			return v.Name
		}
	}
	return CalleeVar(callee)
}

// Names lists a pod's variables, literal and from Secrets, sorted.
func (p Pod) Names() []string {
	out := slices.Collect(maps.Keys(p.Env))
	out = append(out, slices.Collect(maps.Keys(p.SecretEnv))...)
	slices.Sort(out)
	return out
}
