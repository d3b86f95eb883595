// Package program is the Bulwark Pulumi program: stack configuration in,
// typed Config, service graph, components, stack outputs. The thin main in
// infra/ (for the Pulumi CLI) and the Automation API runner (for make and
// the tests) both run this one function.
package program

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bulwark-platform/bulwark/components/edge"
	"github.com/bulwark-platform/bulwark/components/mesh"
	"github.com/bulwark-platform/bulwark/components/meshpolicy"
	"github.com/bulwark-platform/bulwark/components/namespace"
	"github.com/bulwark-platform/bulwark/components/netpolicy"
	"github.com/bulwark-platform/bulwark/components/pki"
	"github.com/bulwark-platform/bulwark/components/workload"
	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/infra/policy"
)

// Options carry what the caller knows beyond the stack configuration.
type Options struct {
	// ConfigKeys lists every configuration key set on the stack, so that an
	// unknown key is an error. nil reads them from PULUMI_CONFIG, which the
	// Pulumi CLI sets for a normal `pulumi up`.
	ConfigKeys []string
	// Kubeconfig, when set, replaces bulwark:kubernetes.kubeconfig: the
	// runner hands over the local cluster's kubeconfig this way.
	Kubeconfig string
}

// New returns the program as a pulumi.RunFunc.
func New(opts Options) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error { return Run(ctx, opts) }
}

// Run loads and validates the whole configuration, then registers the
// platform. Nothing is registered when the configuration is invalid.
func Run(ctx *pulumi.Context, opts Options) error {
	keys := opts.ConfigKeys
	if keys == nil {
		var err error
		if keys, err = keysFromEnv(); err != nil {
			return err
		}
	}
	cfg, err := config.Load(ctx.GetConfig, keys)
	if err != nil {
		return fmt.Errorf("invalid stack configuration for stack %q:\n%w", ctx.Stack(), err)
	}
	if opts.Kubeconfig != "" {
		cfg.Kubernetes.Kubeconfig = opts.Kubeconfig
	}
	return Platform(ctx, cfg)
}

