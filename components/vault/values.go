package vault

import (
	"fmt"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	k8smeta "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bulwark-platform/bulwark/components/kobject"
	"github.com/bulwark-platform/bulwark/components/pki"
	"github.com/bulwark-platform/bulwark/internal/kinds"
)

// distribution is what differs between OpenBao's chart and HashiCorp's.
type distribution struct {
	chart kobject.Chart
	// release is the Helm release and so, the chart's full name: every
	// object and Service is named after it.
	release string
	// version is the server's and the injected agents' image tag.
	version string
	// home is the image's directory: <home>/data holds raft, <home>/tls
	// the mounted certificate.
	home string
	// env prefixes the CLI's variables (BAO_CACERT, VAULT_CACERT) and the
	// chart's pod-name variable.
	env string
	// mlock: HashiCorp Vault locks memory unless told not to, which needs
	// IPC_LOCK; OpenBao dropped mlock (and its option).
	mlock bool
	// declarativeAudit: OpenBao (2.4+) declares audit devices in the
	// server configuration and by default refuses to create them through
	// the API.
	declarativeAudit bool
}

func distributionOf(name string) distribution {
	if name == HashiCorp {
		return distribution{
			chart:   kobject.Chart{Repo: HashiCorpChartRepo, Name: HashiCorpChartName, Version: HashiCorpChartVersion, Release: "vault"},
			release: "vault", version: HashiCorpVersion, home: "/vault", env: "VAULT", mlock: true,
		}
	}
	return distribution{
		chart:   kobject.Chart{Repo: OpenBaoChartRepo, Name: OpenBaoChartName, Version: OpenBaoChartVersion, Release: "openbao"},
		release: "openbao", version: OpenBaoVersion, home: "/openbao", env: "BAO", declarativeAudit: true,
	}
}

func (d distribution) serverTLSSecret() string   { return d.release + "-server-tls" }
func (d distribution) injectorTLSSecret() string { return d.release + "-injector-tls" }
func (d distribution) tlsDir() string            { return d.home + "/tls" }

// Certificates are the installed Vault's certificates from the private
// CA: the injector's webhook always, the server's in HA mode. The server's
// names cover every Service the chart creates (main, active, standby, the
// headless one and each pod behind it, which raft peers join through) and
// 127.0.0.1, where the CLI inside a pod reaches its own server.
func Certificates(a *Args) []kinds.Object[cmv1.CertificateSpec] {
	d := distributionOf(a.Distribution)
	svc := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, n, n+"."+a.Namespace, n+"."+a.Namespace+".svc", n+"."+a.Namespace+".svc."+a.ClusterDomain)
		}
		return out
	}
	cert := func(secret string, dnsNames, ips []string) kinds.Object[cmv1.CertificateSpec] {
		return kinds.Certificate.Of(secret, a.Namespace, nil, cmv1.CertificateSpec{
			CommonName:  dnsNames[0],
			DNSNames:    dnsNames,
			IPAddresses: ips,
			SecretName:  secret,
			Duration:    &k8smeta.Duration{Duration: a.CertificateDuration},
			RenewBefore: &k8smeta.Duration{Duration: pki.RenewBefore(a.CertificateDuration)},
			PrivateKey:  &cmv1.CertificatePrivateKey{Algorithm: cmv1.ECDSAKeyAlgorithm, Size: 256, RotationPolicy: cmv1.RotationPolicyAlways},
			Usages:      []cmv1.KeyUsage{cmv1.UsageServerAuth, cmv1.UsageDigitalSignature},
			IssuerRef:   cmmeta.IssuerReference{Name: a.CAIssuer, Kind: "ClusterIssuer", Group: "cert-manager.io"},
		})
	}
	var out []kinds.Object[cmv1.CertificateSpec]
	if a.Mode == HA {
		internal := d.release + "-internal"
		names := svc(d.release, d.release+"-active", d.release+"-standby", internal)
		names = append(names, svc("*."+internal)...)
		names = append(names, "localhost")
		out = append(out, cert(d.serverTLSSecret(), names, []string{"127.0.0.1"}))
	}
	out = append(out, cert(d.injectorTLSSecret(), svc(d.release+"-agent-injector-svc"), nil))
	return out
}

