// Package workload provides ServiceDeployment: one platform service as a
// Deployment, Service and ServiceAccount with probes, resources, a
// restricted securityContext, graceful termination, topology spread, a
// PodDisruptionBudget, a HorizontalPodAutoscaler and a VerticalPodAutoscaler.
// Every service is an instance of this one component, so they can't drift.
package workload

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bulwark-platform/bulwark/components/component"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/naming"
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
	// Image is the container image reference (a tag, or pinned by digest:
	// repo@sha256:... or repo:tag@sha256:...).
	Image string
	// Port is the HTTP port; MetricsPort serves /metrics.
	Port, MetricsPort int
	// Replicas is the initial replica count (the HPA owns it afterwards); default 1.
	Replicas int
	// Resources are the container's requests and limits.
	Resources Resources
	// TmpSize bounds the /tmp scratch volume; default 64Mi.
	TmpSize string
	// Autoscaling bounds the HPA; MinReplicas defaults to Replicas.
	Autoscaling Autoscaling
	// DisruptionBudget is the PDB: exactly one of MinAvailable and
	// MaxUnavailable; default MaxUnavailable 1.
	DisruptionBudget DisruptionBudget
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
	// SecretEnv are variables read from one key of a Secret of the
	// namespace (an ExternalSecret's target, say).
	SecretEnv map[string]SecretKeyRef
	// SecretVolumes mount Secrets read-only into the container, every key
	// a file. No subPath: the kubelet swaps the files when the Secret
	// changes, which is how a rotated secret reaches a running service.
	SecretVolumes []SecretVolume
	// TokenVolume is a projected service-account token for an audience
	// other than the API server's, mounted in no container of the spec:
	// the injected Vault agent logs in with it.
	TokenVolume *TokenVolume
	// Labels are extra labels on every object.
	Labels map[string]string
	// PodAnnotations are set on the pod template (mesh settings, say).
	PodAnnotations map[string]string
	// Provider is the Kubernetes provider; required.
	Provider pulumi.ProviderResource
}

// SecretKeyRef is one key of a Secret.
type SecretKeyRef struct{ Secret, Key string }

// SecretVolume is a Secret mounted at MountPath.
type SecretVolume struct{ Secret, MountPath string }

// TokenVolume is a projected service-account token volume.
type TokenVolume struct {
	Name, Audience, Path string
	// ExpirationSeconds: the kubelet renews the token at 80 % of it; at
	// least 600 (the API server's minimum).
	ExpirationSeconds int64
}

// Resources are CPU, memory and ephemeral-storage requests and limits as
// quantities.
type Resources struct {
	RequestsCPU, RequestsMemory, RequestsEphemeralStorage string
	LimitsCPU, LimitsMemory, LimitsEphemeralStorage       string
}

// Autoscaling bounds the HorizontalPodAutoscaler.
type Autoscaling struct {
	MinReplicas, MaxReplicas                      int
	TargetCPUUtilization, TargetMemoryUtilization int
}

// DisruptionBudget is the PodDisruptionBudget's one bound.
type DisruptionBudget struct {
	MinAvailable, MaxUnavailable int
}

var (
	envName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	digestRe = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)
	vpaModes = []string{"Off", "Initial", "Recreate", "InPlaceOrRecreate"}
)

