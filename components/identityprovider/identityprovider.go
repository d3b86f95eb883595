// Package identityprovider provides IdentityProvider: the Keycloak operator
// (its release manifests, pinned) and the Keycloak resource and realm
// import infra/identity rendered from the identity model.
//
// Why the release manifests and not a chart: Keycloak publishes its
// operator as plain manifests (kubernetes.yml and two CRDs per release,
// in keycloak/keycloak-k8s-resources) and through OLM, and no Helm chart
// of its own. They are applied from the release's URLs by pulumi-kubernetes'
// yaml/v2 ConfigGroup, with one transform: the manifests assume the
// namespace "keycloak" (namespaced objects carry none, and the ClusterRole
// binding names keycloak/keycloak-operator), so the transform places them
// in the configured namespace. The operator watches only its own
// namespace, where the Keycloak resource and the realm import are created.
package identityprovider

import (
	"context"
	"fmt"
	"slices"
	"strings"

	yamlv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/yaml/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bulwark-platform/bulwark/components/component"
	"github.com/bulwark-platform/bulwark/components/kobject"
	"github.com/bulwark-platform/bulwark/infra/identity"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/keycloakapi"
	"github.com/bulwark-platform/bulwark/internal/kinds"
)

// Token is the component's type token.
const Token = "bulwark:identityprovider:IdentityProvider"

// ManifestsBase is where the operator's release manifests are published.
const ManifestsBase = "https://raw.githubusercontent.com/keycloak/keycloak-k8s-resources/" + keycloakapi.OperatorVersion + "/kubernetes/"

// ManifestURLs are the operator release's files: its two CRDs, then the
// operator (service account, RBAC, Deployment).
func ManifestURLs() []string {
	return []string{
		ManifestsBase + "keycloaks.k8s.keycloak.org-v1.yml",
		ManifestsBase + "keycloakrealmimports.k8s.keycloak.org-v1.yml",
		ManifestsBase + "kubernetes.yml",
	}
}

// manifestNamespace is the namespace the release manifests assume.
const manifestNamespace = "keycloak"

// Args configures IdentityProvider.
type Args struct {
	// Keycloak is what infra/identity rendered.
	Keycloak identity.KeycloakSet
	// InstallOperator applies the operator's release manifests; false
	// adopts an operator that watches the namespace already.
	InstallOperator bool
	// DependsOn: the namespace, the private CA (the certificate), the
	// data stores (the database and its credentials), the secret sync
	// (the client secrets).
	DependsOn []pulumi.Resource
	Provider  pulumi.ProviderResource
}

// IdentityProvider is the operator, Keycloak and its realm.
type IdentityProvider struct {
	pulumi.ResourceState
	// Realm is the imported realm's name; Server is namespace/name of the
	// Keycloak resource.
	Realm  pulumi.StringOutput
	Server pulumi.StringOutput
}

func (a *Args) withDefaults() *Args { out := *a; return &out }

