// Package config turns a stack's configuration into one typed, validated
// Config. Values flow one way: environment defaults, then the stack file,
// then validation of the whole result before the program registers any
// resource. Every error names the key path, for example
// `bulwark:graph.services[1].calls[0].path: must start with "/"`.
package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/bulwark-platform/bulwark/infra/graph"
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
	Graph         graph.Graph
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
}

// Resources are container requests and limits as Kubernetes quantities.
type Resources struct {
	Requests Quantities `json:"requests"`
	Limits   Quantities `json:"limits"`
}

// Quantities is a CPU and memory pair.
type Quantities struct {
	CPU    string `json:"cpu"`
	Memory string `json:"memory"`
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
	TraceSamplingRatio    float64 `json:"traceSamplingRatio"`
	OTelCollectorEndpoint string  `json:"otelCollectorEndpoint"`
}

// Vault selects how the secrets store runs.
type Vault struct {
	Mode     string `json:"mode"`
	Replicas int    `json:"replicas"`
}

// Install says which third-party parts Bulwark installs. false adopts an
// installation that already runs in the cluster.
type Install struct {
	Istio           bool `json:"istio"`
	CertManager     bool `json:"certManager"`
	Vault           bool `json:"vault"`
	ExternalSecrets bool `json:"externalSecrets"`
	Observability   bool `json:"observability"`
}

// Allowed enumerations.
var (
	VPAModes        = []string{"Off", "Initial", "Recreate", "InPlaceOrRecreate"}
	TopologySpreads = []string{"ScheduleAnyway", "DoNotSchedule"}
	VaultModes      = []string{"dev", "ha"}
)

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

// FieldError is a configuration error at one key path.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// Getter reads one configuration value by its full key ("bulwark:graph").
type Getter func(key string) (string, bool)

