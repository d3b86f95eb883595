// Package vault provides SecretsStore: the platform's Vault, either
// installed from its pinned Helm chart (OpenBao by default, HashiCorp Vault
// selectable; both speak the same API) or adopted (a shared or managed
// Vault outside Bulwark's hands).
//
// Installed, it is one namespace enforcing Pod Security "restricted", a
// server certificate from the private CA, and the chart: a dev-mode server
// (local and ci only) or an HA cluster on integrated raft storage with TLS
// on every listener, raft peers that join each other over TLS checked
// against the private CA, a PodDisruptionBudget that keeps the raft quorum,
// the file audit device to stdout (declared in OpenBao's configuration) and
// the agent injector serving a certificate of the private CA.
//
// Adopted, it is only what an outside Vault's Kubernetes auth method needs
// from the cluster: a reviewer service account bound to exactly
// system:auth-delegator and a service-account token Secret for it, which
// the Vault layer reads (token and ca.crt) to configure the auth method.
package vault

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"time"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bulwark-platform/bulwark/components/component"
	"github.com/bulwark-platform/bulwark/components/kobject"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// Token is the component's type token.
const Token = "bulwark:vault:SecretsStore"

// Distributions: both speak Vault's API; the chart, images and the agent
// injector's annotation prefix differ.
const (
	OpenBao   = "openbao"
	HashiCorp = "vault"
)

// Modes of an installed Vault.
const (
	// Dev is one in-memory, unsealed server with a root token, over plain
	// HTTP: local and ci only (the configuration refuses it elsewhere).
	Dev = "dev"
	// HA is a raft cluster with TLS, audit and a disruption budget.
	HA = "ha"
)

// The OpenBao chart and images, pinned once. The chart's appVersion is
// v2.5.3; the server and the injected agents run OpenBao 2.5.5, the chart
// allowing the tag to be set. The injector (openbao-k8s) is the chart's own.
const (
	OpenBaoChartRepo    = "https://openbao.github.io/openbao-helm"
	OpenBaoChartName    = "openbao"
	OpenBaoChartVersion = "0.28.0"
	OpenBaoVersion      = "2.5.5"
)

// The HashiCorp Vault chart and images, pinned once: the chart's own
// defaults for 0.34.1 (Vault 2.0.4), set explicitly so the server and the
// injected agents run one version whatever the chart says.
const (
	HashiCorpChartRepo    = "https://helm.releases.hashicorp.com"
	HashiCorpChartName    = "vault"
	HashiCorpChartVersion = "0.34.1"
	HashiCorpVersion      = "2.0.4"
)

// Defaults.
const (
	DefaultNamespace = "vault"
	// DefaultReviewer is the adopted Vault's token reviewer service account.
	DefaultReviewer = "vault-auth-reviewer"
	// AuthDelegator is the one ClusterRole the reviewer is bound to: it
	// may create TokenReviews and SubjectAccessReviews, nothing else.
	AuthDelegator = "system:auth-delegator"
	// APIPort is where every Vault listens.
	APIPort = 8200
)

// AnnotationPrefix is the agent injector's pod annotation prefix for a
// distribution ("openbao.openbao.org/" or "vault.hashicorp.com/").
func AnnotationPrefix(distribution string) string {
	if distribution == HashiCorp {
		return "vault.hashicorp.com/"
	}
	return "openbao.openbao.org/"
}