// Values is the part of the chart's values Bulwark sets (both charts
// share these keys).
type Values struct {
	Global struct {
		// TLSDisable false makes the chart's probes, addresses and the
		// injected agents use https.
		TLSDisable bool `json:"tlsDisable"`
	} `json:"global"`
	Server   ServerValues   `json:"server"`
	Injector InjectorValues `json:"injector"`
}

// ServerValues are the server's.
type ServerValues struct {
	Image     ImageTag                    `json:"image"`
	LogFormat string                      `json:"logFormat"`
	Resources corev1.ResourceRequirements `json:"resources"`
	Dev       struct {
		Enabled bool `json:"enabled"`
	} `json:"dev"`
	HA *HAValues `json:"ha,omitempty"`
	// DataStorage is each raft peer's volume (HA).
	DataStorage *Storage `json:"dataStorage,omitempty"`
	// AuditStorage is HashiCorp Vault's audit volume (HA with audit).
	AuditStorage *Storage `json:"auditStorage,omitempty"`
	StatefulSet  struct {
		Annotations     map[string]string `json:"annotations,omitempty"`
		SecurityContext SecurityContexts  `json:"securityContext"`
	} `json:"statefulSet"`
	// Service.Annotations go on the main, active and standby Services.
	Service *struct {
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"service,omitempty"`
	Volumes              []corev1.Volume      `json:"volumes"`
	VolumeMounts         []corev1.VolumeMount `json:"volumeMounts"`
	ExtraEnvironmentVars map[string]string    `json:"extraEnvironmentVars,omitempty"`
}

// HAValues run the server as a raft cluster.
type HAValues struct {
	Enabled  bool `json:"enabled"`
	Replicas int  `json:"replicas"`
	// APIAddr is each pod's own name under the headless Service, which
	// the server certificate covers (the chart's default, the pod IP, is
	// not a name a certificate holds).
	APIAddr string `json:"apiAddr"`
	Raft    struct {
		Enabled   bool `json:"enabled"`
		SetNodeID bool `json:"setNodeId"`
		// Config is the server configuration file (HCL): HAConfig's.
		Config string `json:"config"`
	} `json:"raft"`
	DisruptionBudget struct {
		Enabled        bool `json:"enabled"`
		MaxUnavailable int  `json:"maxUnavailable"`
	} `json:"disruptionBudget"`
}

// Storage is a volume claim template.
type Storage struct {
	Enabled      bool   `json:"enabled"`
	Size         string `json:"size"`
	StorageClass string `json:"storageClass,omitempty"`
}

// InjectorValues are the agent injector's.
type InjectorValues struct {
	Enabled   bool   `json:"enabled"`
	Replicas  int    `json:"replicas"`
	LogFormat string `json:"logFormat"`
	// AuthPath is the auth mount injected agents log in at by default.
	AuthPath string `json:"authPath"`
	// AgentImage is the injected agent's: the server's version.
	AgentImage ImageTag `json:"agentImage"`
	// Certs.SecretName is the webhook's certificate from the private CA;
	// cert-manager's CA injector fills the webhook's caBundle (Webhook
	// annotation), so the injector needs no certificate of its own making.
	Certs struct {
		SecretName string `json:"secretName"`
	} `json:"certs"`
	Webhook struct {
		Annotations map[string]string `json:"annotations"`
	} `json:"webhook"`
	Resources           corev1.ResourceRequirements `json:"resources"`
	SecurityContext     SecurityContexts            `json:"securityContext"`
	PodDisruptionBudget *struct {
		MaxUnavailable int `json:"maxUnavailable"`
	} `json:"podDisruptionBudget,omitempty"`
}

// ImageTag sets an image's tag, keeping the chart's registry and repository.
type ImageTag struct {
	Tag string `json:"tag"`
}

// SecurityContexts are a pod's and its container's.
type SecurityContexts struct {
	Pod       *corev1.PodSecurityContext `json:"pod"`
	Container *corev1.SecurityContext    `json:"container"`
}

// ChartValues builds the chart values for a (defaulted, valid, installed) Args.
func ChartValues(a *Args) Values {
	d := distributionOf(a.Distribution)
	var v Values
	v.Global.TLSDisable = a.Mode == Dev
	s := &v.Server
	s.Image.Tag = d.version
	s.LogFormat = "json"
	s.Resources = requirements(a.ServerResources)
	s.StatefulSet.SecurityContext = restricted()
	// The chart copies its configuration to /tmp before starting the
	// server: /tmp is the one writable place of a read-only root.
	s.Volumes = []corev1.Volume{tmpVolume("16Mi")}
	s.VolumeMounts = []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
	switch a.Mode {
	case Dev:
		s.Dev.Enabled = true
	case HA:
		ha := &HAValues{Enabled: true, Replicas: a.Replicas}
		ha.APIAddr = fmt.Sprintf("https://$(%s_K8S_POD_NAME).%s-internal.%s.svc:%d", d.env, d.release, a.Namespace, APIPort)
		ha.Raft.Enabled, ha.Raft.SetNodeID = true, true
		ha.Raft.Config = HAConfig(a).HCL()
		// Losing (replicas-1)/2 peers keeps a majority: 1 of 3, 2 of 5.
		ha.DisruptionBudget.Enabled, ha.DisruptionBudget.MaxUnavailable = true, (a.Replicas-1)/2
		s.HA = ha
		s.DataStorage = &Storage{Enabled: true, Size: a.StorageSize, StorageClass: a.StorageClass}
		if a.Audit && !d.declarativeAudit {
			s.AuditStorage = &Storage{Enabled: true, Size: a.AuditStorageSize, StorageClass: a.StorageClass}
		}
		s.Volumes = append(s.Volumes, corev1.Volume{Name: "tls", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: d.serverTLSSecret(), DefaultMode: ptr(int32(0o440))},
		}})
		s.VolumeMounts = append(s.VolumeMounts, corev1.VolumeMount{Name: "tls", MountPath: d.tlsDir(), ReadOnly: true})
		// The CLI in a pod (bao operator init, raft list-peers) trusts the
		// private CA.
		s.ExtraEnvironmentVars = map[string]string{d.env + "_CACERT": d.tlsDir() + "/ca.crt"}
		// Pods are Ready once initialized and unsealed and the -active
		// Service has an endpoint once one leads: both happen after the
		// operator initializes the cluster, which Bulwark does not do, so
		// Pulumi must not wait for them (it would time out on a new
		// cluster). The injector's Deployment is still awaited.
		skip := map[string]string{"pulumi.com/skipAwait": "true"}
		s.StatefulSet.Annotations = skip
		s.Service = &struct {
			Annotations map[string]string `json:"annotations,omitempty"`
		}{Annotations: skip}
	}
	in := &v.Injector
	in.Enabled = true
	in.Replicas = a.InjectorReplicas
	in.LogFormat = "json"
	in.AuthPath = a.InjectorAuthPath
	in.AgentImage.Tag = d.version
	in.Certs.SecretName = d.injectorTLSSecret()
	in.Webhook.Annotations = map[string]string{"cert-manager.io/inject-ca-from": a.Namespace + "/" + d.injectorTLSSecret()}
	in.Resources = requirements(a.InjectorResources)
	in.SecurityContext = restricted()
	if a.InjectorReplicas > 1 {
		in.PodDisruptionBudget = &struct {
			MaxUnavailable int `json:"maxUnavailable"`
		}{MaxUnavailable: 1}
	}
	return v
}

// restricted are security contexts that meet Pod Security "restricted"
// (non-root, no privilege escalation, no capabilities, the runtime's
// seccomp profile), with a read-only root filesystem besides. User 100
// and group 1000 are the images' own.
func restricted() SecurityContexts {
	return SecurityContexts{
		Pod: &corev1.PodSecurityContext{
			RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(100)), RunAsGroup: ptr(int64(1000)), FSGroup: ptr(int64(1000)),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Container: &corev1.SecurityContext{
			RunAsNonRoot: ptr(true), AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true),
			Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
}

func tmpVolume(size string) corev1.Volume {
	q := resource.MustParse(size)
	return corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &q}}}
}

// requirements turns validated quantities into the container's resources.
func requirements(r Resources) corev1.ResourceRequirements {
	list := func(cpu, mem, eph string) corev1.ResourceList {
		return corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem),
			corev1.ResourceEphemeralStorage: resource.MustParse(eph),
		}
	}
	return corev1.ResourceRequirements{
		Requests: list(r.RequestsCPU, r.RequestsMemory, r.RequestsEphemeralStorage),
		Limits:   list(r.LimitsCPU, r.LimitsMemory, r.LimitsEphemeralStorage),
	}
}

func ptr[T any](v T) *T { return &v }