// keysFromEnv lists the configuration keys that the Pulumi CLI passes to a
// program in PULUMI_CONFIG.
func keysFromEnv() ([]string, error) {
	raw := os.Getenv(pulumi.EnvConfig)
	if raw == "" {
		return []string{}, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("reading %s: %w", pulumi.EnvConfig, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys, nil
}

// ServiceOutput is one service in the "services" stack output, the
// contract between the stack and its checks.
type ServiceOutput struct {
	Name                         string `json:"name"`
	Namespace                    string `json:"namespace"`
	ServiceAccount               string `json:"serviceAccount"`
	AutomountServiceAccountToken bool   `json:"automountServiceAccountToken"`
	Port                         int    `json:"port"`
	MetricsPort                  int    `json:"metricsPort"`
}

// Platform registers every component of a validated configuration.
func Platform(ctx *pulumi.Context, cfg *config.Config) error {
	provArgs := &kubernetes.ProviderArgs{}
	if cfg.Kubernetes.Kubeconfig != "" {
		provArgs.Kubeconfig = pulumi.String(cfg.Kubernetes.Kubeconfig)
	}
	if cfg.Kubernetes.Context != "" {
		provArgs.Context = pulumi.String(cfg.Kubernetes.Context)
	}
	provider, err := kubernetes.NewProvider(ctx, "kubernetes", provArgs)
	if err != nil {
		return fmt.Errorf("kubernetes provider: %w", err)
	}

	platformNS, err := platformNamespaces(ctx, cfg, provider)
	if err != nil {
		return err
	}

	namespaces := map[string]*namespace.AppNamespace{}
	var nsNames []string
	var nsResources []pulumi.Resource
	for _, ns := range cfg.Graph.Namespaces() {
		n, err := namespace.New(ctx, ns, &namespace.Args{
			Name: ns,
			Labels: map[string]string{
				"bulwark.dev/environment": string(cfg.Environment),
				// Istio injects its sidecar into every pod here: without
				// it there is no mTLS identity and STRICT refuses the pod's
				// traffic.
				"istio-injection": "enabled",
			},
			Provider: provider,
		})
		if err != nil {
			return err
		}
		namespaces[ns] = n
		nsNames = append(nsNames, ns)
		nsResources = append(nsResources, n)
	}

	// Order: namespaces, then the CA (cert-manager and, with istio-csr,
	// the mesh's CA), then the mesh control plane, then mesh config.
	ca, err := privateCA(ctx, cfg, provider, slices.Concat(platformNS, nsResources))
	if err != nil {
		return err
	}
	meshCAAddress := ""
	if cfg.Certificates.IstioCSR {
		meshCAAddress = pki.IstioCSRAddress
	}
	meshInstall, err := mesh.New(ctx, "istio", &mesh.Args{
		Install:               cfg.Install.Istio,
		RootNamespace:         cfg.Mesh.RootNamespace,
		GatewayNamespace:      cfg.Graph.Gateway.Namespace,
		GatewayLabels:         cfg.Graph.Gateway.PodLabels,
		GatewayServiceAccount: cfg.Graph.Gateway.ServiceAccount,
		RegistryOnly:          cfg.Environment == config.Staging || cfg.Environment == config.Prod,
		CollectorHost:         cfg.Mesh.OTelCollector.Service + "." + cfg.Mesh.OTelCollector.Namespace + ".svc.cluster.local",
		CollectorPort:         cfg.Mesh.OTelCollector.Port,
		SamplingRatio:         cfg.Observability.TraceSamplingRatio,
		ExternalCAAddress:     meshCAAddress,
		Replicas:              min(cfg.Workloads.Replicas, 3),
		DependsOn:             slices.Concat(platformNS, ca.MeshCA),
		Provider:              provider,
	})
	if err != nil {
		return err
	}

	policies := policy.Compile(&cfg.Graph, cfg.Mesh)
	if _, err := meshpolicy.New(ctx, "mesh", &meshpolicy.Args{
		PeerAuthentications:   policies.PeerAuthentications,
		AuthorizationPolicies: policies.AuthorizationPolicies,
		DependsOn:             slices.Concat(nsResources, meshInstall.Ready),
		Provider:              provider,
	}); err != nil {
		return err
	}
	if _, err := edge.New(ctx, "edge", &edge.Args{
		Namespace:      cfg.Graph.Gateway.Namespace,
		PodLabels:      cfg.Graph.Gateway.PodLabels,
		Hosts:          cfg.Edge.Hosts,
		CredentialName: GatewayCertificateSecret,
		MinTLSVersion:  cfg.Edge.MinTLSVersion,
		JWT:            edge.JWT{Issuer: cfg.Edge.JWT.Issuer, JWKSURI: cfg.Edge.JWT.JWKSURI, Audiences: cfg.Edge.JWT.Audiences},
		Routes:         edgeRoutes(cfg),
		DependsOn:      slices.Concat([]pulumi.Resource{ca}, meshInstall.Ready),
		Provider:       provider,
	}); err != nil {
		return err
	}
	if _, err := netpolicy.New(ctx, "network", &netpolicy.Args{
		Policies:     policies.NetworkPolicies,
		AllowedCIDRs: cfg.Mesh.EgressCIDRs,
		DependsOn:    nsResources,
		Provider:     provider,
	}); err != nil {
		return err
	}

	w := cfg.Workloads
	var services []ServiceOutput
	for _, s := range cfg.Graph.Services {
		_, err := workload.New(ctx, s.Name, &workload.Args{
			Name:                         s.Name,
			Namespace:                    namespaces[s.Namespace].Name,
			ServiceAccount:               s.ServiceAccount,
			AutomountServiceAccountToken: s.AutomountServiceAccountToken,
			Image:                        s.Image,
			Port:                         s.Port,
			MetricsPort:                  s.MetricsPort,
			Replicas:                     w.Replicas,
			Resources: workload.Resources{
				RequestsCPU: w.Resources.Requests.CPU, RequestsMemory: w.Resources.Requests.Memory,
				LimitsCPU: w.Resources.Limits.CPU, LimitsMemory: w.Resources.Limits.Memory,
			},
			Autoscaling: workload.Autoscaling{
				MinReplicas: w.Autoscaling.MinReplicas, MaxReplicas: w.Autoscaling.MaxReplicas,
				TargetCPUUtilization: w.Autoscaling.TargetCPUUtilization, TargetMemoryUtilization: w.Autoscaling.TargetMemoryUtilization,
			},
			VPAMode:                       w.VPAMode,
			TerminationGracePeriodSeconds: w.TerminationGracePeriodSeconds,
			PreStopSleepSeconds:           w.PreStopSleepSeconds,
			TopologySpread:                w.TopologySpread,
			Env:                           serviceEnv(cfg, &s),
			Labels:                        map[string]string{"bulwark.dev/environment": string(cfg.Environment)},
			PodAnnotations:                meshPodAnnotations,
			Provider:                      provider,
		})
		if err != nil {
			return err
		}
		services = append(services, ServiceOutput{
			Name: s.Name, Namespace: s.Namespace, ServiceAccount: s.ServiceAccount,
			AutomountServiceAccountToken: s.AutomountServiceAccountToken,
			Port:                         s.Port, MetricsPort: s.MetricsPort,
		})
	}

	servicesOut, err := toOutput(services)
	if err != nil {
		return fmt.Errorf("services output: %w", err)
	}
	workloadsOut, err := toOutput(map[string]any{
		"replicas":                      w.Replicas,
		"minReplicas":                   w.Autoscaling.MinReplicas,
		"maxReplicas":                   w.Autoscaling.MaxReplicas,
		"vpaMode":                       w.VPAMode,
		"terminationGracePeriodSeconds": w.TerminationGracePeriodSeconds,
		"preStopSleepSeconds":           w.PreStopSleepSeconds,
		"resources":                     w.Resources,
	})
	if err != nil {
		return fmt.Errorf("workloads output: %w", err)
	}
	ctx.Export("environment", pulumi.String(string(cfg.Environment)))
	ctx.Export("namespaces", pulumi.ToStringArray(nsNames))
	ctx.Export("services", servicesOut)
	ctx.Export("workloads", workloadsOut)
	return nil
}

// meshPodAnnotations keep kubelet probes working under STRICT mTLS: the
// injector rewrites HTTP probes to the sidecar agent (port 15020), which
// calls the app over localhost, so the kubelet never needs a mesh
// certificate. The app starts only after its sidecar is ready.
var meshPodAnnotations = map[string]string{
	"sidecar.istio.io/rewriteAppHTTPProbers": "true",
	"proxy.istio.io/config":                  `{"holdApplicationUntilProxyStarts": true}`,
}

// platformNamespaces creates the namespaces of the third-party parts
// Bulwark installs (adopted ones exist already). Istio's root namespace
// runs the CNI node agent, which needs host access: it is the one
// privileged namespace, and says so.
func platformNamespaces(ctx *pulumi.Context, cfg *config.Config, provider pulumi.ProviderResource) ([]pulumi.Resource, error) {
	var specs []namespace.Args
	if cfg.Install.Istio {
		specs = append(specs,
			namespace.Args{Name: cfg.Mesh.RootNamespace, PodSecurity: namespace.Privileged, PrivilegedReason: "istio-cni node agent configures pod networking on the host"},
			namespace.Args{Name: cfg.Graph.Gateway.Namespace},
		)
	}
	if cfg.Install.CertManager {
		specs = append(specs, namespace.Args{Name: "cert-manager"})
	}
	var out []pulumi.Resource
	for _, a := range specs {
		a.Labels = map[string]string{"bulwark.dev/environment": string(cfg.Environment)}
		a.Provider = provider
		n, err := namespace.New(ctx, "platform-"+a.Name, &a)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// GatewayCertificateSecret is the TLS secret of the ingress gateway.
const GatewayCertificateSecret = "bulwark-gateway-tls"

// privateCA issues the gateway's certificate and one per service that
// serves TLS itself.
func privateCA(ctx *pulumi.Context, cfg *config.Config, provider pulumi.ProviderResource, deps []pulumi.Resource) (*pki.PrivateCA, error) {
	rootLife, err := time.ParseDuration(cfg.Certificates.RootCADuration)
	if err != nil {
		return nil, fmt.Errorf("bulwark:certificates.rootCADuration: %w", err)
	}
	leafLife, err := time.ParseDuration(cfg.Certificates.LeafDuration)
	if err != nil {
		return nil, fmt.Errorf("bulwark:certificates.leafDuration: %w", err)
	}
	certs := []pki.Certificate{{
		Name: "bulwark-gateway", Namespace: cfg.Graph.Gateway.Namespace, SecretName: GatewayCertificateSecret, DNSNames: cfg.Edge.Hosts,
	}}
	for _, s := range cfg.Graph.Services {
		if s.NativeTLS {
			certs = append(certs, pki.Certificate{
				Name: s.Name + "-tls", Namespace: s.Namespace, SecretName: s.Name + "-tls",
				DNSNames: []string{s.Name + "." + s.Namespace + ".svc", s.Name + "." + s.Namespace + ".svc.cluster.local"},
			})
		}
	}
	return pki.New(ctx, "pki", &pki.Args{
		Environment:       string(cfg.Environment),
		IstioCSR:          cfg.Certificates.IstioCSR,
		MeshRootNamespace: cfg.Mesh.RootNamespace,
		TrustDomain:       cfg.Mesh.TrustDomain,
		Install:           cfg.Install.CertManager,
		Replicas:          min(cfg.Workloads.Replicas, 3),
		RootCADuration:    rootLife,
		LeafDuration:      leafLife,
		LeafIssuer:        cfg.Certificates.Issuer,
		Certificates:      certs,
		DependsOn:         deps,
		Provider:          provider,
	})
}

// edgeRoutes are the gateway's calls of the graph with their rate limits.
func edgeRoutes(cfg *config.Config) []edge.Route {
	var out []edge.Route
	for _, c := range cfg.Graph.Gateway.Calls {
		s := cfg.Graph.Service(c.Target)
		limit := cfg.Edge.RouteRateLimit(c.Target)
		out = append(out, edge.Route{
			Name: s.Name, Namespace: s.Namespace, Port: s.Port,
			Methods: c.Methods, Paths: c.Paths, Scopes: c.Scopes,
			Requests: limit.Requests, PerSeconds: limit.PerSeconds,
		})
	}
	return out
}

// serviceEnv is the standard OpenTelemetry configuration of a service, so
// sampling is set per environment in one place and the SDK in the service
// picks it up without code.
func serviceEnv(cfg *config.Config, s *graph.Service) map[string]string {
	return map[string]string{
		"OTEL_SERVICE_NAME":           s.Name,
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + cfg.Mesh.OTelCollector.Address(),
		"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
		"OTEL_TRACES_SAMPLER":         "parentbased_traceidratio",
		"OTEL_TRACES_SAMPLER_ARG":     strconv.FormatFloat(cfg.Observability.TraceSamplingRatio, 'f', -1, 64),
		"OTEL_RESOURCE_ATTRIBUTES":    "deployment.environment.name=" + string(cfg.Environment) + ",service.namespace=" + s.Namespace,
	}
}

// toOutput turns plain Go data into a Pulumi value by a JSON round trip, so
// exported outputs keep the JSON field names the checks read back.
func toOutput(v any) (pulumi.Input, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return pulumi.Any(out), nil
}
