// Package mesh provides ServiceMesh: Istio installed from its pinned charts
// (base, the CNI node agent, istiod, the ingress gateway) or adopted, and the mesh-wide
// Telemetry that sends traces to the OpenTelemetry collector at the
// environment's sampling rate and turns access logs on.
package mesh

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"google.golang.org/protobuf/types/known/wrapperspb"
	telemetryv1alpha1 "istio.io/api/telemetry/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bulwark-platform/bulwark/components/component"
	"github.com/bulwark-platform/bulwark/components/kobject"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/kinds"
)

// Token is the component's type token.
const Token = "bulwark:mesh:ServiceMesh"

// The Istio charts, pinned once; the CRDs the local cluster installs come
// from istio.io/api at the same version.
const (
	ChartRepo    = "https://istio-release.storage.googleapis.com/charts"
	ChartVersion = "1.32.0"
)

// TracingProvider is the extension provider name the Telemetry uses. An
// adopted mesh must define an OpenTelemetry provider of this name.
const TracingProvider = "otel"

// Args configures ServiceMesh.
type Args struct {
	// Install installs Istio from its charts; false adopts a running mesh.
	Install bool
	// RootNamespace (istio-system) and the gateway's namespace, labels and
	// service account (its release name, so its SPIFFE ID is the graph's).
	RootNamespace, GatewayNamespace string
	GatewayLabels                   map[string]string
	GatewayServiceAccount           string
	// RegistryOnly lets sidecars reach only services the mesh knows
	// (outboundTrafficPolicy REGISTRY_ONLY).
	RegistryOnly bool
	// CollectorHost and CollectorPort receive OTLP gRPC traces.
	CollectorHost string
	CollectorPort int
	// SamplingRatio of traces, 0 to 1.
	SamplingRatio float64
	// ExternalCAAddress, when set, is the CA istiod's workloads get their
	// certificates from (cert-manager istio-csr) instead of istiod's own.
	ExternalCAAddress string
	// Replicas of istiod and the gateway when installed.
	Replicas  int
	DependsOn []pulumi.Resource
	Provider  pulumi.ProviderResource
}

// ServiceMesh is the mesh's control plane and mesh-wide telemetry.
type ServiceMesh struct {
	pulumi.ResourceState
	// Ready is what mesh configuration (policies, gateways) must wait
	// for: the installed control plane, or nothing when adopted.
	Ready []pulumi.Resource
}

// withDefaults fills only the fields left unset.
func (a *Args) withDefaults() *Args {
	out := *a
	if out.Replicas == 0 {
		out.Replicas = 1
	}
	return &out
}

func (a *Args) validate() error {
	var l fielderr.List
	for _, f := range []struct{ path, v string }{
		{"rootNamespace", a.RootNamespace}, {"gatewayNamespace", a.GatewayNamespace}, {"gatewayServiceAccount", a.GatewayServiceAccount},
	} {
		if len(validation.IsDNS1123Label(f.v)) > 0 {
			l.Add(fielderr.ErrInvalid, f.path, "%q is not a DNS-1123 label", f.v)
		}
	}
	if len(a.GatewayLabels) == 0 {
		l.Add(fielderr.ErrRequired, "gatewayLabels", "must select the gateway's pods")
	}
	if a.CollectorHost == "" {
		l.Add(fielderr.ErrRequired, "collectorHost", "is required")
	}
	if a.CollectorPort < 1 || a.CollectorPort > 65535 {
		l.Add(fielderr.ErrOutOfRange, "collectorPort", "must be between 1 and 65535, got %d", a.CollectorPort)
	}
	if a.SamplingRatio < 0 || a.SamplingRatio > 1 {
		l.Add(fielderr.ErrOutOfRange, "samplingRatio", "%v is not between 0 and 1", a.SamplingRatio)
	}
	if a.Replicas < 1 {
		l.Add(fielderr.ErrOutOfRange, "replicas", "must be at least 1, got %d", a.Replicas)
	}
	component.RequireProvider(&l, a.Provider)
	return l.Err()
}

// New registers ServiceMesh.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*ServiceMesh, error) {
	c := &ServiceMesh{}
	a, err := component.Begin(ctx, c, Token, name, args, (*Args).withDefaults, (*Args).validate, opts...)
	if err != nil {
		return nil, err
	}
	base := component.Children(c, a.Provider)
	if a.Install {
		ready, err := install(ctx, name, a, base)
		if err != nil {
			return nil, fmt.Errorf("mesh %s: %w", name, err)
		}
		c.Ready = ready
	}
	if _, err := kobject.Register(ctx, name+"-telemetry", kinds.Telemetry,
		kinds.Telemetry.Of("mesh-default", a.RootNamespace, nil, Telemetry(a.SamplingRatio)),
		component.With(base, pulumi.DependsOn(slices.Concat(a.DependsOn, c.Ready)))...); err != nil {
		return nil, err
	}
	if err := component.Finish(ctx, c, pulumi.Map{"installed": pulumi.Bool(a.Install)}); err != nil {
		return nil, err
	}
	return c, nil
}

// Telemetry is the mesh-wide default: traces to the collector at the
// sampling rate, Envoy access logs on.
func Telemetry(samplingRatio float64) *telemetryv1alpha1.Telemetry {
	return &telemetryv1alpha1.Telemetry{
		Tracing: []*telemetryv1alpha1.Tracing{{
			Providers:                []*telemetryv1alpha1.ProviderRef{{Name: TracingProvider}},
			RandomSamplingPercentage: wrapperspb.Double(samplingRatio * 100),
		}},
		AccessLogging: []*telemetryv1alpha1.AccessLogging{{
			Providers: []*telemetryv1alpha1.ProviderRef{{Name: "envoy"}},
		}},
	}
}

