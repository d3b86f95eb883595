// Package externalsecrets provides SecretSync: the External Secrets
// Operator (installed from its pinned chart, or adopted), and per
// application namespace a SecretStore on Vault's Kubernetes auth with the
// service account it logs in as, then one ExternalSecret per static secret
// of the graph, as infra/secrets compiled them.
//
// Why one SecretStore per namespace rather than one ClusterSecretStore: a
// cluster-wide store logs in with one Vault role, so any namespace's
// ExternalSecret could name any path that role reads, another team's
// secrets included. A namespace's store logs in as a service account of
// that namespace, whose Vault role reads exactly that namespace's static
// secrets; the controller itself holds no Vault credentials.
package externalsecrets

import (
	"fmt"
	"slices"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bulwark-platform/bulwark/components/component"
	"github.com/bulwark-platform/bulwark/components/kobject"
	compiled "github.com/bulwark-platform/bulwark/infra/secrets"
	"github.com/bulwark-platform/bulwark/internal/esoapi"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// Token is the component's type token.
const Token = "bulwark:externalsecrets:SecretSync"

// The External Secrets Operator chart, pinned once. Its CRDs are the
// Go module's deploy/crds/bundle.yaml at the same version, which the
// local cluster installs; the local cluster runs that version's
// controller (hack/tools.sh builds it).
const (
	ChartRepo    = "https://charts.external-secrets.io"
	ChartName    = "external-secrets"
	ChartVersion = "0.16.2"
)

// Args configures SecretSync.
type Args struct {
	// Install installs the operator from its chart into Namespace; false
	// adopts one that runs.
	Install   bool
	Namespace string
	// Replicas of the controller, webhook and cert controller.
	Replicas int
	// CAIssuer signs the webhook's certificate (the private CA's
	// ClusterIssuer) when installed.
	CAIssuer string
	// Stores and ExternalSecrets are what infra/secrets compiled.
	Stores          []compiled.SecretStore
	ExternalSecrets []compiled.ExternalSecret
	// Namespaces are the application namespaces by name (the namespace
	// components' outputs), so objects wait for their namespace.
	Namespaces map[string]pulumi.StringInput
	// DependsOn: the namespaces, the private CA.
	DependsOn []pulumi.Resource
	Provider  pulumi.ProviderResource
}

// SecretSync is the operator and the synced secrets.
type SecretSync struct {
	pulumi.ResourceState
	// Secrets are the synced Kubernetes Secrets, namespace/name.
	Secrets pulumi.StringArrayOutput
}

func (a *Args) withDefaults() *Args {
	out := *a
	if out.Namespace == "" {
		out.Namespace = "external-secrets"
	}
	if out.Replicas == 0 {
		out.Replicas = 1
	}
	if out.CAIssuer == "" {
		out.CAIssuer = naming.CAIssuer
	}
	return &out
}

func (a *Args) validate() error {
	var l fielderr.List
	if a.Install && len(validation.IsDNS1123Label(a.Namespace)) > 0 {
		l.Add(fielderr.ErrInvalid, "namespace", "%q is not a DNS-1123 label", a.Namespace)
	}
	if a.Replicas < 1 {
		l.Add(fielderr.ErrOutOfRange, "replicas", "must be at least 1, got %d", a.Replicas)
	}
	stores := map[string]bool{}
	for i, s := range a.Stores {
		p := fmt.Sprintf("stores[%d]", i)
		if _, ok := a.Namespaces[s.Namespace]; !ok {
			l.Add(fielderr.ErrUnknown, p+".namespace", "%q is not an application namespace", s.Namespace)
		}
		v := s.Spec.Provider
		switch {
		case v == nil || v.Vault == nil:
			l.Add(fielderr.ErrRequired, p+".provider.vault", "stores read Vault")
		case v.Vault.Auth == nil || v.Vault.Auth.Kubernetes == nil || v.Vault.Auth.Kubernetes.ServiceAccountRef == nil:
			// A token in a Secret would be a standing credential in the
			// namespace: stores log in with a service account's token.
			l.Add(fielderr.ErrForbidden, p+".provider.vault.auth", "must be Kubernetes auth with a service account reference")
		case len(v.Vault.Auth.Kubernetes.ServiceAccountRef.Audiences) == 0:
			l.Add(fielderr.ErrRequired, p+".provider.vault.auth.kubernetes.serviceAccountRef.audiences", "the login token must be bound to Vault's audience")
		case strings.HasPrefix(v.Vault.Server, "http://") && v.Vault.CAProvider != nil:
			l.Add(fielderr.ErrConflict, p+".provider.vault.caProvider", "a CA for a plain-HTTP server")
		}
		stores[s.Namespace+"/"+s.Name] = true
	}
	targets := map[string]int{}
	for i, es := range a.ExternalSecrets {
		p := fmt.Sprintf("externalSecrets[%d]", i)
		ref := es.Spec.SecretStoreRef
		if ref.Kind != esoapi.KindSecretStore || !stores[es.Namespace+"/"+ref.Name] {
			l.Add(fielderr.ErrUnknown, p+".secretStoreRef", "%s %q is not a store of namespace %s", ref.Kind, ref.Name, es.Namespace)
		}
		t := es.Namespace + "/" + es.Spec.Target.Name
		if j, dup := targets[t]; dup {
			l.Add(fielderr.ErrDuplicate, p+".target.name", "%s is also the target of externalSecrets[%d]", t, j)
		}
		targets[t] = i
		if es.Spec.RefreshInterval == nil || es.Spec.RefreshInterval.Duration <= 0 {
			l.Add(fielderr.ErrRequired, p+".refreshInterval", "a secret that is never read again never rotates")
		}
		if len(es.Spec.Data) == 0 {
			l.Add(fielderr.ErrRequired, p+".data", "syncs no key")
		}
	}
	component.RequireProvider(&l, a.Provider)
	return l.Err()
}

// New registers SecretSync.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*SecretSync, error) {
	c := &SecretSync{}
	a, err := component.Begin(ctx, c, Token, name, args, (*Args).withDefaults, (*Args).validate, opts...)
	if err != nil {
		return nil, err
	}
	secrets, err := c.build(ctx, name, a)
	if err != nil {
		return nil, fmt.Errorf("externalsecrets %s: %w", name, err)
	}
	c.Secrets = pulumi.ToStringArray(secrets).ToStringArrayOutput()
	if err := component.Finish(ctx, c, pulumi.Map{"secrets": c.Secrets}); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *SecretSync) build(ctx *pulumi.Context, name string, a *Args) ([]string, error) {
	child := component.Children(c, a.Provider, a.DependsOn...)
	deps := slices.Clone(a.DependsOn)
	if a.Install {
		chart, err := kobject.InstallChart(ctx, name+"-operator", kobject.Chart{Repo: ChartRepo, Name: ChartName, Version: ChartVersion, Release: "external-secrets"},
			a.Namespace, Values(a.Replicas, a.CAIssuer), child...)
		if err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
		deps = append(deps, chart)
	}
	objChild := component.Children(c, a.Provider, deps...)
	var stores []pulumi.Resource
	for _, s := range a.Stores {
		ns := a.Namespaces[s.Namespace]
		sa, err := corev1.NewServiceAccount(ctx, name+"-"+s.Namespace+"-sa", &corev1.ServiceAccountArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(s.Spec.Provider.Vault.Auth.Kubernetes.ServiceAccountRef.Name), Namespace: ns,
				Labels: pulumi.StringMap{naming.PartOfLabel: pulumi.String(naming.PartOf)}},
			// Nothing runs as it: the controller requests its tokens.
			AutomountServiceAccountToken: pulumi.Bool(false),
		}, objChild...)
		if err != nil {
			return nil, fmt.Errorf("store account of %s: %w", s.Namespace, err)
		}
		st, err := kobject.RegisterIn(ctx, name+"-"+s.Namespace+"-store", kinds.SecretStore, s, ns,
			component.With(objChild, pulumi.DependsOn([]pulumi.Resource{sa}))...)
		if err != nil {
			return nil, fmt.Errorf("store of %s: %w", s.Namespace, err)
		}
		stores = append(stores, st)
	}
	var synced []string
	for _, es := range a.ExternalSecrets {
		if _, err := kobject.RegisterIn(ctx, name+"-"+es.Namespace+"-"+es.Name, kinds.ExternalSecret, es, a.Namespaces[es.Namespace],
			component.With(objChild, pulumi.DependsOn(stores))...); err != nil {
			return nil, fmt.Errorf("external secret %s: %w", es.ID(), err)
		}
		synced = append(synced, es.Namespace+"/"+es.Spec.Target.Name)
	}
	return synced, nil
}

