// Package pki provides PrivateCA: cert-manager (installed from its pinned
// chart or adopted), a self-signed bootstrap ClusterIssuer, a root CA
// Certificate (ECDSA P-256), the CA ClusterIssuer it backs, and leaf
// Certificates for the ingress gateway and for services that serve TLS
// themselves. Every certificate renews when a third of its life is left.
package pki

import (
	"fmt"
	"slices"
	"time"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	k8smeta "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bulwark-platform/bulwark/components/component"
	"github.com/bulwark-platform/bulwark/components/kobject"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// Token is the component's type token.
const Token = "bulwark:pki:PrivateCA"

// The istio-csr chart, pinned once: it signs Istio workload certificates
// with the private CA when Args.IstioCSR is set.
const (
	IstioCSRChart   = "cert-manager-istio-csr"
	IstioCSRVersion = "v0.14.0"
	// IstioCSRAddress is where istiod's workloads request certificates.
	IstioCSRAddress = "cert-manager-istio-csr.cert-manager.svc:443"
)

// The cert-manager chart, pinned once. Its CRDs (deploy/crds of the Go
// module at the same version) are what the local cluster installs.
const (
	ChartRepo    = "https://charts.jetstack.io"
	ChartName    = "cert-manager"
	ChartVersion = "v1.21.2"
)

// DefaultNamespace is cert-manager's namespace unless Args say otherwise.
const DefaultNamespace = "cert-manager"

// Names of the issuers and the root CA secret.
const (
	BootstrapIssuer = naming.BootstrapIssuer
	CAIssuer        = naming.CAIssuer
	RootCASecret    = naming.RootCASecret
)

// Args configures PrivateCA.
type Args struct {
	// Environment names the CA ("Bulwark <environment> root CA").
	Environment string
	// Install installs cert-manager from its pinned chart; false adopts
	// a cert-manager that already runs.
	Install bool
	// Namespace is cert-manager's namespace, where the root CA's secret
	// lives; default "cert-manager".
	Namespace string
	// Replicas of the cert-manager controller and webhook when installed.
	Replicas int
	// RootCADuration and LeafDuration; leaves must be shorter-lived.
	RootCADuration, LeafDuration time.Duration
	// LeafIssuer signs the leaf certificates; default CAIssuer.
	LeafIssuer string
	// Certificates are the leaf certificates to issue.
	Certificates []Certificate
	// IstioCSR installs cert-manager istio-csr so that Istio's workload
	// certificates come from the private CA; MeshRootNamespace and
	// TrustDomain configure it.
	IstioCSR                       bool
	MeshRootNamespace, TrustDomain string
	DependsOn                      []pulumi.Resource
	Provider                       pulumi.ProviderResource
}

// Certificate is a leaf certificate request.
type Certificate struct {
	Name, Namespace, SecretName string
	DNSNames                    []string
}

// PrivateCA is the certificate authority chain and its certificates.
type PrivateCA struct {
	pulumi.ResourceState
	// CAIssuer is the name of the ClusterIssuer that signs with the root CA.
	CAIssuer pulumi.StringOutput
	// MeshCA is what the mesh's control plane must wait for before it
	// starts: istio-csr when enabled, else nothing.
	MeshCA []pulumi.Resource
}

// withDefaults fills only the fields left unset.
func (a *Args) withDefaults() *Args {
	out := *a
	if out.Namespace == "" {
		out.Namespace = DefaultNamespace
	}
	if out.LeafIssuer == "" {
		out.LeafIssuer = CAIssuer
	}
	if out.Replicas == 0 {
		out.Replicas = 1
	}
	return &out
}

func (a *Args) validate() error {
	var l fielderr.List
	if a.RootCADuration < time.Hour {
		l.Add(fielderr.ErrOutOfRange, "rootCADuration", "must be at least 1h, got %s", a.RootCADuration)
	}
	if a.LeafDuration < time.Hour || a.LeafDuration >= a.RootCADuration {
		l.Add(fielderr.ErrOutOfRange, "leafDuration", "need 1h <= leaf (%s) < root CA (%s)", a.LeafDuration, a.RootCADuration)
	}
	if len(validation.IsDNS1123Label(a.Namespace)) > 0 {
		l.Add(fielderr.ErrInvalid, "namespace", "%q is not a DNS-1123 label", a.Namespace)
	}
	if a.Replicas < 1 {
		l.Add(fielderr.ErrOutOfRange, "replicas", "must be at least 1, got %d", a.Replicas)
	}
	seen := map[string]int{}
	for i, c := range a.Certificates {
		p := fmt.Sprintf("certificates[%d]", i)
		id := c.Namespace + "/" + c.Name
		if len(validation.IsDNS1123Label(c.Name)) > 0 {
			l.Add(fielderr.ErrInvalid, p+".name", "%q is not a DNS-1123 label", c.Name)
		}
		if len(validation.IsDNS1123Label(c.Namespace)) > 0 {
			l.Add(fielderr.ErrInvalid, p+".namespace", "%q is not a DNS-1123 label", c.Namespace)
		}
		if len(validation.IsDNS1123Subdomain(c.SecretName)) > 0 {
			l.Add(fielderr.ErrInvalid, p+".secretName", "%q is not a Secret name", c.SecretName)
		}
		if len(c.DNSNames) == 0 {
			l.Add(fielderr.ErrRequired, p+".dnsNames", "at least one DNS name is required")
		}
		if j, dup := seen[id]; dup {
			l.Add(fielderr.ErrDuplicate, p, "%s is also certificates[%d]", id, j)
		}
		seen[id] = i
	}
	if a.IstioCSR && (a.MeshRootNamespace == "" || a.TrustDomain == "") {
		l.Add(fielderr.ErrRequired, "istioCSR", "meshRootNamespace and trustDomain are required with istio-csr")
	}
	component.RequireProvider(&l, a.Provider)
	return l.Err()
}

// RenewBefore is a third of a certificate's lifetime: cert-manager renews
// with that much left, so a failed renewal has time to be noticed.
func RenewBefore(lifetime time.Duration) time.Duration { return lifetime / 3 }

// New registers PrivateCA.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*PrivateCA, error) {
	c := &PrivateCA{}
	a, err := component.Begin(ctx, c, Token, name, args, (*Args).withDefaults, (*Args).validate, opts...)
	if err != nil {
		return nil, err
	}
	base := component.Children(c, a.Provider)
	ready := a.DependsOn
	if a.Install {
		chart, err := installCertManager(ctx, name, a, base)
		if err != nil {
			return nil, fmt.Errorf("pki %s: %w", name, err)
		}
		// Issuers are validated by cert-manager's webhook: creating them
		// before it serves fails (cert-manager#2908). Depending on the
		// chart waits for all of its resources, the webhook Deployment's
		// readiness and the startupapicheck Job's completion included.
		ready = slices.Concat(ready, []pulumi.Resource{chart})
	}
	after := func(deps ...pulumi.Resource) []pulumi.ResourceOption {
		return component.With(base, pulumi.DependsOn(slices.Concat(ready, deps)))
	}
	objs := Objects(a)
	bootstrap, err := kobject.Register(ctx, name+"-bootstrap-issuer", kinds.ClusterIssuer, objs.Bootstrap, after()...)
	if err != nil {
		return nil, err
	}
	root, err := kobject.Register(ctx, name+"-root-ca", kinds.Certificate, objs.Root, after(bootstrap)...)
	if err != nil {
		return nil, err
	}
	ca, err := kobject.Register(ctx, name+"-ca-issuer", kinds.ClusterIssuer, objs.CA, after(root)...)
	if err != nil {
		return nil, err
	}
	for _, cert := range objs.Leaves {
		if _, err := kobject.Register(ctx, fmt.Sprintf("%s-cert-%s-%s", name, cert.Namespace, cert.Name), kinds.Certificate, cert, after(ca)...); err != nil {
			return nil, err
		}
	}
	if a.IstioCSR {
		csr, err := installIstioCSR(ctx, name, a, after(ca))
		if err != nil {
			return nil, fmt.Errorf("pki %s: %w", name, err)
		}
		c.MeshCA = []pulumi.Resource{csr}
	}
	c.CAIssuer = pulumi.String(CAIssuer).ToStringOutput()
	if err := component.Finish(ctx, c, pulumi.Map{"caIssuer": c.CAIssuer, "certificates": pulumi.Int(len(objs.Leaves))}); err != nil {
		return nil, err
	}
	return c, nil
}