// Load builds the Config from the values that get returns. present lists
// every key set on the stack; a key in the bulwark namespace that the
// program does not know is an error. All problems found are returned
// together, joined.
func Load(get Getter, present []string) (*Config, error) {
	var errs []error
	known := KeyNames()
	for _, k := range present {
		if ns, _, ok := strings.Cut(k, ":"); ok && ns == Namespace && !slices.Contains(known, k) {
			errs = append(errs, &FieldError{Path: k, Msg: "unknown configuration key (known keys: " + strings.Join(known, ", ") + ")"})
		}
	}

	envRaw, ok := get(Namespace + ":environment")
	if !ok || envRaw == "" {
		errs = append(errs, &FieldError{Path: Namespace + ":environment", Msg: "must be set to one of " + envList()})
		return nil, errors.Join(errs...)
	}
	env := Environment(envRaw)
	if !slices.Contains(Environments, env) {
		errs = append(errs, &FieldError{Path: Namespace + ":environment", Msg: fmt.Sprintf("%q is not one of %s", envRaw, envList())})
		return nil, errors.Join(errs...)
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
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, &FieldError{Path: Namespace + ":" + path, Msg: fmt.Sprintf(format, args...)})
	}
	w := c.Workloads
	if w.Replicas < 1 {
		bad("workloads.replicas", "must be at least 1, got %d", w.Replicas)
	}
	checkQuantity := func(path, v string) *resource.Quantity {
		if v == "" {
			bad(path, "must be set")
			return nil
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			bad(path, "%q is not a Kubernetes quantity", v)
			return nil
		}
		if q.Sign() <= 0 {
			bad(path, "must be positive, got %q", v)
			return nil
		}
		return &q
	}
	reqCPU := checkQuantity("workloads.resources.requests.cpu", w.Resources.Requests.CPU)
	reqMem := checkQuantity("workloads.resources.requests.memory", w.Resources.Requests.Memory)
	limCPU := checkQuantity("workloads.resources.limits.cpu", w.Resources.Limits.CPU)
	limMem := checkQuantity("workloads.resources.limits.memory", w.Resources.Limits.Memory)
	if reqCPU != nil && limCPU != nil && reqCPU.Cmp(*limCPU) > 0 {
		bad("workloads.resources.requests.cpu", "%s exceeds the limit %s", w.Resources.Requests.CPU, w.Resources.Limits.CPU)
	}
	if reqMem != nil && limMem != nil && reqMem.Cmp(*limMem) > 0 {
		bad("workloads.resources.requests.memory", "%s exceeds the limit %s", w.Resources.Requests.Memory, w.Resources.Limits.Memory)
	}
	a := w.Autoscaling
	if a.MinReplicas < 1 {
		bad("workloads.autoscaling.minReplicas", "must be at least 1, got %d", a.MinReplicas)
	}
	if a.MaxReplicas < a.MinReplicas {
		bad("workloads.autoscaling.maxReplicas", "must be at least minReplicas (%d), got %d", a.MinReplicas, a.MaxReplicas)
	}
	if w.Replicas >= 1 && a.MinReplicas >= 1 && a.MaxReplicas >= a.MinReplicas && (w.Replicas < a.MinReplicas || w.Replicas > a.MaxReplicas) {
		bad("workloads.replicas", "%d lies outside the autoscaling bounds [%d, %d]", w.Replicas, a.MinReplicas, a.MaxReplicas)
	}
	for _, u := range []struct {
		path string
		v    int
	}{{"workloads.autoscaling.targetCPUUtilization", a.TargetCPUUtilization}, {"workloads.autoscaling.targetMemoryUtilization", a.TargetMemoryUtilization}} {
		if u.v < 1 || u.v > 100 {
			bad(u.path, "must be a percentage between 1 and 100, got %d", u.v)
		}
	}
	if !slices.Contains(VPAModes, w.VPAMode) {
		bad("workloads.vpaMode", "%q is not one of %s", w.VPAMode, strings.Join(VPAModes, ", "))
	}
	if w.TerminationGracePeriodSeconds < 1 || w.TerminationGracePeriodSeconds > 3600 {
		bad("workloads.terminationGracePeriodSeconds", "must be between 1 and 3600, got %d", w.TerminationGracePeriodSeconds)
	}
	if w.PreStopSleepSeconds < 0 || w.PreStopSleepSeconds >= w.TerminationGracePeriodSeconds {
		bad("workloads.preStopSleepSeconds", "must be at least 0 and below terminationGracePeriodSeconds (%d), got %d", w.TerminationGracePeriodSeconds, w.PreStopSleepSeconds)
	}
	if !slices.Contains(TopologySpreads, w.TopologySpread) {
		bad("workloads.topologySpread", "%q is not one of %s", w.TopologySpread, strings.Join(TopologySpreads, ", "))
	}
	if r := c.Observability.TraceSamplingRatio; r < 0 || r > 1 {
		bad("observability.traceSamplingRatio", "must be between 0 and 1, got %s", strconv.FormatFloat(r, 'g', -1, 64))
	}
	if e := c.Observability.OTelCollectorEndpoint; e == "" || strings.ContainsAny(e, " \t\n/") || !strings.Contains(e, ":") {
		bad("observability.otelCollectorEndpoint", "must be host:port, got %q", e)
	}
	if !slices.Contains(VaultModes, c.Vault.Mode) {
		bad("vault.mode", "%q is not one of %s", c.Vault.Mode, strings.Join(VaultModes, ", "))
	}
	switch {
	case c.Vault.Mode == "dev" && c.Vault.Replicas != 1:
		bad("vault.replicas", "dev mode runs exactly 1 replica, got %d", c.Vault.Replicas)
	case c.Vault.Mode == "ha" && (c.Vault.Replicas < 3 || c.Vault.Replicas%2 == 0):
		bad("vault.replicas", "ha mode (raft) needs an odd number of at least 3 replicas, got %d", c.Vault.Replicas)
	}
	if c.Environment == Prod && c.Vault.Mode == "dev" {
		bad("vault.mode", "dev mode keeps secrets in memory unsealed and is refused in prod")
	}
	if err := c.Graph.Validate(Namespace + ":graph"); err != nil {
		var gerrs graph.Errors
		if errors.As(err, &gerrs) {
			for _, e := range gerrs {
				errs = append(errs, &FieldError{Path: e.Path, Msg: e.Msg})
			}
		} else {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