// ChartValues is the part of the operator chart's values Bulwark sets.
type ChartValues struct {
	InstallCRDs  bool `json:"installCRDs"`
	ReplicaCount int  `json:"replicaCount"`
	LeaderElect  bool `json:"leaderElect"`
	// Only namespaced stores and ExternalSecrets are used: the
	// controller ignores cluster-scoped stores and pushes, so nobody can
	// widen what a namespace reads by creating one.
	ProcessClusterStore          bool              `json:"processClusterStore"`
	ProcessClusterExternalSecret bool              `json:"processClusterExternalSecret"`
	ProcessPushSecret            bool              `json:"processPushSecret"`
	ProcessClusterPushSecret     bool              `json:"processClusterPushSecret"`
	PodDisruptionBudget          PDB               `json:"podDisruptionBudget"`
	Resources                    Resources         `json:"resources"`
	Webhook                      ComponentValues   `json:"webhook"`
	CertController               CertControllerVal `json:"certController"`
	ServiceAccount               ServiceAccount    `json:"serviceAccount"`
}

// PDB is a chart's PodDisruptionBudget switch.
type PDB struct {
	Enabled      bool `json:"enabled"`
	MinAvailable int  `json:"minAvailable"`
}

// Resources are a container's requests and limits.
type Resources struct {
	Requests map[string]string `json:"requests"`
	Limits   map[string]string `json:"limits"`
}

