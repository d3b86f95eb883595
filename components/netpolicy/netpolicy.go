// Package netpolicy provides NetworkSecurity: Kubernetes NetworkPolicies,
// refusing any rule that opens egress to everywhere or to an address range
// the environment did not declare.
package netpolicy

import (
	"errors"
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/bulwark-platform/bulwark/components/kobject"
)

// Token is the component's type token.
const Token = "bulwark:netpolicy:NetworkSecurity"

// Args configures NetworkSecurity.
type Args struct {
	Policies []networkingv1.NetworkPolicy
	// AllowedCIDRs are the only ipBlocks a policy may name.
	AllowedCIDRs []string
	DependsOn    []pulumi.Resource
	Provider     pulumi.ProviderResource
}

// NetworkSecurity is the set of network policies.
type NetworkSecurity struct {
	pulumi.ResourceState
	Count pulumi.IntOutput
}

func (a *Args) validate() error {
	var errs []error
	seen := map[string]bool{}
	for _, np := range a.Policies {
		id := np.Namespace + "/" + np.Name
		if np.Namespace == "" || np.Name == "" {
			errs = append(errs, fmt.Errorf("NetworkPolicy %q: name and namespace are required", id))
		}
		if seen[id] {
			errs = append(errs, fmt.Errorf("NetworkPolicy %s: defined twice", id))
		}
		seen[id] = true
		for i, rule := range np.Spec.Egress {
			if len(rule.To) == 0 {
				errs = append(errs, fmt.Errorf("NetworkPolicy %s: egress[%d] allows every destination", id, i))
			}
			for _, p := range rule.To {
				if p.IPBlock != nil && !slices.Contains(a.AllowedCIDRs, p.IPBlock.CIDR) {
					errs = append(errs, fmt.Errorf("NetworkPolicy %s: egress[%d] names CIDR %s, which the environment does not declare", id, i, p.IPBlock.CIDR))
				}
			}
		}
		for i, rule := range np.Spec.Ingress {
			if len(rule.From) == 0 {
				errs = append(errs, fmt.Errorf("NetworkPolicy %s: ingress[%d] admits every source", id, i))
			}
		}
	}
	if a.Provider == nil {
		errs = append(errs, errors.New("provider: required"))
	}
	return errors.Join(errs...)
}

// New registers NetworkSecurity.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*NetworkSecurity, error) {
	if args == nil {
		return nil, errors.New("netpolicy: args are required")
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("netpolicy %s: %w", name, err)
	}
	c := &NetworkSecurity{}
	if err := ctx.RegisterComponentResource(Token, name, c, opts...); err != nil {
		return nil, err
	}
	child := []pulumi.ResourceOption{pulumi.Parent(c), pulumi.Provider(args.Provider), pulumi.DependsOn(args.DependsOn)}
	for _, np := range args.Policies {
		if _, err := kobject.Register(ctx, fmt.Sprintf("%s-%s-%s", name, np.Namespace, np.Name), kobject.Object{
			APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy",
			Name: np.Name, Namespace: np.Namespace, Labels: np.Labels, Spec: np.Spec,
		}, child...); err != nil {
			return nil, err
		}
	}
	c.Count = pulumi.Int(len(args.Policies)).ToIntOutput()
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"count": c.Count}); err != nil {
		return nil, err
	}
	return c, nil
}
