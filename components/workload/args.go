// Package workload provides ServiceDeployment: one platform service as a
// Deployment, Service and ServiceAccount with probes, resources, a
// restricted securityContext, graceful termination, topology spread, a
// PodDisruptionBudget, a HorizontalPodAutoscaler and a VerticalPodAutoscaler.
// Every service is an instance of this one component, so they can't drift.
package workload

import (
	"errors"
	"fmt"
	"k8s.io/apimachinery/pkg/util/validation"
	"maps"
	"regexp"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Token is the component's type token.
const Token = "bulwark:workload:ServiceDeployment"

// Health probe paths every Bulwark service serves.
const (
	LivePath    = "/health/live"
	ReadyPath   = "/health/ready"
	StartupPath = "/health/startup"
)

// Args configures a ServiceDeployment. Zero values take the defaults of
// withDefaults.
type Args struct {
	// Name of the service; names the Deployment, Service and labels.
	Name string
	// Namespace the service runs in. Pass the namespace component's output
	// so that every object waits for the namespace.
	Namespace pulumi.StringInput
	// ServiceAccount name; default Name.
	ServiceAccount string
	// AutomountServiceAccountToken mounts the Kubernetes API token; off by default.
	AutomountServiceAccountToken bool
	// Image is the container image reference.
	Image string
	// Port is the HTTP port; MetricsPort serves /metrics.
	Port, MetricsPort int
	// Replicas is the initial and minimum replica count; default 1.
	Replicas int
	// Resources are the container's requests and limits.
	Resources Resources
	// Autoscaling bounds the HPA; MinReplicas defaults to Replicas.
	Autoscaling Autoscaling
	// VPAMode is the VPA update mode; default "Off" (recommendations only).
	VPAMode string
	// TerminationGracePeriodSeconds default 30; PreStopSleepSeconds default 5.
	TerminationGracePeriodSeconds int
	PreStopSleepSeconds           int
	// TopologySpread is whenUnsatisfiable for zone and host spread;
	// default ScheduleAnyway.
	TopologySpread string
	// Env are extra container environment variables.
	Env map[string]string
	// Labels are extra labels on every object.
	Labels map[string]string
	// PodAnnotations are set on the pod template (mesh settings, say).
	PodAnnotations map[string]string
	// Provider is the Kubernetes provider; required.
	Provider pulumi.ProviderResource
}

// Resources are CPU and memory requests and limits as quantities.
type Resources struct {
	RequestsCPU, RequestsMemory string
	LimitsCPU, LimitsMemory     string
}

// Autoscaling bounds the HorizontalPodAutoscaler.
type Autoscaling struct {
	MinReplicas, MaxReplicas                      int
	TargetCPUUtilization, TargetMemoryUtilization int
}

var (
	envName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	vpaModes = []string{"Off", "Initial", "Recreate", "InPlaceOrRecreate"}
)

func (a *Args) withDefaults() *Args {
	out := *a
	out.Env = maps.Clone(a.Env)
	out.Labels = maps.Clone(a.Labels)
	out.PodAnnotations = maps.Clone(a.PodAnnotations)
	if out.ServiceAccount == "" {
		out.ServiceAccount = out.Name
	}
	if out.Port == 0 {
		out.Port = 8080
	}
	if out.MetricsPort == 0 {
		out.MetricsPort = 9090
	}
	if out.Replicas == 0 {
		out.Replicas = 1
	}
	if out.Resources == (Resources{}) {
		out.Resources = Resources{RequestsCPU: "100m", RequestsMemory: "128Mi", LimitsCPU: "500m", LimitsMemory: "256Mi"}
	}
	if out.Autoscaling.MinReplicas == 0 {
		out.Autoscaling.MinReplicas = out.Replicas
	}
	if out.Autoscaling.MaxReplicas == 0 {
		out.Autoscaling.MaxReplicas = max(out.Autoscaling.MinReplicas*3, 3)
	}
	if out.Autoscaling.TargetCPUUtilization == 0 {
		out.Autoscaling.TargetCPUUtilization = 70
	}
	if out.Autoscaling.TargetMemoryUtilization == 0 {
		out.Autoscaling.TargetMemoryUtilization = 80
	}
	if out.VPAMode == "" {
		out.VPAMode = "Off"
	}
	if out.TerminationGracePeriodSeconds == 0 {
		out.TerminationGracePeriodSeconds = 30
	}
	if out.PreStopSleepSeconds == 0 {
		out.PreStopSleepSeconds = 5
	}
	if out.TopologySpread == "" {
		out.TopologySpread = "ScheduleAnyway"
	}
	return &out
}

func (a *Args) validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if len(validation.IsDNS1123Label(a.Name)) > 0 {
		bad("name", "%q is not a DNS-1123 label", a.Name)
	}
	if a.Namespace == nil {
		bad("namespace", "required")
	}
	if len(validation.IsDNS1123Label(a.ServiceAccount)) > 0 {
		bad("serviceAccount", "%q is not a DNS-1123 label", a.ServiceAccount)
	}
	if a.Image == "" {
		bad("image", "required")
	}
	for _, p := range []struct {
		field string
		v     int
	}{{"port", a.Port}, {"metricsPort", a.MetricsPort}} {
		if p.v < 1 || p.v > 65535 {
			bad(p.field, "must be between 1 and 65535, got %d", p.v)
		}
	}
	if a.Port == a.MetricsPort {
		bad("metricsPort", "must differ from port %d", a.Port)
	}
	if a.Replicas < 1 {
		bad("replicas", "must be at least 1, got %d", a.Replicas)
	}
	quantities := map[string]string{
		"resources.requestsCPU": a.Resources.RequestsCPU, "resources.requestsMemory": a.Resources.RequestsMemory,
		"resources.limitsCPU": a.Resources.LimitsCPU, "resources.limitsMemory": a.Resources.LimitsMemory,
	}
	for _, field := range slices.Sorted(maps.Keys(quantities)) {
		if q, err := resource.ParseQuantity(quantities[field]); err != nil || q.Sign() <= 0 {
			bad(field, "%q is not a positive Kubernetes quantity", quantities[field])
		}
	}
	s := a.Autoscaling
	if s.MinReplicas < 1 || s.MaxReplicas < s.MinReplicas {
		bad("autoscaling", "need 1 <= minReplicas (%d) <= maxReplicas (%d)", s.MinReplicas, s.MaxReplicas)
	}
	if a.Replicas < s.MinReplicas || a.Replicas > s.MaxReplicas {
		bad("replicas", "%d lies outside the autoscaling bounds [%d, %d]", a.Replicas, s.MinReplicas, s.MaxReplicas)
	}
	if s.TargetCPUUtilization < 1 || s.TargetCPUUtilization > 100 || s.TargetMemoryUtilization < 1 || s.TargetMemoryUtilization > 100 {
		bad("autoscaling", "utilization targets must be percentages, got cpu %d and memory %d", s.TargetCPUUtilization, s.TargetMemoryUtilization)
	}
	if !slices.Contains(vpaModes, a.VPAMode) {
		bad("vpaMode", "%q is not one of %v", a.VPAMode, vpaModes)
	}
	if a.PreStopSleepSeconds < 0 || a.PreStopSleepSeconds >= a.TerminationGracePeriodSeconds {
		bad("preStopSleepSeconds", "must be at least 0 and below terminationGracePeriodSeconds (%d), got %d", a.TerminationGracePeriodSeconds, a.PreStopSleepSeconds)
	}
	if a.TopologySpread != "ScheduleAnyway" && a.TopologySpread != "DoNotSchedule" {
		bad("topologySpread", "%q is not ScheduleAnyway or DoNotSchedule", a.TopologySpread)
	}
	for k := range a.Env {
		if !envName.MatchString(k) {
			bad("env."+k, "not a valid environment variable name")
		}
	}
	if a.Provider == nil {
		bad("provider", "required (components never use an ambient kubeconfig)")
	}
	return errors.Join(errs...)
}

// disruptionBudget returns the PDB's minAvailable or maxUnavailable: with
// two or more replicas keep all but one up; a single replica may go (a
// minAvailable of 1 would block every node drain).
func disruptionBudget(replicas int) (minAvailable, maxUnavailable int) {
	if replicas >= 2 {
		return replicas - 1, 0
	}
	return 0, 1
}
