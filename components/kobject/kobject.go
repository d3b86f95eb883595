// Package kobject registers Kubernetes objects built from typed Go values
// (upstream API types such as networking/v1 NetworkPolicy or Istio's
// security/v1beta1 protos) as Pulumi resources, so components never
// hand-write untyped maps. The resource's type token is the object's own
// (kubernetes:<apiVersion>:<kind>), as with the SDK's typed resources.
package kobject

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Object is one Kubernetes object.
type Object struct {
	APIVersion, Kind string
	// Namespace is empty for a cluster-scoped object.
	Name, Namespace string
	Labels          map[string]string
	// Spec is any value that marshals to the object's spec as JSON.
	Spec any
}

// Register creates the object as a Pulumi resource named resourceName.
func Register(ctx *pulumi.Context, resourceName string, o Object, opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	spec, err := toMap(o.Spec)
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", o.Kind, o.Namespace, o.Name, err)
	}
	meta := &metav1.ObjectMetaArgs{Name: pulumi.String(o.Name)}
	// An empty label map would differ from the absent one the API server
	// returns, and every preview would show a change.
	if len(o.Labels) > 0 {
		meta.Labels = pulumi.ToStringMap(o.Labels)
	}
	if o.Namespace != "" {
		meta.Namespace = pulumi.String(o.Namespace)
	}
	return apiextensions.NewCustomResource(ctx, resourceName, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String(o.APIVersion),
		Kind:        pulumi.String(o.Kind),
		Metadata:    meta,
		OtherFields: map[string]any{"spec": spec},
	}, opts...)
}

// toMap turns a typed spec into plain JSON data.
func toMap(v any) (map[string]any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding spec: %w", err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decoding spec: %w", err)
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
