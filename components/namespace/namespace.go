// Package namespace provides AppNamespace: an application namespace that
// enforces the Pod Security Admission "restricted" standard, so the API
// server itself refuses a pod that would run privileged, as root or with
// extra capabilities, whatever created it.
package namespace

import (
	"fmt"
	"maps"
	"slices"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bulwark-platform/bulwark/components/component"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// Token is the component's type token.
const Token = "bulwark:namespace:AppNamespace"

// Pod Security Admission levels.
const (
	Restricted = "restricted"
	Baseline   = "baseline"
	Privileged = "privileged"
)

// Args configures an AppNamespace.
type Args struct {
	// Name is the namespace name (a DNS-1123 label).
	Name string
	// PodSecurity is the level enforced, audited and warned; default restricted.
	PodSecurity string
	// PrivilegedReason must say why when PodSecurity is privileged (only a
	// platform namespace such as Istio's, whose CNI node agent needs host
	// access, may be).
	PrivilegedReason string
	// PodSecurityVersion pins the standard's version; default "latest".
	PodSecurityVersion string
	// Labels are extra labels; they may not override the Pod Security ones.
	Labels map[string]string
	// Provider is the Kubernetes provider; required.
	Provider pulumi.ProviderResource
}

// AppNamespace is a namespace with Pod Security Admission labels.
type AppNamespace struct {
	pulumi.ResourceState

	// Name is the namespace's name once it exists: depend on it to order
	// namespaced resources after the namespace.
	Name pulumi.StringOutput
}

// withDefaults fills only the fields left unset.
func (a *Args) withDefaults() *Args {
	out := *a
	out.Labels = maps.Clone(a.Labels)
	if out.PodSecurity == "" {
		out.PodSecurity = Restricted
	}
	if out.PodSecurityVersion == "" {
		out.PodSecurityVersion = "latest"
	}
	return &out
}

func (a *Args) validate() error {
	var l fielderr.List
	if len(validation.IsDNS1123Label(a.Name)) > 0 {
		l.Add(fielderr.ErrInvalid, "name", "%q is not a DNS-1123 label", a.Name)
	}
	switch {
	case a.PodSecurity == Privileged && a.PrivilegedReason == "":
		l.Add(fielderr.ErrRequired, "privilegedReason", "podSecurity privileged needs a reason (never for application namespaces)")
	case a.PodSecurity != Restricted && a.PodSecurity != Baseline && a.PodSecurity != Privileged:
		l.Add(fielderr.ErrUnsupported, "podSecurity", "%q is not %q, %q or %q", a.PodSecurity, Restricted, Baseline, Privileged)
	}
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		if _, reserved := podSecurityLabels("", "")[k]; reserved {
			l.Add(fielderr.ErrForbidden, "labels."+k, "reserved for Pod Security Admission")
		}
	}
	component.RequireProvider(&l, a.Provider)
	return l.Err()
}

func podSecurityLabels(level, version string) map[string]string {
	out := map[string]string{}
	for _, mode := range []string{"enforce", "audit", "warn"} {
		out["pod-security.kubernetes.io/"+mode] = level
		out["pod-security.kubernetes.io/"+mode+"-version"] = version
	}
	return out
}

// New registers an AppNamespace.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*AppNamespace, error) {
	c := &AppNamespace{}
	a, err := component.Begin(ctx, c, Token, name, args, (*Args).withDefaults, (*Args).validate, opts...)
	if err != nil {
		return nil, err
	}
	labels := a.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, podSecurityLabels(a.PodSecurity, a.PodSecurityVersion))
	labels[naming.PartOfLabel] = naming.PartOf
	var annotations pulumi.StringMapInput
	if a.PrivilegedReason != "" {
		annotations = pulumi.StringMap{"bulwark.dev/privileged-reason": pulumi.String(a.PrivilegedReason)}
	}
	ns, err := corev1.NewNamespace(ctx, name+"-ns", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:        pulumi.String(a.Name),
			Labels:      pulumi.ToStringMap(labels),
			Annotations: annotations,
		},
	}, component.Children(c, a.Provider)...)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", name, err)
	}
	c.Name = ns.Metadata.Name().Elem()
	if err := component.Finish(ctx, c, pulumi.Map{"name": c.Name}); err != nil {
		return nil, err
	}
	return c, nil
}
