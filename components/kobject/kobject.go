// Package kobject registers objects of the kinds in internal/kinds (Istio,
// cert-manager and VPA resources with their upstream Go spec types) as
// Pulumi resources, and installs pinned Helm charts with values built from
// typed Go structs, so components never hand-write untyped maps. A
// resource's type token is the object's own (kubernetes:<apiVersion>:<kind>),
// as with the SDK's typed resources.
package kobject

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bulwark-platform/bulwark/internal/kinds"
)

// Register creates o, an object of kind k, as a Pulumi resource named
// resourceName.
func Register[S any](ctx *pulumi.Context, resourceName string, k kinds.Kind[S], o kinds.Object[S], opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	var ns pulumi.StringInput
	if o.Namespace != "" && !k.ClusterScoped {
		ns = pulumi.String(o.Namespace)
	}
	return RegisterIn(ctx, resourceName, k, o, ns, opts...)
}

// RegisterIn is Register into a namespace known as a Pulumi input (the
// namespace component's output, so the object waits for the namespace);
// o.Namespace is ignored.
func RegisterIn[S any](ctx *pulumi.Context, resourceName string, k kinds.Kind[S], o kinds.Object[S], namespace pulumi.StringInput, opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	spec, err := k.SpecMap(o)
	if err != nil {
		return nil, err
	}
	meta := &metav1.ObjectMetaArgs{Name: pulumi.String(o.Name)}
	// An empty label map would differ from the absent one the API server
	// returns, and every preview would show a change.
	if len(o.Labels) > 0 {
		meta.Labels = pulumi.ToStringMap(o.Labels)
	}
	if namespace != nil {
		meta.Namespace = namespace
	}
	return apiextensions.NewCustomResource(ctx, resourceName, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String(k.APIVersion()),
		Kind:        pulumi.String(k.Kind),
		Metadata:    meta,
		OtherFields: map[string]any{"spec": spec},
	}, opts...)
}

// RegisterAll registers each object, named prefix-<namespace>-<name>.
func RegisterAll[S any](ctx *pulumi.Context, prefix string, k kinds.Kind[S], objs []kinds.Object[S], opts ...pulumi.ResourceOption) error {
	for _, o := range objs {
		name := prefix + "-" + o.Name
		if o.Namespace != "" {
			name = prefix + "-" + o.Namespace + "-" + o.Name
		}
		if _, err := Register(ctx, name, k, o, opts...); err != nil {
			return err
		}
	}
	return nil
}

// toMap turns typed values into plain JSON data.
func toMap(v any) (map[string]any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding: %w", err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	return out, nil
}

// Chart is a pinned Helm chart: repository, chart and version in one place.
type Chart struct {
	Repo, Name, Version string
	// Release names the release (default: the resource name).
	Release string
}

// InstallChart installs c into namespace with values built from a typed
// struct (helm/v4 Chart: every object shows in previews).
func InstallChart(ctx *pulumi.Context, resourceName string, c Chart, namespace string, values any, opts ...pulumi.ResourceOption) (*helmv4.Chart, error) {
	m, err := toMap(values)
	if err != nil {
		return nil, fmt.Errorf("%s values: %w", c.Name, err)
	}
	args := &helmv4.ChartArgs{
		Chart:          pulumi.String(c.Name),
		Version:        pulumi.String(c.Version),
		RepositoryOpts: &helmv4.RepositoryOptsArgs{Repo: pulumi.String(c.Repo)},
		Namespace:      pulumi.String(namespace),
		Values:         pulumi.ToMap(m),
	}
	if c.Release != "" {
		args.Name = pulumi.String(c.Release)
	}
	return helmv4.NewChart(ctx, resourceName, args, opts...)
}