// Args configures SecretsStore.
type Args struct {
	// Install installs Vault from its pinned chart; false adopts a Vault
	// that runs elsewhere (ExternalAddress) and creates only the token
	// reviewer its Kubernetes auth method needs.
	Install bool
	// Distribution is OpenBao (default) or HashiCorp.
	Distribution string
	// Mode is Dev or HA (default HA); installed only.
	Mode string
	// Replicas of the server: exactly 1 in dev mode, an odd number of at
	// least 3 in HA mode (raft needs a majority). Default 1 in dev, 3 in HA.
	Replicas int
	// Namespace of the installed Vault, created here; default "vault".
	Namespace string
	// Labels are extra labels of the created namespace (the program's
	// environment label); they may not override the Pod Security ones.
	Labels map[string]string
	// StorageSize and StorageClass are each raft peer's volume (HA);
	// default 10Gi on the cluster's default storage class.
	StorageSize, StorageClass string
	// Audit turns the audit device on (HA). OpenBao declares a file audit
	// device to stdout in its server configuration (its API refuses to
	// create audit devices unless told otherwise); HashiCorp Vault gets the
	// chart's audit volume, and the Vault layer enables the device through
	// the API.
	Audit bool
	// AuditStorageSize is HashiCorp Vault's audit volume; default 10Gi.
	AuditStorageSize string
	// InjectorReplicas of the agent injector; default 1.
	InjectorReplicas int
	// InjectorAuthPath is the Kubernetes auth mount injected agents log in
	// at unless a pod says otherwise; default "auth/kubernetes".
	InjectorAuthPath string
	// ServerResources and InjectorResources are the containers' requests
	// and limits; unset fields take defaults.
	ServerResources, InjectorResources Resources
	// CAIssuer is the ClusterIssuer of the private CA that signs the
	// server's and the injector's certificates; default naming.CAIssuer.
	CAIssuer string
	// CertificateDuration is the lifetime of those certificates (renewed
	// at a third); default 720h.
	CertificateDuration time.Duration
	// ClusterDomain is the cluster's DNS domain; default "cluster.local".
	ClusterDomain string
	// ExternalAddress is the adopted Vault's URL (http or https); required
	// when Install is false, refused when it is true.
	ExternalAddress string
	// ReviewerNamespace holds the reviewer service account and its token
	// Secret (adopted only; it must exist); default Namespace.
	ReviewerNamespace string
	// ReviewerServiceAccount names it; default DefaultReviewer.
	ReviewerServiceAccount string
	// DependsOn: the private CA's issuer (and the cert-manager chart) when
	// installed; the reviewer's namespace when adopted.
	DependsOn []pulumi.Resource
	Provider  pulumi.ProviderResource
}

// Resources are CPU, memory and ephemeral-storage requests and limits as
// Kubernetes quantities.
type Resources struct {
	RequestsCPU, RequestsMemory, RequestsEphemeralStorage string
	LimitsCPU, LimitsMemory, LimitsEphemeralStorage       string
}

// SecretsStore is the platform's Vault.
type SecretsStore struct {
	pulumi.ResourceState
	// Address is Vault's URL: the installed server's Service
	// (https://<release>.<namespace>.svc:8200, http in dev mode) or the
	// adopted Vault's.
	Address pulumi.StringOutput
	// Namespace is the installed Vault's namespace, or the reviewer's.
	Namespace pulumi.StringOutput
	// ReviewerSecret is <namespace>/<name> of the reviewer's token Secret
	// (adopted only, else empty): its token and ca.crt configure the
	// Kubernetes auth method.
	ReviewerSecret pulumi.StringOutput
	// TLSSecret is <namespace>/<name> of the server's certificate Secret
	// (installed HA only, else empty); its ca.crt is the CA clients trust.
	TLSSecret pulumi.StringOutput
	// Ready is what Vault's users wait for: the chart when installed, the
	// reviewer's binding and token Secret when adopted.
	Ready []pulumi.Resource
}

var authPathRe = regexp.MustCompile(`^auth/[a-z0-9]([-_a-z0-9]*[a-z0-9])?(/[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*$`)

// withDefaults fills only the fields left unset.
func (a *Args) withDefaults() *Args {
	out := *a
	out.Labels = maps.Clone(a.Labels)
	str := func(field *string, v string) {
		if *field == "" {
			*field = v
		}
	}
	str(&out.Distribution, OpenBao)
	str(&out.Mode, HA)
	str(&out.Namespace, DefaultNamespace)
	str(&out.StorageSize, "10Gi")
	str(&out.AuditStorageSize, "10Gi")
	str(&out.InjectorAuthPath, "auth/kubernetes")
	str(&out.CAIssuer, naming.CAIssuer)
	str(&out.ClusterDomain, "cluster.local")
	str(&out.ReviewerNamespace, out.Namespace)
	str(&out.ReviewerServiceAccount, DefaultReviewer)
	if out.Replicas == 0 {
		out.Replicas = 3
		if out.Mode == Dev {
			out.Replicas = 1
		}
	}
	if out.InjectorReplicas == 0 {
		out.InjectorReplicas = 1
	}
	if out.CertificateDuration == 0 {
		out.CertificateDuration = 720 * time.Hour
	}
	out.ServerResources.fill(Resources{
		RequestsCPU: "250m", RequestsMemory: "256Mi", RequestsEphemeralStorage: "64Mi",
		LimitsCPU: "1", LimitsMemory: "1Gi", LimitsEphemeralStorage: "256Mi",
	})
	out.InjectorResources.fill(Resources{
		RequestsCPU: "50m", RequestsMemory: "64Mi", RequestsEphemeralStorage: "16Mi",
		LimitsCPU: "250m", LimitsMemory: "128Mi", LimitsEphemeralStorage: "64Mi",
	})
	return &out
}