// Chain is the CA chain and leaf certificates as typed cert-manager objects.
type Chain struct {
	Bootstrap, CA kinds.Object[cmv1.IssuerSpec]
	Root          kinds.Object[cmv1.CertificateSpec]
	Leaves        []kinds.Object[cmv1.CertificateSpec]
}

// Objects is the chain a (defaulted, valid) Args asks for.
func Objects(a *Args) Chain {
	issuer := func(n string) cmmeta.IssuerReference {
		return cmmeta.IssuerReference{Name: n, Kind: "ClusterIssuer", Group: "cert-manager.io"}
	}
	ch := Chain{
		Bootstrap: kinds.ClusterIssuer.Of(BootstrapIssuer, "", nil, cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{SelfSigned: &cmv1.SelfSignedIssuer{}}}),
		Root: kinds.Certificate.Of(RootCASecret, a.Namespace, nil, cmv1.CertificateSpec{
			IsCA:        true,
			CommonName:  fmt.Sprintf("Bulwark %s root CA", a.Environment),
			SecretName:  RootCASecret,
			Duration:    &k8smeta.Duration{Duration: a.RootCADuration},
			RenewBefore: &k8smeta.Duration{Duration: RenewBefore(a.RootCADuration)},
			PrivateKey:  ecdsaKey(),
			Usages:      []cmv1.KeyUsage{cmv1.UsageCertSign, cmv1.UsageCRLSign, cmv1.UsageDigitalSignature},
			IssuerRef:   issuer(BootstrapIssuer),
		}),
		CA: kinds.ClusterIssuer.Of(CAIssuer, "", nil, cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: RootCASecret}}}),
	}
	for _, cert := range a.Certificates {
		ch.Leaves = append(ch.Leaves, kinds.Certificate.Of(cert.Name, cert.Namespace, nil, cmv1.CertificateSpec{
			CommonName:  cert.DNSNames[0],
			DNSNames:    cert.DNSNames,
			SecretName:  cert.SecretName,
			Duration:    &k8smeta.Duration{Duration: a.LeafDuration},
			RenewBefore: &k8smeta.Duration{Duration: RenewBefore(a.LeafDuration)},
			PrivateKey:  ecdsaKey(),
			Usages:      []cmv1.KeyUsage{cmv1.UsageServerAuth, cmv1.UsageDigitalSignature},
			IssuerRef:   issuer(a.LeafIssuer),
		}))
	}
	return ch
}

