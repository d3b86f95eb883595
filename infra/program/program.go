// Package program is the Bulwark Pulumi program: stack configuration in,
// typed Config, service graph, components, stack outputs. The thin main in
// infra/ (for the Pulumi CLI) and the Automation API runner (for make and
// the tests) both run this one function.
package program

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	dscomponent "github.com/bulwark-platform/bulwark/components/datastore"
	"github.com/bulwark-platform/bulwark/components/edge"
	"github.com/bulwark-platform/bulwark/components/externalsecrets"
	"github.com/bulwark-platform/bulwark/components/identityprovider"
	"github.com/bulwark-platform/bulwark/components/mesh"
	"github.com/bulwark-platform/bulwark/components/meshpolicy"
	"github.com/bulwark-platform/bulwark/components/namespace"
	"github.com/bulwark-platform/bulwark/components/netpolicy"
	"github.com/bulwark-platform/bulwark/components/pki"
	"github.com/bulwark-platform/bulwark/components/vault"
	"github.com/bulwark-platform/bulwark/components/workload"
	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/datastore"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/infra/identity"
	"github.com/bulwark-platform/bulwark/infra/peers"
	"github.com/bulwark-platform/bulwark/infra/podconfig"
	"github.com/bulwark-platform/bulwark/infra/policy"
	"github.com/bulwark-platform/bulwark/infra/secrets"
	"github.com/bulwark-platform/bulwark/internal/naming"
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
	// Stores, when set, are the local cluster's PostgreSQL and Redis: the
	// runner hands them over, and a stack whose stores are external
	// (install: false) uses their addresses.
	Stores *LocalStores
}

// LocalStores are the addresses of the stores that run beside the local
// cluster (processes on loopback), handed over by the runner: PostgreSQL,
// Redis and OpenBao (the secrets store).
type LocalStores struct {
	Postgres, Redis, Vault Endpoint
}

// Endpoint is a store's address.
type Endpoint struct {
	Host string
	Port int
}