func (r *Resources) fill(d Resources) {
	for _, f := range []struct {
		field *string
		v     string
	}{
		{&r.RequestsCPU, d.RequestsCPU}, {&r.RequestsMemory, d.RequestsMemory}, {&r.RequestsEphemeralStorage, d.RequestsEphemeralStorage},
		{&r.LimitsCPU, d.LimitsCPU}, {&r.LimitsMemory, d.LimitsMemory}, {&r.LimitsEphemeralStorage, d.LimitsEphemeralStorage},
	} {
		if *f.field == "" {
			*f.field = f.v
		}
	}
}

func (a *Args) validate() error {
	var l fielderr.List
	if a.Distribution != OpenBao && a.Distribution != HashiCorp {
		l.Add(fielderr.ErrUnsupported, "distribution", "%q is not %q or %q", a.Distribution, OpenBao, HashiCorp)
	}
	if a.Install {
		a.validateInstall(&l)
	} else {
		a.validateAdopt(&l)
	}
	component.RequireProvider(&l, a.Provider)
	return l.Err()
}

func (a *Args) validateInstall(l *fielderr.List) {
	switch a.Mode {
	case Dev:
		if a.Replicas != 1 {
			l.Add(fielderr.ErrOutOfRange, "replicas", "dev mode runs exactly 1 replica, got %d", a.Replicas)
		}
		if a.Audit {
			l.Add(fielderr.ErrConflict, "audit", "a dev-mode server has no configuration file to declare an audit device in; audit is for ha mode")
		}
	case HA:
		if a.Replicas < 3 || a.Replicas%2 == 0 {
			l.Add(fielderr.ErrOutOfRange, "replicas", "ha mode (raft) needs an odd number of at least 3 replicas, got %d", a.Replicas)
		}
		positiveQuantity(l, "storageSize", a.StorageSize)
		if a.Distribution == HashiCorp && a.Audit {
			positiveQuantity(l, "auditStorageSize", a.AuditStorageSize)
		}
		if a.StorageClass != "" && len(validation.IsDNS1123Subdomain(a.StorageClass)) > 0 {
			l.Add(fielderr.ErrInvalid, "storageClass", "%q is not a storage class name", a.StorageClass)
		}
	default:
		l.Add(fielderr.ErrUnsupported, "mode", "%q is not %q or %q", a.Mode, Dev, HA)
	}
	if len(validation.IsDNS1123Label(a.Namespace)) > 0 {
		l.Add(fielderr.ErrInvalid, "namespace", "%q is not a DNS-1123 label", a.Namespace)
	}
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		if _, reserved := podSecurityLabels()[k]; reserved {
			l.Add(fielderr.ErrForbidden, "labels."+k, "reserved for Pod Security Admission")
		}
	}
	if a.InjectorReplicas < 1 {
		l.Add(fielderr.ErrOutOfRange, "injectorReplicas", "must be at least 1, got %d", a.InjectorReplicas)
	}
	if !authPathRe.MatchString(a.InjectorAuthPath) {
		l.Add(fielderr.ErrInvalid, "injectorAuthPath", "%q is not an auth mount such as \"auth/bulwark/prod/kubernetes\"", a.InjectorAuthPath)
	}
	a.ServerResources.validate(l, "serverResources")
	a.InjectorResources.validate(l, "injectorResources")
	if len(validation.IsDNS1123Subdomain(a.CAIssuer)) > 0 {
		l.Add(fielderr.ErrInvalid, "caIssuer", "%q is not a ClusterIssuer name", a.CAIssuer)
	}
	if a.CertificateDuration < time.Hour {
		l.Add(fielderr.ErrOutOfRange, "certificateDuration", "must be at least 1h, got %s", a.CertificateDuration)
	}
	if len(validation.IsDNS1123Subdomain(a.ClusterDomain)) > 0 {
		l.Add(fielderr.ErrInvalid, "clusterDomain", "%q is not a DNS domain", a.ClusterDomain)
	}
	if a.ExternalAddress != "" {
		l.Add(fielderr.ErrConflict, "externalAddress", "an installed Vault's address is its Service's; externalAddress is for install false")
	}
}