func ecdsaKey() *cmv1.CertificatePrivateKey {
	return &cmv1.CertificatePrivateKey{Algorithm: cmv1.ECDSAKeyAlgorithm, Size: 256, RotationPolicy: cmv1.RotationPolicyAlways}
}

// chartValues is the part of the cert-manager chart's values Bulwark sets.
type chartValues struct {
	CRDs struct {
		Enabled bool `json:"enabled"`
		// Keep the CRDs (and so every certificate) when the chart goes.
		Keep bool `json:"keep"`
	} `json:"crds"`
	ReplicaCount int `json:"replicaCount"`
	Webhook      struct {
		ReplicaCount int `json:"replicaCount"`
	} `json:"webhook"`
	PodDisruptionBudget struct {
		Enabled bool `json:"enabled"`
	} `json:"podDisruptionBudget"`
	Prometheus struct {
		Enabled bool `json:"enabled"`
	} `json:"prometheus"`
}

// installCertManager installs the chart into a.Namespace, which must exist
// (the program creates it with its Pod Security level).
func installCertManager(ctx *pulumi.Context, name string, a *Args, base []pulumi.ResourceOption) (pulumi.Resource, error) {
	var v chartValues
	v.CRDs.Enabled, v.CRDs.Keep = true, true
	v.ReplicaCount, v.Webhook.ReplicaCount = a.Replicas, a.Replicas
	v.PodDisruptionBudget.Enabled = a.Replicas > 1
	v.Prometheus.Enabled = true
	return kobject.InstallChart(ctx, name+"-cert-manager", kobject.Chart{Repo: ChartRepo, Name: ChartName, Version: ChartVersion},
		a.Namespace, v, component.With(base, pulumi.DependsOn(a.DependsOn))...)
}

// istioCSRValues is the part of the istio-csr chart's values Bulwark sets.
type istioCSRValues struct {
	App struct {
		CertManager struct {
			Namespace string `json:"namespace"`
			Issuer    struct {
				Name  string `json:"name"`
				Kind  string `json:"kind"`
				Group string `json:"group"`
			} `json:"issuer"`
		} `json:"certmanager"`
		TLS struct {
			TrustDomain string `json:"trustDomain"`
		} `json:"tls"`
		Istio struct {
			Namespace string `json:"namespace"`
		} `json:"istio"`
	} `json:"app"`
}

func installIstioCSR(ctx *pulumi.Context, name string, a *Args, opts []pulumi.ResourceOption) (pulumi.Resource, error) {
	var v istioCSRValues
	v.App.CertManager.Namespace = a.MeshRootNamespace
	v.App.CertManager.Issuer.Name, v.App.CertManager.Issuer.Kind, v.App.CertManager.Issuer.Group = CAIssuer, "ClusterIssuer", "cert-manager.io"
	v.App.TLS.TrustDomain = a.TrustDomain
	v.App.Istio.Namespace = a.MeshRootNamespace
	return kobject.InstallChart(ctx, name+"-istio-csr", kobject.Chart{Repo: ChartRepo, Name: IstioCSRChart, Version: IstioCSRVersion},
		a.Namespace, v, opts...)
}