// ServiceAccount is a chart's service account switch.
type ServiceAccount struct {
	Create    bool `json:"create"`
	Automount bool `json:"automount"`
}

// ComponentValues are the webhook's values.
type ComponentValues struct {
	ReplicaCount        int       `json:"replicaCount"`
	PodDisruptionBudget PDB       `json:"podDisruptionBudget"`
	Resources           Resources `json:"resources"`
	CertManager         struct {
		Enabled bool `json:"enabled"`
		Cert    struct {
			Create    bool `json:"create"`
			IssuerRef struct {
				Group string `json:"group"`
				Kind  string `json:"kind"`
				Name  string `json:"name"`
			} `json:"issuerRef"`
			Duration string `json:"duration"`
		} `json:"cert"`
	} `json:"certManager"`
}

// CertControllerVal is the cert controller's switch: off when
// cert-manager issues the webhook's certificate.
type CertControllerVal struct {
	Create bool `json:"create"`
}

// Values are the chart's values: the controller and webhook replicated
// with disruption budgets above one replica, the webhook's certificate
// from the private CA (so no self-signing cert controller runs), bounded
// resources, and only namespaced objects processed.
func Values(replicas int, caIssuer string) ChartValues {
	res := Resources{Requests: map[string]string{"cpu": "50m", "memory": "64Mi"}, Limits: map[string]string{"cpu": "500m", "memory": "256Mi"}}
	v := ChartValues{
		InstallCRDs: true, ReplicaCount: replicas, LeaderElect: replicas > 1,
		PodDisruptionBudget: PDB{Enabled: replicas > 1, MinAvailable: 1},
		Resources:           res,
		ServiceAccount:      ServiceAccount{Create: true, Automount: true},
	}
	v.Webhook.ReplicaCount = replicas
	v.Webhook.PodDisruptionBudget = PDB{Enabled: replicas > 1, MinAvailable: 1}
	v.Webhook.Resources = res
	wc := &v.Webhook.CertManager
	wc.Enabled, wc.Cert.Create, wc.Cert.Duration = true, true, "2160h"
	wc.Cert.IssuerRef.Group, wc.Cert.IssuerRef.Kind, wc.Cert.IssuerRef.Name = "cert-manager.io", "ClusterIssuer", caIssuer
	return v
}