func (a *Args) validateAdopt(l *fielderr.List) {
	switch u, err := url.Parse(a.ExternalAddress); {
	case a.ExternalAddress == "":
		l.Add(fielderr.ErrRequired, "externalAddress", "an adopted Vault needs its address")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || (u.Path != "" && u.Path != "/"):
		l.Add(fielderr.ErrInvalid, "externalAddress", "must be an http(s) URL such as \"https://vault.example.com:8200\", got %q", a.ExternalAddress)
	}
	if len(validation.IsDNS1123Label(a.ReviewerNamespace)) > 0 {
		l.Add(fielderr.ErrInvalid, "reviewerNamespace", "%q is not a DNS-1123 label", a.ReviewerNamespace)
	}
	if len(validation.IsDNS1123Label(a.ReviewerServiceAccount)) > 0 {
		l.Add(fielderr.ErrInvalid, "reviewerServiceAccount", "%q is not a DNS-1123 label", a.ReviewerServiceAccount)
	}
}

func positiveQuantity(l *fielderr.List, field, v string) (resource.Quantity, bool) {
	q, err := resource.ParseQuantity(v)
	if err != nil || q.Sign() <= 0 {
		l.Add(fielderr.ErrInvalid, field, "%q is not a positive Kubernetes quantity", v)
		return q, false
	}
	return q, true
}

func (r Resources) validate(l *fielderr.List, path string) {
	for _, p := range []struct{ name, req, lim string }{
		{"CPU", r.RequestsCPU, r.LimitsCPU}, {"Memory", r.RequestsMemory, r.LimitsMemory},
		{"EphemeralStorage", r.RequestsEphemeralStorage, r.LimitsEphemeralStorage},
	} {
		req, okReq := positiveQuantity(l, path+".requests"+p.name, p.req)
		lim, okLim := positiveQuantity(l, path+".limits"+p.name, p.lim)
		if okReq && okLim && req.Cmp(lim) > 0 {
			l.Add(fielderr.ErrConflict, path+".requests"+p.name, "the request %s exceeds the limit %s", p.req, p.lim)
		}
	}
}

// podSecurityLabels enforce, audit and warn "restricted": the chart's
// pods meet it with the security contexts set in Values.
func podSecurityLabels() map[string]string {
	out := map[string]string{}
	for _, mode := range []string{"enforce", "audit", "warn"} {
		out["pod-security.kubernetes.io/"+mode] = "restricted"
		out["pod-security.kubernetes.io/"+mode+"-version"] = "latest"
	}
	return out
}

// New registers SecretsStore.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*SecretsStore, error) {
	c := &SecretsStore{}
	a, err := component.Begin(ctx, c, Token, name, args, (*Args).withDefaults, (*Args).validate, opts...)
	if err != nil {
		return nil, err
	}
	base := component.Children(c, a.Provider)
	var outputs pulumi.Map
	if a.Install {
		outputs, err = install(ctx, c, name, a, base)
	} else {
		outputs, err = adopt(ctx, c, name, a, base)
	}
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", name, err)
	}
	if err := component.Finish(ctx, c, outputs); err != nil {
		return nil, err
	}
	return c, nil
}

func install(ctx *pulumi.Context, c *SecretsStore, name string, a *Args, base []pulumi.ResourceOption) (pulumi.Map, error) {
	d := distributionOf(a.Distribution)
	labels := maps.Clone(a.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, podSecurityLabels())
	labels[naming.PartOfLabel] = naming.PartOf
	ns, err := corev1.NewNamespace(ctx, name+"-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(a.Namespace), Labels: pulumi.ToStringMap(labels)},
	}, component.With(base, pulumi.DependsOn(a.DependsOn))...)
	if err != nil {
		return nil, err
	}
	nsName := ns.Metadata.Name().Elem()
	deps := []pulumi.Resource{ns}
	for _, cert := range Certificates(a) {
		r, err := kobject.RegisterIn(ctx, name+"-"+cert.Name, kinds.Certificate, cert, nsName,
			component.With(base, pulumi.DependsOn(a.DependsOn))...)
		if err != nil {
			return nil, err
		}
		deps = append(deps, r)
	}
	chart, err := kobject.InstallChart(ctx, name+"-"+d.release, d.chart, a.Namespace, ChartValues(a),
		component.With(base, pulumi.DependsOn(slices.Concat(a.DependsOn, deps)))...)
	if err != nil {
		return nil, err
	}
	c.Ready = []pulumi.Resource{chart}
	c.Address = pulumi.String(Address(a)).ToStringOutput()
	c.Namespace = nsName
	c.ReviewerSecret = pulumi.String("").ToStringOutput()
	tls := ""
	if a.Mode == HA {
		tls = a.Namespace + "/" + d.serverTLSSecret()
	}
	c.TLSSecret = pulumi.String(tls).ToStringOutput()
	return pulumi.Map{
		"installed": pulumi.Bool(true), "distribution": pulumi.String(a.Distribution), "mode": pulumi.String(a.Mode),
		"address": c.Address, "namespace": c.Namespace, "reviewerSecret": c.ReviewerSecret, "tlsSecret": c.TLSSecret,
	}, nil
}

