// Package meshpolicy provides MeshSecurity: Istio PeerAuthentications and
// AuthorizationPolicies, refusing anything that would weaken the mesh (a
// PeerAuthentication that is not STRICT, a wildcard or missing principal).
package meshpolicy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	securityv1beta1 "istio.io/api/security/v1beta1"

	"github.com/bulwark-platform/bulwark/components/kobject"
)

// Token is the component's type token.
const Token = "bulwark:meshpolicy:MeshSecurity"

// APIVersion of the Istio security resources (GA since Istio 1.22).
const APIVersion = "security.istio.io/v1"

// Resource is one Istio resource with its typed spec.
type Resource[T any] struct {
	Name, Namespace string
	Labels          map[string]string
	Spec            T
}

// Args configures MeshSecurity.
type Args struct {
	PeerAuthentications   []Resource[*securityv1beta1.PeerAuthentication]
	AuthorizationPolicies []Resource[*securityv1beta1.AuthorizationPolicy]
	// DependsOn orders the policies after what they need (namespaces,
	// the mesh's CRDs).
	DependsOn []pulumi.Resource
	Provider  pulumi.ProviderResource
}

// MeshSecurity is the mesh's authentication and authorization policy.
type MeshSecurity struct {
	pulumi.ResourceState
	// Count is the number of policies registered.
	Count pulumi.IntOutput
}

func (a *Args) validate() error {
	var errs []error
	seen := map[string]bool{}
	name := func(kind, ns, n string) {
		key := kind + "/" + ns + "/" + n
		if ns == "" || n == "" {
			errs = append(errs, fmt.Errorf("%s %q in namespace %q: name and namespace are required", kind, n, ns))
		} else if seen[key] {
			errs = append(errs, fmt.Errorf("%s %s/%s: defined twice", kind, ns, n))
		}
		seen[key] = true
	}
	for _, p := range a.PeerAuthentications {
		name("PeerAuthentication", p.Namespace, p.Name)
		if p.Spec.GetMtls().GetMode() != securityv1beta1.PeerAuthentication_MutualTLS_STRICT {
			errs = append(errs, fmt.Errorf("PeerAuthentication %s/%s: mode %s; only STRICT is allowed", p.Namespace, p.Name, p.Spec.GetMtls().GetMode()))
		}
		for port, m := range p.Spec.GetPortLevelMtls() {
			if m.GetMode() != securityv1beta1.PeerAuthentication_MutualTLS_STRICT {
				errs = append(errs, fmt.Errorf("PeerAuthentication %s/%s: port %d is %s; only STRICT is allowed", p.Namespace, p.Name, port, m.GetMode()))
			}
		}
	}
	for _, ap := range a.AuthorizationPolicies {
		name("AuthorizationPolicy", ap.Namespace, ap.Name)
		for i, rule := range ap.Spec.GetRules() {
			if len(rule.GetFrom()) == 0 {
				errs = append(errs, fmt.Errorf("AuthorizationPolicy %s/%s: rules[%d] admits every source; name the principals", ap.Namespace, ap.Name, i))
			}
			for _, f := range rule.GetFrom() {
				src := f.GetSource()
				if len(src.GetPrincipals()) == 0 {
					errs = append(errs, fmt.Errorf("AuthorizationPolicy %s/%s: rules[%d] has a source without principals", ap.Namespace, ap.Name, i))
				}
				for _, p := range append(src.GetPrincipals(), src.GetNamespaces()...) {
					if strings.Contains(p, "*") {
						errs = append(errs, fmt.Errorf("AuthorizationPolicy %s/%s: rules[%d] has wildcard source %q", ap.Namespace, ap.Name, i, p))
					}
				}
			}
		}
	}
	if a.Provider == nil {
		errs = append(errs, errors.New("provider: required"))
	}
	return errors.Join(errs...)
}

// New registers MeshSecurity.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*MeshSecurity, error) {
	if args == nil {
		return nil, errors.New("meshpolicy: args are required")
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("meshpolicy %s: %w", name, err)
	}
	c := &MeshSecurity{}
	if err := ctx.RegisterComponentResource(Token, name, c, opts...); err != nil {
		return nil, err
	}
	child := []pulumi.ResourceOption{pulumi.Parent(c), pulumi.Provider(args.Provider), pulumi.DependsOn(args.DependsOn)}
	if err := register(ctx, name+"-pa", "PeerAuthentication", args.PeerAuthentications, child); err != nil {
		return nil, err
	}
	if err := register(ctx, name+"-ap", "AuthorizationPolicy", args.AuthorizationPolicies, child); err != nil {
		return nil, err
	}
	count := len(args.PeerAuthentications) + len(args.AuthorizationPolicies)
	c.Count = pulumi.Int(count).ToIntOutput()
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"count": c.Count}); err != nil {
		return nil, err
	}
	return c, nil
}

// register registers each resource as an Istio object of kind, named
// <prefix>-<namespace>-<name>.
func register[T any](ctx *pulumi.Context, prefix, kind string, rs []Resource[T], opts []pulumi.ResourceOption) error {
	for _, r := range rs {
		if _, err := kobject.Register(ctx, fmt.Sprintf("%s-%s-%s", prefix, r.Namespace, r.Name), kobject.Object{
			APIVersion: APIVersion, Kind: kind, Name: r.Name, Namespace: r.Namespace, Labels: r.Labels, Spec: r.Spec,
		}, opts...); err != nil {
			return err
		}
	}
	return nil
}
