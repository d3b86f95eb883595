// Package netpolicy provides NetworkSecurity: Kubernetes NetworkPolicies,
// refusing any rule that opens egress to everywhere or to an address range
// the environment did not declare. The policies come typed from k8s.io/api
// (what the compiler produces) and are registered through the SDK's typed
// NetworkPolicy resource.
package netpolicy

import (
	"fmt"
	"slices"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	pnetv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	networkingv1 "k8s.io/api/networking/v1"
	k8smeta "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bulwark-platform/bulwark/components/component"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/kinds"
)

// Token is the component's type token.
const Token = "bulwark:netpolicy:NetworkSecurity"

// Args configures NetworkSecurity.
type Args struct {
	Policies []kinds.Object[networkingv1.NetworkPolicySpec]
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

// withDefaults: every field is required; nothing to fill.
func (a *Args) withDefaults() *Args { out := *a; return &out }

func (a *Args) validate() error {
	var l fielderr.List
	seen := map[string]int{}
	for i, np := range a.Policies {
		path := fmt.Sprintf("policies[%d]", i)
		id := np.ID()
		if np.Namespace == "" || np.Name == "" {
			l.Add(fielderr.ErrRequired, path, "NetworkPolicy %q: name and namespace are required", id)
		}
		if j, dup := seen[id]; dup {
			l.Add(fielderr.ErrDuplicate, path, "NetworkPolicy %s is also policies[%d]", id, j)
		}
		seen[id] = i
		for j, rule := range np.Spec.Egress {
			if len(rule.To) == 0 {
				l.Add(fielderr.ErrForbidden, fmt.Sprintf("%s.egress[%d]", path, j), "NetworkPolicy %s allows every destination", id)
			}
			for _, p := range rule.To {
				if p.IPBlock != nil && !slices.Contains(a.AllowedCIDRs, p.IPBlock.CIDR) {
					l.Add(fielderr.ErrForbidden, fmt.Sprintf("%s.egress[%d]", path, j), "NetworkPolicy %s names CIDR %s, which the environment does not declare", id, p.IPBlock.CIDR)
				}
			}
		}
		for j, rule := range np.Spec.Ingress {
			if len(rule.From) == 0 {
				l.Add(fielderr.ErrForbidden, fmt.Sprintf("%s.ingress[%d]", path, j), "NetworkPolicy %s admits every source", id)
			}
		}
	}
	component.RequireProvider(&l, a.Provider)
	return l.Err()
}

// New registers NetworkSecurity.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*NetworkSecurity, error) {
	c := &NetworkSecurity{}
	a, err := component.Begin(ctx, c, Token, name, args, (*Args).withDefaults, (*Args).validate, opts...)
	if err != nil {
		return nil, err
	}
	child := component.Children(c, a.Provider, a.DependsOn...)
	for _, np := range a.Policies {
		meta := &metav1.ObjectMetaArgs{Name: pulumi.String(np.Name), Namespace: pulumi.String(np.Namespace)}
		if len(np.Labels) > 0 {
			meta.Labels = pulumi.ToStringMap(np.Labels)
		}
		if _, err := pnetv1.NewNetworkPolicy(ctx, fmt.Sprintf("%s-%s-%s", name, np.Namespace, np.Name), &pnetv1.NetworkPolicyArgs{
			Metadata: meta, Spec: SpecArgs(np.Spec),
		}, child...); err != nil {
			return nil, err
		}
	}
	c.Count = pulumi.Int(len(a.Policies)).ToIntOutput()
	if err := component.Finish(ctx, c, pulumi.Map{"count": c.Count}); err != nil {
		return nil, err
	}
	return c, nil
}

// SpecArgs converts a k8s.io/api NetworkPolicySpec into the SDK's input type.
func SpecArgs(s networkingv1.NetworkPolicySpec) *pnetv1.NetworkPolicySpecArgs {
	types := pulumi.StringArray{}
	for _, t := range s.PolicyTypes {
		types = append(types, pulumi.String(t))
	}
	out := &pnetv1.NetworkPolicySpecArgs{PodSelector: selector(&s.PodSelector), PolicyTypes: types}
	if len(s.Ingress) > 0 {
		var rules pnetv1.NetworkPolicyIngressRuleArray
		for _, r := range s.Ingress {
			rules = append(rules, &pnetv1.NetworkPolicyIngressRuleArgs{From: peers(r.From), Ports: ports(r.Ports)})
		}
		out.Ingress = rules
	}
	if len(s.Egress) > 0 {
		var rules pnetv1.NetworkPolicyEgressRuleArray
		for _, r := range s.Egress {
			rules = append(rules, &pnetv1.NetworkPolicyEgressRuleArgs{To: peers(r.To), Ports: ports(r.Ports)})
		}
		out.Egress = rules
	}
	return out
}

func selector(s *k8smeta.LabelSelector) *metav1.LabelSelectorArgs {
	out := &metav1.LabelSelectorArgs{}
	if len(s.MatchLabels) > 0 {
		out.MatchLabels = pulumi.ToStringMap(s.MatchLabels)
	}
	var exprs metav1.LabelSelectorRequirementArray
	for _, e := range s.MatchExpressions {
		req := &metav1.LabelSelectorRequirementArgs{Key: pulumi.String(e.Key), Operator: pulumi.String(string(e.Operator))}
		if len(e.Values) > 0 {
			req.Values = pulumi.ToStringArray(e.Values)
		}
		exprs = append(exprs, req)
	}
	if len(exprs) > 0 {
		out.MatchExpressions = exprs
	}
	return out
}

func peers(ps []networkingv1.NetworkPolicyPeer) pnetv1.NetworkPolicyPeerArray {
	var out pnetv1.NetworkPolicyPeerArray
	for _, p := range ps {
		peer := &pnetv1.NetworkPolicyPeerArgs{}
		if p.PodSelector != nil {
			peer.PodSelector = selector(p.PodSelector)
		}
		if p.NamespaceSelector != nil {
			peer.NamespaceSelector = selector(p.NamespaceSelector)
		}
		if p.IPBlock != nil {
			b := &pnetv1.IPBlockArgs{Cidr: pulumi.String(p.IPBlock.CIDR)}
			if len(p.IPBlock.Except) > 0 {
				b.Except = pulumi.ToStringArray(p.IPBlock.Except)
			}
			peer.IpBlock = b
		}
		out = append(out, peer)
	}
	return out
}

func ports(ps []networkingv1.NetworkPolicyPort) pnetv1.NetworkPolicyPortArray {
	var out pnetv1.NetworkPolicyPortArray
	for _, p := range ps {
		port := &pnetv1.NetworkPolicyPortArgs{}
		if p.Protocol != nil {
			port.Protocol = pulumi.String(string(*p.Protocol))
		}
		if p.Port != nil {
			if p.Port.StrVal != "" {
				port.Port = pulumi.String(p.Port.StrVal)
			} else {
				port.Port = pulumi.Int(p.Port.IntValue())
			}
		}
		if p.EndPort != nil {
			port.EndPort = pulumi.Int(int(*p.EndPort))
		}
		out = append(out, port)
	}
	return out
}