// IstiodValues is the part of the istiod chart's values Bulwark sets.
type IstiodValues struct {
	MeshConfig MeshConfig `json:"meshConfig"`
	Pilot      struct {
		ReplicaCount int `json:"replicaCount"`
		AutoscaleMin int `json:"autoscaleMin"`
		// CNI: traffic redirection by the node agent instead of an
		// istio-init container with NET_ADMIN, which Pod Security
		// "restricted" (every application namespace) refuses.
		CNI struct {
			Enabled bool `json:"enabled"`
		} `json:"cni"`
		Env map[string]string `json:"env,omitempty"`
	} `json:"pilot"`
	Global struct {
		CAAddress string `json:"caAddress,omitempty"`
	} `json:"global"`
}

// MeshConfig is the part of Istio's MeshConfig Bulwark sets.
type MeshConfig struct {
	AccessLogFile         string `json:"accessLogFile"`
	AccessLogEncoding     string `json:"accessLogEncoding"`
	OutboundTrafficPolicy struct {
		Mode string `json:"mode"`
	} `json:"outboundTrafficPolicy"`
	ExtensionProviders []ExtensionProvider `json:"extensionProviders"`
	DefaultConfig      struct {
		HoldApplicationUntilProxyStarts bool `json:"holdApplicationUntilProxyStarts"`
	} `json:"defaultConfig"`
}

// ExtensionProvider is an OpenTelemetry tracing provider.
type ExtensionProvider struct {
	Name          string `json:"name"`
	OpenTelemetry struct {
		Service string `json:"service"`
		Port    int    `json:"port"`
	} `json:"opentelemetry"`
}

// Istiod returns the istiod chart values for args.
func Istiod(a *Args) IstiodValues {
	var v IstiodValues
	v.MeshConfig.AccessLogFile, v.MeshConfig.AccessLogEncoding = "/dev/stdout", "JSON"
	v.MeshConfig.OutboundTrafficPolicy.Mode = "ALLOW_ANY"
	if a.RegistryOnly {
		v.MeshConfig.OutboundTrafficPolicy.Mode = "REGISTRY_ONLY"
	}
	p := ExtensionProvider{Name: TracingProvider}
	p.OpenTelemetry.Service, p.OpenTelemetry.Port = a.CollectorHost, a.CollectorPort
	v.MeshConfig.ExtensionProviders = []ExtensionProvider{p}
	// The app starts only once its sidecar can carry traffic.
	v.MeshConfig.DefaultConfig.HoldApplicationUntilProxyStarts = true
	v.Pilot.ReplicaCount, v.Pilot.AutoscaleMin = a.Replicas, a.Replicas
	v.Pilot.CNI.Enabled = true
	if a.ExternalCAAddress != "" {
		v.Global.CAAddress = a.ExternalCAAddress
		v.Pilot.Env = map[string]string{"ENABLE_CA_SERVER": "false"}
	}
	return v
}

// BaseValues is the part of the base chart's values Bulwark sets.
type BaseValues struct {
	DefaultRevision string `json:"defaultRevision"`
}

// CNIValues is the part of the cni chart's values Bulwark sets.
type CNIValues struct {
	Profile string `json:"profile"`
}

// GatewayValues is the part of the gateway chart's values Bulwark sets.
type GatewayValues struct {
	Labels  map[string]string `json:"labels"`
	Service struct {
		Type string `json:"type"`
	} `json:"service"`
	Autoscaling struct {
		MinReplicas int `json:"minReplicas"`
	} `json:"autoscaling"`
}

// install installs the charts into the root and gateway namespaces, which
// must exist (the program creates them, with their Pod Security levels).
func install(ctx *pulumi.Context, name string, a *Args, base []pulumi.ResourceOption) ([]pulumi.Resource, error) {
	chart := func(suffix, chartName, release, namespace string, values any, deps ...pulumi.Resource) (pulumi.Resource, error) {
		return kobject.InstallChart(ctx, name+"-"+suffix, kobject.Chart{Repo: ChartRepo, Name: chartName, Version: ChartVersion, Release: release},
			namespace, values, component.With(base, pulumi.DependsOn(slices.Concat(a.DependsOn, deps)))...)
	}
	baseChart, err := chart("base", "base", "istio-base", a.RootNamespace, BaseValues{DefaultRevision: "default"})
	if err != nil {
		return nil, err
	}
	cni, err := chart("cni", "cni", "istio-cni", a.RootNamespace, CNIValues{Profile: "default"}, baseChart)
	if err != nil {
		return nil, err
	}
	istiod, err := chart("istiod", "istiod", "istiod", a.RootNamespace, Istiod(a), baseChart, cni)
	if err != nil {
		return nil, err
	}
	var gw GatewayValues
	gw.Labels, gw.Service.Type, gw.Autoscaling.MinReplicas = a.GatewayLabels, "LoadBalancer", a.Replicas
	gateway, err := chart("gateway", "gateway", a.GatewayServiceAccount, a.GatewayNamespace, gw, istiod)
	if err != nil {
		return nil, err
	}
	return []pulumi.Resource{baseChart, cni, istiod, gateway}, nil
}