// apply points the external stores that name the local cluster's (port
// 0) at the stores' addresses.
func (l *LocalStores) apply(cfg *config.Config) {
	d := &cfg.Data
	for _, s := range []struct {
		install bool
		ext     *config.External
		at      Endpoint
	}{{d.Postgres.Install, &d.Postgres.External, l.Postgres}, {d.Redis.Install, &d.Redis.External, l.Redis},
		{cfg.Install.Vault, &cfg.Vault.External, l.Vault}} {
		if !s.install && s.ext.Port == 0 && s.at.Port != 0 {
			s.ext.Host, s.ext.Port = s.at.Host, s.at.Port
		}
	}
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
	if opts.Stores != nil {
		opts.Stores.apply(cfg)
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

// Platform registers every component of a validated configuration: one
// named wiring step per component, in dependency order. A step that fails
// says which it was.
func Platform(ctx *pulumi.Context, cfg *config.Config) error {
	w := &wiring{ctx: ctx, cfg: cfg}
	for _, step := range []struct {
		name string
		run  func() error
	}{
		// The compile steps come first: a configuration that can't
		// compile, or that would leave a service unable to start,
		// registers nothing, not even the provider.
		{"data model", w.dataModel},
		{"identity model", w.identityModel},
		{"secrets model", w.secretsModel},
		{"kubernetes provider", w.kubernetesProvider},
		{"namespaces", w.namespaces},
		{"private CA", w.privateCA},
		{"data stores", w.dataStores},
		{"secrets store", w.secretsStore},
		{"secret sync", w.secretSync},
		{"identity provider", w.identityProvider},
		{"service mesh", w.mesh},
		{"mesh policy", w.meshPolicy},
		{"edge", w.edge},
		{"network policy", w.networkPolicy},
		{"workloads", w.workloads},
		{"stack outputs", w.outputs},
	} {
		if err := step.run(); err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
	}
	return nil
}

// wiring carries what one step hands the next.
type wiring struct {
	ctx      *pulumi.Context
	cfg      *config.Config
	provider pulumi.ProviderResource
	// platformNS are the namespaces of installed third-party parts;
	// appNS the graph's namespaces by name, appNSList in graph order.
	platformNS       []pulumi.Resource
	platformNSByName map[string]*namespace.AppNamespace
	appNS            map[string]*namespace.AppNamespace
	appNSList        []pulumi.Resource
	ca               *pki.PrivateCA
	meshReady        []pulumi.Resource
	policies         policy.Set
	data             datastore.Set
	secrets          secrets.Set
	identity         identity.Model
	keycloak         *identity.KeycloakSet
	// dataReady and syncReady are the data stores' and the secret sync's
	// components, for what needs their objects first.
	dataReady, syncReady []pulumi.Resource
	pods                 []podconfig.Pod
	vaultReady           []pulumi.Resource
	synced               pulumi.StringArrayOutput
	services             []ServiceOutput
}

// identityModel compiles the realm and clients (the issuer and each
// service's audience come from it).
func (w *wiring) identityModel() (err error) {
	if w.identity, err = identity.Compile(w.cfg); err != nil {
		return err
	}
	if w.cfg.Identity.InstallsKeycloak() {
		set, err := identity.Keycloak(w.identity, w.cfg)
		if err != nil {
			return err
		}
		w.keycloak = &set
	}
	return nil
}

// identityProvider installs Keycloak's operator and registers Keycloak and
// its realm, when the configuration installs it (an external provider, or
// Hydra, needs nothing in the cluster).
func (w *wiring) identityProvider() error {
	if w.keycloak == nil {
		return nil
	}
	_, err := identityprovider.New(w.ctx, "identity", &identityprovider.Args{
		Keycloak:        *w.keycloak,
		InstallOperator: true,
		DependsOn:       slices.Concat(w.platformNS, []pulumi.Resource{w.ca}, w.dataReady, w.syncReady),
		Provider:        w.provider,
	})
	return err
}

// secretsModel compiles Vault's side of the graph, the secret sync and
// each service's pod configuration, and holds the configuration against
// every service's contract before anything is registered.
func (w *wiring) secretsModel() (err error) {
	if w.secrets, err = secrets.Compile(w.cfg); err != nil {
		return err
	}
	w.pods = podconfig.Compile(w.cfg, w.identity, w.secrets)
	return podconfig.CheckAll(w.cfg, w.pods)
}

// secretsStore installs Vault, or prepares the cluster for an external
// one (the token reviewer its Kubernetes auth method uses).
func (w *wiring) secretsStore() error {
	cfg := w.cfg
	v := cfg.Vault
	args := &vault.Args{
		Install:             cfg.Install.Vault,
		Distribution:        v.Distribution,
		Mode:                v.Mode,
		Replicas:            v.Replicas,
		Namespace:           v.Namespace,
		Labels:              map[string]string{naming.EnvironmentLabel: string(cfg.Environment)},
		StorageSize:         v.Storage.Size,
		StorageClass:        v.Storage.StorageClass,
		Audit:               v.Audit,
		InjectorReplicas:    cfg.Install.Replicas,
		InjectorAuthPath:    "auth/" + w.secrets.Plan.Mounts.Kubernetes,
		CertificateDuration: cfg.Certificates.LeafDuration,
		DependsOn:           slices.Concat(w.platformNS, []pulumi.Resource{w.ca}),
		Provider:            w.provider,
	}
	if !cfg.Install.Vault {
		args.ExternalAddress = w.secrets.Plan.Address
	}
	s, err := vault.New(w.ctx, "vault", args)
	if err != nil {
		return err
	}
	w.vaultReady = s.Ready
	return nil
}

// secretSync installs the External Secrets Operator (or adopts it) and
// registers each namespace's SecretStore and the ExternalSecrets.
func (w *wiring) secretSync() error {
	cfg := w.cfg
	if len(w.secrets.ExternalSecrets) == 0 && !cfg.Install.ExternalSecrets {
		return nil
	}
	namespaces := map[string]pulumi.StringInput{}
	for name, n := range w.appNS {
		namespaces[name] = n.Name
	}
	if cfg.Identity.InstallsKeycloak() {
		// The identity provider's store and its client secrets.
		namespaces[cfg.Identity.Namespace] = w.platformNSByName[cfg.Identity.Namespace].Name
	}
	s, err := externalsecrets.New(w.ctx, "secrets", &externalsecrets.Args{
		Install:         cfg.Install.ExternalSecrets,
		Namespace:       cfg.ExternalSecrets.Namespace,
		Replicas:        cfg.Install.Replicas,
		Stores:          w.secrets.Stores,
		ExternalSecrets: w.secrets.ExternalSecrets,
		Namespaces:      namespaces,
		DependsOn:       slices.Concat(w.platformNS, w.appNSList, []pulumi.Resource{w.ca}, w.vaultReady),
		Provider:        w.provider,
	})
	if err != nil {
		return err
	}
	w.synced = s.Secrets
	w.syncReady = []pulumi.Resource{s}
	return nil
}

// dataModel compiles the data stores: the certificates they need go to
// the private CA, their namespaces to the namespaces step.
func (w *wiring) dataModel() (err error) {
	w.data, err = datastore.Compile(&w.cfg.Graph, w.cfg.Data, identity.PlatformDatabases(w.cfg)...)
	return err
}

// dataStores installs the stores the configuration installs; external
// ones need nothing here (their addresses reach the network policies).
func (w *wiring) dataStores() error {
	if w.data.Postgres == nil && w.data.Redis == nil {
		return nil
	}
	d, err := dscomponent.New(w.ctx, "data", &dscomponent.Args{
		Stores:    w.data,
		Replicas:  w.cfg.Install.Replicas,
		DependsOn: slices.Concat(w.platformNS, []pulumi.Resource{w.ca}),
		Provider:  w.provider,
	})
	if err != nil {
		return err
	}
	w.dataReady = []pulumi.Resource{d}
	return nil
}

func (w *wiring) kubernetesProvider() error {
	args := &kubernetes.ProviderArgs{}
	if k := w.cfg.Kubernetes; k.Kubeconfig != "" {
		args.Kubeconfig = pulumi.String(k.Kubeconfig)
	}
	if k := w.cfg.Kubernetes; k.Context != "" {
		args.Context = pulumi.String(k.Context)
	}
	p, err := kubernetes.NewProvider(w.ctx, "kubernetes", args)
	w.provider = p
	return err
}

// namespaces creates the namespaces of the third-party parts Bulwark
// installs (adopted ones exist already) and one per graph namespace. Istio's
// root namespace runs the CNI node agent, which needs host access: it is the
// one privileged namespace, and says so.
func (w *wiring) namespaces() error {
	cfg := w.cfg
	w.platformNSByName = map[string]*namespace.AppNamespace{}
	var specs []namespace.Args
	if cfg.Install.Istio {
		specs = append(specs,
			namespace.Args{Name: cfg.Mesh.RootNamespace, PodSecurity: namespace.Privileged, PrivilegedReason: "istio-cni node agent configures pod networking on the host"},
			namespace.Args{Name: cfg.Graph.Gateway.Namespace},
		)
	}
	if cfg.Install.CertManager {
		specs = append(specs, namespace.Args{Name: pki.DefaultNamespace})
	}
	if w.data.Postgres != nil {
		specs = append(specs, namespace.Args{Name: "cnpg-system"})
	}
	if cfg.Install.ExternalSecrets {
		specs = append(specs, namespace.Args{Name: cfg.ExternalSecrets.Namespace})
	}
	if cfg.Identity.InstallsKeycloak() {
		specs = append(specs, namespace.Args{Name: cfg.Identity.Namespace})
	}
	if !cfg.Install.Vault {
		// An external Vault reviews login tokens with a service account
		// of this namespace (an installed Vault creates its own).
		specs = append(specs, namespace.Args{Name: cfg.Vault.Namespace})
	}
	for _, ns := range storeNamespaces(w.data) {
		if !slices.ContainsFunc(specs, func(a namespace.Args) bool { return a.Name == ns }) {
			specs = append(specs, namespace.Args{Name: ns})
		}
	}
	for _, a := range specs {
		a.Labels = map[string]string{naming.EnvironmentLabel: string(cfg.Environment)}
		a.Provider = w.provider
		n, err := namespace.New(w.ctx, "platform-"+a.Name, &a)
		if err != nil {
			return err
		}
		w.platformNS = append(w.platformNS, n)
		w.platformNSByName[a.Name] = n
	}
	w.appNS = map[string]*namespace.AppNamespace{}
	for _, ns := range cfg.Graph.Namespaces() {
		n, err := namespace.New(w.ctx, ns, &namespace.Args{
			Name: ns,
			Labels: map[string]string{
				naming.EnvironmentLabel: string(cfg.Environment),
				// Istio injects its sidecar into every pod here: without
				// it there is no mTLS identity and STRICT refuses the pod's
				// traffic.
				"istio-injection": "enabled",
			},
			Provider: w.provider,
		})
		if err != nil {
			return err
		}
		w.appNS[ns] = n
		w.appNSList = append(w.appNSList, n)
	}
	return nil
}

// privateCA issues the gateway's certificate and one per service that
// serves TLS itself; with istio-csr it is also the mesh's CA, so it comes
// before the mesh.
func (w *wiring) privateCA() error {
	cfg := w.cfg
	gatewayNames := slices.Clone(cfg.Edge.Hosts)
	if r := IdentityRoute(cfg); r != nil {
		// The edge also serves the issuer's host (Keycloak's public paths).
		gatewayNames = append(gatewayNames, r.Host)
	}
	certs := []pki.Certificate{{
		Name: naming.GatewayCertificate, Namespace: cfg.Graph.Gateway.Namespace, SecretName: naming.GatewayCertificateSecret, DNSNames: gatewayNames,
	}}
	storeCerts := slices.Clone(w.data.Certificates)
	if w.keycloak != nil {
		storeCerts = append(storeCerts, w.keycloak.Certificate)
	}
	for _, c := range storeCerts {
		certs = append(certs, pki.Certificate{Name: c.Name, Namespace: c.Namespace, SecretName: c.SecretName, DNSNames: c.DNSNames})
	}
	// Every application namespace's trust bundle: the private CA's root
	// as the ca.crt of a certificate there, which pods and secret stores
	// verify the stores and Vault with.
	bundles := cfg.Graph.Namespaces()
	if w.keycloak != nil {
		// Its secret store verifies Vault with it too, and the gateway
		// verifies Keycloak with it.
		bundles = append(slices.Clone(bundles), w.keycloak.Namespace, cfg.Graph.Gateway.Namespace)
	}
	for _, ns := range bundles {
		certs = append(certs, pki.Certificate{Name: naming.TrustBundle, Namespace: ns, SecretName: naming.TrustBundle,
			DNSNames: []string{naming.TrustBundle + "." + ns + ".svc"}})
	}
	for _, s := range cfg.Graph.Services {
		if s.NativeTLS {
			certs = append(certs, pki.Certificate{
				Name: s.Name + "-tls", Namespace: s.Namespace, SecretName: s.Name + "-tls",
				DNSNames: []string{s.Name + "." + s.Namespace + ".svc", s.Name + "." + s.Namespace + ".svc.cluster.local"},
			})
		}
	}
	ca, err := pki.New(w.ctx, "pki", &pki.Args{
		Environment:       string(cfg.Environment),
		IstioCSR:          cfg.Certificates.IstioCSR,
		MeshRootNamespace: cfg.Mesh.RootNamespace,
		TrustDomain:       cfg.Mesh.TrustDomain,
		Install:           cfg.Install.CertManager,
		Replicas:          cfg.Install.Replicas,
		RootCADuration:    cfg.Certificates.RootCADuration,
		LeafDuration:      cfg.Certificates.LeafDuration,
		LeafIssuer:        cfg.Certificates.Issuer,
		Certificates:      certs,
		DependsOn:         slices.Concat(w.platformNS, w.appNSList),
		Provider:          w.provider,
	})
	w.ca = ca
	return err
}

func (w *wiring) mesh() error {
	cfg := w.cfg
	meshCAAddress := ""
	if cfg.Certificates.IstioCSR {
		meshCAAddress = pki.IstioCSRAddress
	}
	m, err := mesh.New(w.ctx, "istio", &mesh.Args{
		Install:               cfg.Install.Istio,
		RootNamespace:         cfg.Mesh.RootNamespace,
		GatewayNamespace:      cfg.Graph.Gateway.Namespace,
		GatewayLabels:         cfg.Graph.Gateway.PodLabels,
		GatewayServiceAccount: cfg.Graph.Gateway.ServiceAccount,
		RegistryOnly:          cfg.Mesh.RegistryOnly(),
		CollectorHost:         cfg.Mesh.OTelCollector.Service + "." + cfg.Mesh.OTelCollector.Namespace + ".svc.cluster.local",
		CollectorPort:         cfg.Mesh.OTelCollector.Port,
		SamplingRatio:         cfg.Observability.TraceSamplingRatio,
		ExternalCAAddress:     meshCAAddress,
		Replicas:              cfg.Install.Replicas,
		DependsOn:             slices.Concat(w.platformNS, w.ca.MeshCA),
		Provider:              w.provider,
	})
	if err != nil {
		return err
	}
	w.meshReady = m.Ready
	return nil
}

func (w *wiring) meshPolicy() error {
	w.policies = policy.Compile(&w.cfg.Graph, w.cfg.Mesh, peers.Of(w.cfg))
	// An external Vault and an external identity provider, registered
	// with a REGISTRY_ONLY mesh.
	entries := slices.Concat(w.secrets.ServiceEntries, peers.IdentityServiceEntries(w.cfg))
	_, err := meshpolicy.New(w.ctx, "mesh", &meshpolicy.Args{
		PeerAuthentications:   w.policies.PeerAuthentications,
		AuthorizationPolicies: w.policies.AuthorizationPolicies,
		ServiceEntries:        entries,
		DependsOn:             slices.Concat(w.appNSList, w.meshReady),
		Provider:              w.provider,
	})
	return err
}

func (w *wiring) edge() error {
	cfg := w.cfg
	idRoute := IdentityRoute(cfg)
	_, err := edge.New(w.ctx, "edge", &edge.Args{
		Identity:       idRoute,
		Namespace:      cfg.Graph.Gateway.Namespace,
		PodLabels:      cfg.Graph.Gateway.PodLabels,
		Hosts:          cfg.Edge.Hosts,
		CredentialName: naming.GatewayCertificateSecret,
		MinTLSVersion:  cfg.Edge.MinTLSVersion,
		JWT:            edge.JWT{Issuer: cfg.Edge.JWT.Issuer, JWKSURI: cfg.Edge.JWT.JWKSURI, Audiences: cfg.Edge.JWT.Audiences},
		Routes:         edgeRoutes(cfg),
		DependsOn:      slices.Concat([]pulumi.Resource{w.ca}, w.meshReady),
		Provider:       w.provider,
	})
	return err
}

func (w *wiring) networkPolicy() error {
	_, err := netpolicy.New(w.ctx, "network", &netpolicy.Args{
		Policies:     w.policies.NetworkPolicies,
		AllowedCIDRs: slices.Concat(w.cfg.Mesh.EgressCIDRs, peers.Of(w.cfg).CIDRs()),
		DependsOn:    w.appNSList,
		Provider:     w.provider,
	})
	return err
}

func (w *wiring) workloads() error {
	cfg, wl := w.cfg, w.cfg.Workloads
	for i, s := range cfg.Graph.Services {
		pod := w.pods[i]
		annotations := maps.Clone(meshPodAnnotations)
		var token *workload.TokenVolume
		if in := pod.Injection; in != nil {
			maps.Copy(annotations, in.Annotations)
			token = &workload.TokenVolume{Name: in.TokenVolume.Name, Audience: in.TokenVolume.Audience,
				Path: in.TokenVolume.Path, ExpirationSeconds: in.TokenVolume.ExpirationSeconds}
		}
		secretEnv := map[string]workload.SecretKeyRef{}
		for k, ref := range pod.SecretEnv {
			secretEnv[k] = workload.SecretKeyRef{Secret: ref.Secret, Key: ref.Key}
		}
		var volumes []workload.SecretVolume
		for _, v := range pod.Volumes {
			volumes = append(volumes, workload.SecretVolume{Secret: v.Secret, MountPath: v.MountPath})
		}
		_, err := workload.New(w.ctx, s.Name, &workload.Args{
			Name:                         s.Name,
			Namespace:                    w.appNS[s.Namespace].Name,
			ServiceAccount:               s.ServiceAccount,
			AutomountServiceAccountToken: s.AutomountServiceAccountToken,
			Image:                        s.ImageRef(),
			Port:                         s.Port,
			MetricsPort:                  s.MetricsPort,
			Replicas:                     wl.Replicas,
			Resources: workload.Resources{
				RequestsCPU: wl.Resources.Requests.CPU, RequestsMemory: wl.Resources.Requests.Memory, RequestsEphemeralStorage: wl.Resources.Requests.EphemeralStorage,
				LimitsCPU: wl.Resources.Limits.CPU, LimitsMemory: wl.Resources.Limits.Memory, LimitsEphemeralStorage: wl.Resources.Limits.EphemeralStorage,
			},
			TmpSize: wl.TmpSize,
			Autoscaling: workload.Autoscaling{
				MinReplicas: wl.Autoscaling.MinReplicas, MaxReplicas: wl.Autoscaling.MaxReplicas,
				TargetCPUUtilization: wl.Autoscaling.TargetCPUUtilization, TargetMemoryUtilization: wl.Autoscaling.TargetMemoryUtilization,
			},
			DisruptionBudget:              workload.DisruptionBudget(wl.DisruptionBudget),
			VPAMode:                       wl.VPAMode,
			TerminationGracePeriodSeconds: wl.TerminationGracePeriodSeconds,
			PreStopSleepSeconds:           wl.PreStopSleepSeconds,
			TopologySpread:                wl.TopologySpread,
			Env:                           pod.Env,
			SecretEnv:                     secretEnv,
			SecretVolumes:                 volumes,
			TokenVolume:                   token,
			Labels:                        map[string]string{naming.EnvironmentLabel: string(cfg.Environment)},
			PodAnnotations:                annotations,
			Provider:                      w.provider,
		})
		if err != nil {
			return err
		}
		w.services = append(w.services, ServiceOutput{
			Name: s.Name, Namespace: s.Namespace, ServiceAccount: s.ServiceAccount,
			AutomountServiceAccountToken: s.AutomountServiceAccountToken,
			Port:                         s.Port, MetricsPort: s.MetricsPort,
		})
	}
	return nil
}

// outputs are the contract between the stack and its checks.
func (w *wiring) outputs() error {
	wl := w.cfg.Workloads
	servicesOut, err := toOutput(w.services)
	if err != nil {
		return fmt.Errorf("services: %w", err)
	}
	workloadsOut, err := toOutput(map[string]any{
		"replicas":                      wl.Replicas,
		"minReplicas":                   wl.Autoscaling.MinReplicas,
		"maxReplicas":                   wl.Autoscaling.MaxReplicas,
		"vpaMode":                       wl.VPAMode,
		"terminationGracePeriodSeconds": wl.TerminationGracePeriodSeconds,
		"preStopSleepSeconds":           wl.PreStopSleepSeconds,
		"disruptionBudget":              wl.DisruptionBudget,
		"resources":                     wl.Resources,
	})
	if err != nil {
		return fmt.Errorf("workloads: %w", err)
	}
	nsNames := w.cfg.Graph.Namespaces()
	certificates, err := toOutput(map[string]any{
		"rootCADuration": w.cfg.Certificates.RootCADuration.String(),
		"leafDuration":   w.cfg.Certificates.LeafDuration.String(),
	})
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	w.ctx.Export("environment", pulumi.String(string(w.cfg.Environment)))
	w.ctx.Export("namespaces", pulumi.ToStringArray(nsNames))
	w.ctx.Export("services", servicesOut)
	w.ctx.Export("workloads", workloadsOut)
	w.ctx.Export("certificates", certificates)
	data, err := toOutput(DataPosture(w.cfg, w.data))
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	w.ctx.Export("data", data)
	// The Vault layer (infra/vault) applies exactly this plan: it reads it
	// through a stack reference, or the runner hands it over.
	plan, err := toOutput(w.secrets.Plan)
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	w.ctx.Export("vault", plan)
	posture, err := toOutput(SecretsPosture(w.cfg, w.secrets))
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	w.ctx.Export("secrets", posture)
	if w.synced != (pulumi.StringArrayOutput{}) {
		w.ctx.Export("syncedSecrets", w.synced)
	}
	return nil
}

// SecretsOutput is the "secrets" stack output: what reaches each pod and
// how, and whose configuration contract the compiled pods satisfy.
type SecretsOutput struct {
	Vault           string   `json:"vault"`
	RefreshInterval string   `json:"refreshInterval"`
	ExternalSecrets []string `json:"externalSecrets"`
	// DatabaseCredentials are the services whose agent renders dynamic
	// PostgreSQL credentials.
	DatabaseCredentials []string `json:"databaseCredentials"`
	// ContractHolds are the services whose contract the compiled pod
	// configuration satisfies (the program refuses to run otherwise).
	ContractHolds []string `json:"contractHolds"`
}

// SecretsPosture summarises the compiled secrets for the stack output.
func SecretsPosture(cfg *config.Config, s secrets.Set) SecretsOutput {
	out := SecretsOutput{Vault: s.Plan.Address, RefreshInterval: cfg.ExternalSecrets.RefreshInterval.String(),
		ExternalSecrets: []string{}, DatabaseCredentials: []string{}, ContractHolds: podconfig.Contracted(cfg)}
	for _, es := range s.ExternalSecrets {
		out.ExternalSecrets = append(out.ExternalSecrets, es.Namespace+"/"+es.Spec.Target.Name)
	}
	if s.Plan.Database != nil {
		for _, r := range s.Plan.Database.Roles {
			out.DatabaseCredentials = append(out.DatabaseCredentials, r.Service)
		}
	}
	return out
}

// DataOutput is the "data" stack output: where the stores run, who owns
// which database, backups, TLS and authentication.
type DataOutput struct {
	Postgres StoreOutput `json:"postgres"`
	Redis    StoreOutput `json:"redis"`
}

// StoreOutput describes one store.
type StoreOutput struct {
	// Where is "external at host:port" or what runs it in the cluster.
	Where string `json:"where"`
	// Databases are the data model (PostgreSQL only).
	Databases []datastore.Database `json:"databases,omitempty"`
	Backups   string               `json:"backups"`
	TLS       bool                 `json:"tls"`
	Auth      string               `json:"auth"`
}

// DataPosture is the data stores' posture of a configuration.
func DataPosture(cfg *config.Config, set datastore.Set) DataOutput {
	var out DataOutput
	pg, rd := cfg.Data.Postgres, cfg.Data.Redis
	out.Postgres.Databases = set.Databases
	out.Postgres.Auth = "SCRAM passwords; an owner role per database, no other role may connect to it; management role " + pg.ManagementRole
	switch {
	case set.Postgres != nil:
		out.Postgres.Where = fmt.Sprintf("CloudNativePG %s: %d cluster(s) (%s) × %d instance(s), %d synchronous standby(s)",
			dscomponent.OperatorVersion, len(set.Postgres.Clusters), pg.Topology, pg.Instances, pg.SynchronousReplicas)
		out.Postgres.TLS = true
		out.Postgres.Auth += "; no superuser login from outside"
	default:
		out.Postgres.Where = "external at " + externalWhere(pg.External)
		out.Postgres.TLS = pg.External.TLS
	}
	out.Postgres.Backups = "none"
	if pg.Install && pg.Backup.Enabled() {
		out.Postgres.Backups = fmt.Sprintf("base backups (%s) and WAL to %s, kept %s", pg.Backup.Schedule, pg.Backup.DestinationPath, pg.Backup.RetentionPolicy)
	} else if !pg.Install {
		out.Postgres.Backups = "the external server's (make restore-drill exercises a base backup of the local store)"
	}
	out.Redis.Auth = "ACL users: app (no @dangerous: KEYS, FLUSHALL...), default (operators)"
	switch {
	case set.Redis != nil:
		out.Redis.Where = fmt.Sprintf("Valkey chart %s: 1 primary + %d replica(s), sentinel %v", datastore.ValkeyChartVersion, rd.Replicas, rd.Sentinel)
		out.Redis.TLS = true
		out.Redis.Backups = fmt.Sprintf("appendonly %v, snapshots %q on a %s volume", rd.Persistence.AppendOnly, rd.Persistence.Snapshots, rd.Persistence.Size)
	default:
		out.Redis.Where = "external at " + externalWhere(rd.External)
		out.Redis.TLS = rd.External.TLS
		out.Redis.Backups = "the external server's"
	}
	return out
}

func externalWhere(e config.External) string {
	if e.Port == 0 {
		return e.Host + " (the local cluster's, port handed over at run time)"
	}
	return e.Address()
}

// meshPodAnnotations keep kubelet probes working under STRICT mTLS: the
// injector rewrites HTTP probes to the sidecar agent (port 15020), which
// calls the app over localhost, so the kubelet never needs a mesh
// certificate. The app starts only after its sidecar is ready.
var meshPodAnnotations = map[string]string{
	"sidecar.istio.io/rewriteAppHTTPProbers": "true",
	"proxy.istio.io/config":                  `{"holdApplicationUntilProxyStarts": true}`,
}

// storeNamespaces are the namespaces of the installed stores.
func storeNamespaces(s datastore.Set) []string {
	var out []string
	if s.Postgres != nil {
		out = append(out, s.Postgres.Namespace)
	}
	if s.Redis != nil && !slices.Contains(out, s.Redis.Namespace) {
		out = append(out, s.Redis.Namespace)
	}
	return out
}

// edgeRoutes are the gateway's calls of the graph with their rate limits.
// IdentityRoute is how the edge publishes an installed Keycloak on the
// issuer's host (nil when none is installed): its public paths, to its
// Service, verified with the trust bundle, with the edge's rate limit.
func IdentityRoute(cfg *config.Config) *edge.IdentityRoute {
	if !cfg.Identity.InstallsKeycloak() {
		return nil
	}
	host, _ := cfg.Identity.IssuerHostPort()
	return &edge.IdentityRoute{Host: host, Service: cfg.Identity.KeycloakServiceHost(),
		Port: config.KeycloakHTTPSPort, Paths: identity.KeycloakPublicPaths, CASecret: naming.TrustBundle,
		Requests: cfg.Edge.RateLimit.Requests, PerSeconds: cfg.Edge.RateLimit.PerSeconds}
}

func edgeRoutes(cfg *config.Config) []edge.Route {
	var out []edge.Route
	for _, e := range cfg.Graph.Edges() {
		if e.From.Name != graph.GatewayName {
			continue
		}
		limit := cfg.Edge.RouteRateLimit(e.To.Name)
		r := edge.Route{Name: e.To.Name, Namespace: e.To.Namespace, Port: e.To.Port, Requests: limit.Requests, PerSeconds: limit.PerSeconds}
		for _, c := range e.Calls {
			r.Operations = append(r.Operations, edge.Operation{Methods: c.Methods, Paths: c.Paths, Scopes: c.Scopes})
		}
		out = append(out, r)
	}
	return out
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