// Address is the installed Vault's URL: its main Service, which standbys
// behind it forward to the active node.
func Address(a *Args) string {
	scheme := "https"
	if a.Mode == Dev {
		scheme = "http"
	}
	return fmt.Sprintf("%s://%s.%s.svc:%d", scheme, distributionOf(a.Distribution).release, a.Namespace, APIPort)
}

func adopt(ctx *pulumi.Context, c *SecretsStore, name string, a *Args, base []pulumi.ResourceOption) (pulumi.Map, error) {
	after := component.With(base, pulumi.DependsOn(a.DependsOn))
	labels := pulumi.StringMap{naming.PartOfLabel: pulumi.String(naming.PartOf)}
	sa, err := corev1.NewServiceAccount(ctx, name+"-reviewer", &corev1.ServiceAccountArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(a.ReviewerServiceAccount), Namespace: pulumi.String(a.ReviewerNamespace), Labels: labels},
		// Nothing runs as the reviewer: its only token is the Secret below.
		AutomountServiceAccountToken: pulumi.Bool(false),
	}, after...)
	if err != nil {
		return nil, err
	}
	saName := sa.Metadata.Name().Elem()
	binding, err := rbacv1.NewClusterRoleBinding(ctx, name+"-reviewer-binding", &rbacv1.ClusterRoleBindingArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(ReviewerBinding(a)), Labels: labels},
		RoleRef: &rbacv1.RoleRefArgs{
			ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("ClusterRole"), Name: pulumi.String(AuthDelegator),
		},
		Subjects: rbacv1.SubjectArray{&rbacv1.SubjectArgs{
			Kind: pulumi.String("ServiceAccount"), Name: saName, Namespace: pulumi.String(a.ReviewerNamespace),
		}},
	}, after...)
	if err != nil {
		return nil, err
	}
	// The token controller fills a service-account-token Secret with the
	// account's token and the cluster's CA certificate.
	secret, err := corev1.NewSecret(ctx, name+"-reviewer-token", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(ReviewerSecretName(a)), Namespace: pulumi.String(a.ReviewerNamespace), Labels: labels,
			Annotations: pulumi.StringMap{"kubernetes.io/service-account.name": saName},
		},
		Type: pulumi.String("kubernetes.io/service-account-token"),
	}, component.With(after, pulumi.DependsOn([]pulumi.Resource{sa}))...)
	if err != nil {
		return nil, err
	}
	c.Ready = []pulumi.Resource{binding, secret}
	c.Address = pulumi.String(a.ExternalAddress).ToStringOutput()
	c.Namespace = pulumi.String(a.ReviewerNamespace).ToStringOutput()
	c.ReviewerSecret = pulumi.Sprintf("%s/%s", secret.Metadata.Namespace().Elem(), secret.Metadata.Name().Elem())
	c.TLSSecret = pulumi.String("").ToStringOutput()
	return pulumi.Map{
		"installed": pulumi.Bool(false), "distribution": pulumi.String(a.Distribution),
		"address": c.Address, "namespace": c.Namespace, "reviewerSecret": c.ReviewerSecret, "tlsSecret": c.TLSSecret,
	}, nil
}

// ReviewerBinding is the reviewer's ClusterRoleBinding's name, unique per
// reviewer (several stacks may share a cluster).
func ReviewerBinding(a *Args) string { return a.ReviewerServiceAccount + "-" + a.ReviewerNamespace }

// ReviewerSecretName is the reviewer's token Secret's name.
func ReviewerSecretName(a *Args) string { return a.ReviewerServiceAccount + "-token" }