// withDefaults fills only the fields left unset.
func (a *Args) withDefaults() *Args {
	out := *a
	out.Env = maps.Clone(a.Env)
	out.Labels = maps.Clone(a.Labels)
	out.PodAnnotations = maps.Clone(a.PodAnnotations)
	out.SecretEnv = maps.Clone(a.SecretEnv)
	out.SecretVolumes = slices.Clone(a.SecretVolumes)
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
	r := &out.Resources
	for _, f := range []struct {
		field *string
		value string
	}{
		{&r.RequestsCPU, "100m"}, {&r.RequestsMemory, "128Mi"}, {&r.RequestsEphemeralStorage, "128Mi"},
		{&r.LimitsCPU, "500m"}, {&r.LimitsMemory, "256Mi"}, {&r.LimitsEphemeralStorage, "256Mi"},
		{&out.TmpSize, "64Mi"}, {&out.VPAMode, "Off"}, {&out.TopologySpread, "ScheduleAnyway"},
	} {
		if *f.field == "" {
			*f.field = f.value
		}
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
	if out.DisruptionBudget == (DisruptionBudget{}) {
		out.DisruptionBudget.MaxUnavailable = 1
	}
	if out.TerminationGracePeriodSeconds == 0 {
		out.TerminationGracePeriodSeconds = 30
	}
	if out.PreStopSleepSeconds == 0 {
		out.PreStopSleepSeconds = 5
	}
	return &out
}

func (a *Args) validate() error {
	var l fielderr.List
	if len(validation.IsDNS1123Label(a.Name)) > 0 {
		l.Add(fielderr.ErrInvalid, "name", "%q is not a DNS-1123 label", a.Name)
	}
	if a.Namespace == nil {
		l.Add(fielderr.ErrRequired, "namespace", "is required")
	}
	if len(validation.IsDNS1123Label(a.ServiceAccount)) > 0 {
		l.Add(fielderr.ErrInvalid, "serviceAccount", "%q is not a DNS-1123 label", a.ServiceAccount)
	}
	if strings.TrimSpace(a.Image) == "" || strings.ContainsAny(a.Image, " \t\n") {
		l.Add(fielderr.ErrInvalid, "image", "must be a container image reference, got %q", a.Image)
	}
	for _, p := range []struct {
		field string
		v     int
	}{{"port", a.Port}, {"metricsPort", a.MetricsPort}} {
		if p.v < 1 || p.v > 65535 {
			l.Add(fielderr.ErrOutOfRange, p.field, "must be between 1 and 65535, got %d", p.v)
		}
	}
	if a.Port == a.MetricsPort {
		l.Add(fielderr.ErrConflict, "metricsPort", "must differ from port %d", a.Port)
	}
	if a.Replicas < 1 {
		l.Add(fielderr.ErrOutOfRange, "replicas", "must be at least 1, got %d", a.Replicas)
	}
	r := a.Resources
	quantities := map[string]string{
		"resources.requestsCPU": r.RequestsCPU, "resources.requestsMemory": r.RequestsMemory, "resources.requestsEphemeralStorage": r.RequestsEphemeralStorage,
		"resources.limitsCPU": r.LimitsCPU, "resources.limitsMemory": r.LimitsMemory, "resources.limitsEphemeralStorage": r.LimitsEphemeralStorage,
		"tmpSize": a.TmpSize,
	}
	parsed := map[string]resource.Quantity{}
	for _, field := range slices.Sorted(maps.Keys(quantities)) {
		q, err := resource.ParseQuantity(quantities[field])
		if err != nil || q.Sign() <= 0 {
			l.Add(fielderr.ErrInvalid, field, "%q is not a positive Kubernetes quantity", quantities[field])
			continue
		}
		parsed[field] = q
	}
	for _, pair := range [][2]string{{"CPU", "cpu"}, {"Memory", "memory"}, {"EphemeralStorage", "ephemeral storage"}} {
		req, okReq := parsed["resources.requests"+pair[0]]
		lim, okLim := parsed["resources.limits"+pair[0]]
		if okReq && okLim && req.Cmp(lim) > 0 {
			l.Add(fielderr.ErrConflict, "resources.requests"+pair[0], "the %s request exceeds its limit", pair[1])
		}
	}
	if tmp, ok := parsed["tmpSize"]; ok {
		if lim, ok := parsed["resources.limitsEphemeralStorage"]; ok && lim.Cmp(tmp) <= 0 {
			l.Add(fielderr.ErrConflict, "resources.limitsEphemeralStorage", "must exceed tmpSize %s: the /tmp volume counts against it", a.TmpSize)
		}
	}
	s := a.Autoscaling
	if s.MinReplicas < 1 || s.MaxReplicas < s.MinReplicas {
		l.Add(fielderr.ErrOutOfRange, "autoscaling", "need 1 <= minReplicas (%d) <= maxReplicas (%d)", s.MinReplicas, s.MaxReplicas)
	}
	if a.Replicas < s.MinReplicas || a.Replicas > s.MaxReplicas {
		l.Add(fielderr.ErrConflict, "replicas", "%d lies outside the autoscaling bounds [%d, %d]", a.Replicas, s.MinReplicas, s.MaxReplicas)
	}
	if s.TargetCPUUtilization < 1 || s.TargetCPUUtilization > 100 || s.TargetMemoryUtilization < 1 || s.TargetMemoryUtilization > 100 {
		l.Add(fielderr.ErrOutOfRange, "autoscaling", "utilization targets must be percentages, got cpu %d and memory %d", s.TargetCPUUtilization, s.TargetMemoryUtilization)
	}
	d := a.DisruptionBudget
	switch {
	case (d.MinAvailable > 0) == (d.MaxUnavailable > 0) || d.MinAvailable < 0 || d.MaxUnavailable < 0:
		l.Add(fielderr.ErrConflict, "disruptionBudget", "set exactly one of minAvailable and maxUnavailable, got %d and %d", d.MinAvailable, d.MaxUnavailable)
	case d.MinAvailable >= a.Replicas:
		l.Add(fielderr.ErrConflict, "disruptionBudget.minAvailable", "%d must be below replicas (%d), or no node could be drained", d.MinAvailable, a.Replicas)
	}
	if !slices.Contains(vpaModes, a.VPAMode) {
		l.Add(fielderr.ErrUnsupported, "vpaMode", "%q is not one of %v", a.VPAMode, vpaModes)
	}
	if a.PreStopSleepSeconds < 0 || a.PreStopSleepSeconds >= a.TerminationGracePeriodSeconds {
		l.Add(fielderr.ErrOutOfRange, "preStopSleepSeconds", "must be at least 0 and below terminationGracePeriodSeconds (%d), got %d", a.TerminationGracePeriodSeconds, a.PreStopSleepSeconds)
	}
	if a.TopologySpread != "ScheduleAnyway" && a.TopologySpread != "DoNotSchedule" {
		l.Add(fielderr.ErrUnsupported, "topologySpread", "%q is not ScheduleAnyway or DoNotSchedule", a.TopologySpread)
	}
	for _, k := range slices.Sorted(maps.Keys(a.Env)) {
		if !envName.MatchString(k) {
			l.Add(fielderr.ErrInvalid, "env."+k, "not a valid environment variable name")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a.SecretEnv)) {
		ref := a.SecretEnv[k]
		switch {
		case !envName.MatchString(k):
			l.Add(fielderr.ErrInvalid, "secretEnv."+k, "not a valid environment variable name")
		case a.Env[k] != "":
			l.Add(fielderr.ErrConflict, "secretEnv."+k, "is also a literal variable (env.%s)", k)
		case len(validation.IsDNS1123Subdomain(ref.Secret)) > 0 || ref.Key == "":
			l.Add(fielderr.ErrInvalid, "secretEnv."+k, "must name a Secret and a key, got %q and %q", ref.Secret, ref.Key)
		}
	}
	mounts := map[string]int{"/tmp": -1}
	for i, v := range a.SecretVolumes {
		p := fmt.Sprintf("secretVolumes[%d]", i)
		if len(validation.IsDNS1123Subdomain(v.Secret)) > 0 {
			l.Add(fielderr.ErrInvalid, p+".secret", "%q is not a Secret name", v.Secret)
		}
		clean := path.Clean(v.MountPath)
		switch j, dup := mounts[clean]; {
		case !path.IsAbs(v.MountPath) || clean != v.MountPath:
			l.Add(fielderr.ErrInvalid, p+".mountPath", "%q is not a clean absolute path", v.MountPath)
		case dup:
			l.Add(fielderr.ErrDuplicate, p+".mountPath", "%s is also mounted by %s", v.MountPath, mountName(j))
		}
		mounts[clean] = i
	}
	if t := a.TokenVolume; t != nil {
		if len(validation.IsDNS1123Label(t.Name)) > 0 || t.Name == "tmp" {
			l.Add(fielderr.ErrInvalid, "tokenVolume.name", "%q is not a free volume name", t.Name)
		}
		if t.Audience == "" || t.Path == "" {
			l.Add(fielderr.ErrRequired, "tokenVolume", "needs an audience and a path")
		}
		if t.ExpirationSeconds < 600 {
			l.Add(fielderr.ErrOutOfRange, "tokenVolume.expirationSeconds", "must be at least 600, got %d", t.ExpirationSeconds)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		if slices.Contains([]string{naming.NameLabel, naming.InstanceLabel}, k) {
			l.Add(fielderr.ErrForbidden, "labels."+k, "is the selector label, set from name")
		}
	}
	component.RequireProvider(&l, a.Provider)
	return l.Err()
}

// PullPolicy is Always for images referenced by tag (a tag can move, and
// Always re-checks the pull credentials of every new pod) and IfNotPresent
// for images pinned by digest, which can't change.
func PullPolicy(image string) string {
	if digestRe.MatchString(image) {
		return "IfNotPresent"
	}
	return "Always"
}

func mountName(i int) string {
	if i < 0 {
		return "the /tmp scratch volume"
	}
	return fmt.Sprintf("secretVolumes[%d]", i)
}