func (a *Args) validate() error {
	var l fielderr.List
	k := a.Keycloak
	if len(validation.IsDNS1123Label(k.Namespace)) > 0 {
		l.Add(fielderr.ErrInvalid, "keycloak.namespace", "%q is not a DNS-1123 label", k.Namespace)
	}
	if k.Server.Namespace != k.Namespace || k.RealmImport.Namespace != k.Namespace {
		// The operator watches its own namespace only.
		l.Add(fielderr.ErrConflict, "keycloak.namespace", "the Keycloak resource (%q) and the realm import (%q) must be in %q", k.Server.Namespace, k.RealmImport.Namespace, k.Namespace)
	}
	if k.RealmImport.Spec.KeycloakCRName != k.Server.Name {
		l.Add(fielderr.ErrConflict, "keycloak.realmImport.keycloakCRName", "%q is not the Keycloak resource %q", k.RealmImport.Spec.KeycloakCRName, k.Server.Name)
	}
	if s := k.Server.Spec; s.HTTP == nil || s.HTTP.HTTPEnabled || s.HTTP.TLSSecret == "" {
		l.Add(fielderr.ErrForbidden, "keycloak.server.http", "Keycloak serves HTTPS only, with the private CA's certificate")
	}
	if s := k.Server.Spec; s.DB == nil || s.DB.PasswordSecret == nil || s.DB.PasswordSecret.Name == "" {
		l.Add(fielderr.ErrRequired, "keycloak.server.db", "Keycloak's database and its credentials Secret")
	}
	if k.Server.Spec.Instances < 1 {
		l.Add(fielderr.ErrOutOfRange, "keycloak.server.instances", "must be at least 1, got %d", k.Server.Spec.Instances)
	}
	if r := k.RealmImport.Spec.Realm.Clients; r != nil {
		for i, c := range *r {
			name, isRef := strings.CutPrefix(deref(c.Secret), "${")
			name, isRef = strings.CutSuffix(name, "}")
			if _, placeholder := k.RealmImport.Spec.Placeholders[name]; deref(c.Secret) != "" && !(isRef && placeholder) {
				// A literal secret would sit in the resource, readable by
				// anyone who can read the namespace's objects.
				l.Add(fielderr.ErrForbidden, fmt.Sprintf("keycloak.realmImport.realm.clients[%d].secret", i), "must be a placeholder filled from a Secret, not a value")
			}
		}
	}
	component.RequireProvider(&l, a.Provider)
	return l.Err()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// New registers IdentityProvider.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*IdentityProvider, error) {
	c := &IdentityProvider{}
	a, err := component.Begin(ctx, c, Token, name, args, (*Args).withDefaults, (*Args).validate, opts...)
	if err != nil {
		return nil, err
	}
	k := a.Keycloak
	child := component.Children(c, a.Provider, a.DependsOn...)
	deps := slices.Clone(a.DependsOn)
	if a.InstallOperator {
		op, err := yamlv2.NewConfigGroup(ctx, name+"-operator", &yamlv2.ConfigGroupArgs{
			Files: pulumi.ToStringArray(ManifestURLs()),
		}, component.With(child, pulumi.Transforms([]pulumi.ResourceTransform{Relocate(k.Namespace)}))...)
		if err != nil {
			return nil, fmt.Errorf("identityprovider %s: operator: %w", name, err)
		}
		deps = append(deps, op)
	}
	after := component.Children(c, a.Provider, deps...)
	server, err := kobject.Register(ctx, name+"-keycloak", kinds.Keycloak, k.Server, after...)
	if err != nil {
		return nil, fmt.Errorf("identityprovider %s: keycloak: %w", name, err)
	}
	if _, err := kobject.Register(ctx, name+"-realm", kinds.KeycloakRealmImport, k.RealmImport,
		component.With(after, pulumi.DependsOn([]pulumi.Resource{server}))...); err != nil {
		return nil, fmt.Errorf("identityprovider %s: realm import: %w", name, err)
	}
	c.Realm = pulumi.String(*k.RealmImport.Spec.Realm.Realm).ToStringOutput()
	c.Server = pulumi.String(k.Server.ID()).ToStringOutput()
	if err := component.Finish(ctx, c, pulumi.Map{"realm": c.Realm, "server": c.Server}); err != nil {
		return nil, err
	}
	return c, nil
}

// namespacedKinds are the kinds of the operator's manifests that live in
// a namespace.
var namespacedKinds = map[string]bool{
	"ServiceAccount": true, "Role": true, "RoleBinding": true, "Service": true, "Deployment": true,
}

// Relocate is the transform that moves the operator's manifests from the
// namespace they assume into ns: namespaced objects get ns, and
// bindings' subjects in the assumed namespace move with them.
func Relocate(ns string) pulumi.ResourceTransform {
	return func(_ context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
		props := RelocateProps(args.Props, ns)
		if props == nil {
			return nil
		}
		return &pulumi.ResourceTransformResult{Props: props, Opts: args.Opts}
	}
}

// RelocateProps is Relocate on one object's properties: nil when it
// changes nothing.
func RelocateProps(props pulumi.Map, ns string) pulumi.Map {
	kind, _ := plain(props["kind"]).(string)
	out := pulumi.Map{}
	for k, v := range props {
		out[k] = v
	}
	changed := false
	if meta, ok := asMap(props["metadata"]); ok && namespacedKinds[kind] {
		if cur, _ := plain(meta["namespace"]).(string); cur == "" || cur == manifestNamespace {
			m := pulumi.Map{}
			for k, v := range meta {
				m[k] = v
			}
			m["namespace"] = pulumi.String(ns)
			out["metadata"] = m
			changed = true
		}
	}
	if subjects, ok := asArray(props["subjects"]); ok {
		moved := pulumi.Array{}
		for _, s := range subjects {
			sm, ok := asMap(s)
			if cur, _ := plain(sm["namespace"]).(string); ok && cur == manifestNamespace {
				m := pulumi.Map{}
				for k, v := range sm {
					m[k] = v
				}
				m["namespace"] = pulumi.String(ns)
				s = m
				changed = true
			}
			moved = append(moved, s)
		}
		out["subjects"] = moved
	}
	if !changed {
		return nil
	}
	return out
}

// plain is a property's Go value when it is a known plain input.
func plain(v pulumi.Input) any {
	switch x := v.(type) {
	case pulumi.String:
		return string(x)
	case pulumi.Bool:
		return bool(x)
	case pulumi.Int:
		return int(x)
	case pulumi.Float64:
		return float64(x)
	}
	return nil
}

func asMap(v pulumi.Input) (pulumi.Map, bool) {
	m, ok := v.(pulumi.Map)
	return m, ok
}

func asArray(v pulumi.Input) (pulumi.Array, bool) {
	a, ok := v.(pulumi.Array)
	return a, ok
}
