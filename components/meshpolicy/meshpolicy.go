// Package meshpolicy provides MeshSecurity: Istio PeerAuthentications,
// AuthorizationPolicies and the ServiceEntries of external services a
// REGISTRY_ONLY mesh may reach, refusing anything that would weaken the
// mesh (a PeerAuthentication that is not STRICT, a wildcard or missing
// principal, an entry for a wildcard host or visible to every namespace).
package meshpolicy

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	securityv1beta1 "istio.io/api/security/v1beta1"

	"github.com/bulwark-platform/bulwark/components/component"
	"github.com/bulwark-platform/bulwark/components/kobject"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/kinds"
)

// Token is the component's type token.
const Token = "bulwark:meshpolicy:MeshSecurity"

// Args configures MeshSecurity.
type Args struct {
	PeerAuthentications   []kinds.Object[*securityv1beta1.PeerAuthentication]
	AuthorizationPolicies []kinds.Object[*securityv1beta1.AuthorizationPolicy]
	// ServiceEntries are external services sidecars may reach (an
	// external Vault).
	ServiceEntries []kinds.Object[*networkingv1alpha3.ServiceEntry]
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

// withDefaults: every field is required; nothing to fill.
func (a *Args) withDefaults() *Args { out := *a; return &out }

func (a *Args) validate() error {
	var l fielderr.List
	seen := map[string]string{}
	name := func(path, kind, ns, n string) {
		key := kind + "/" + ns + "/" + n
		if ns == "" || n == "" {
			l.Add(fielderr.ErrRequired, path, "%s %q in namespace %q: name and namespace are required", kind, n, ns)
		} else if first, dup := seen[key]; dup {
			l.Add(fielderr.ErrDuplicate, path, "%s %s/%s is also %s", kind, ns, n, first)
		}
		seen[key] = path
	}
	for i, p := range a.PeerAuthentications {
		path := fmt.Sprintf("peerAuthentications[%d]", i)
		name(path, "PeerAuthentication", p.Namespace, p.Name)
		if p.Spec.GetMtls().GetMode() != securityv1beta1.PeerAuthentication_MutualTLS_STRICT {
			l.Add(fielderr.ErrForbidden, path+".mtls.mode", "%s/%s is %s; only STRICT is allowed", p.Namespace, p.Name, p.Spec.GetMtls().GetMode())
		}
		for port, m := range p.Spec.GetPortLevelMtls() {
			if m.GetMode() != securityv1beta1.PeerAuthentication_MutualTLS_STRICT {
				l.Add(fielderr.ErrForbidden, fmt.Sprintf("%s.portLevelMtls[%d]", path, port), "%s/%s is %s; only STRICT is allowed", p.Namespace, p.Name, m.GetMode())
			}
		}
	}
	for i, ap := range a.AuthorizationPolicies {
		path := fmt.Sprintf("authorizationPolicies[%d]", i)
		name(path, "AuthorizationPolicy", ap.Namespace, ap.Name)
		for j, rule := range ap.Spec.GetRules() {
			rp := fmt.Sprintf("%s.rules[%d]", path, j)
			if len(rule.GetFrom()) == 0 {
				l.Add(fielderr.ErrForbidden, rp, "%s/%s admits every source; name the principals", ap.Namespace, ap.Name)
			}
			for _, f := range rule.GetFrom() {
				src := f.GetSource()
				if len(src.GetPrincipals()) == 0 {
					l.Add(fielderr.ErrForbidden, rp, "%s/%s has a source without principals", ap.Namespace, ap.Name)
				}
				for _, p := range append(src.GetPrincipals(), src.GetNamespaces()...) {
					if strings.Contains(p, "*") {
						l.Add(fielderr.ErrForbidden, rp, "%s/%s has wildcard source %q", ap.Namespace, ap.Name, p)
					}
				}
			}
		}
	}
	for i, se := range a.ServiceEntries {
		path := fmt.Sprintf("serviceEntries[%d]", i)
		name(path, "ServiceEntry", se.Namespace, se.Name)
		for _, h := range se.Spec.GetHosts() {
			if strings.Contains(h, "*") {
				l.Add(fielderr.ErrForbidden, path+".hosts", "%s/%s names wildcard host %q", se.Namespace, se.Name, h)
			}
		}
		if x := se.Spec.GetExportTo(); len(x) != 1 || x[0] != "." {
			l.Add(fielderr.ErrForbidden, path+".exportTo", "%s/%s must be visible in its own namespace only (exportTo: [\".\"]), got %v", se.Namespace, se.Name, x)
		}
		if se.Spec.GetLocation() != networkingv1alpha3.ServiceEntry_MESH_EXTERNAL {
			l.Add(fielderr.ErrForbidden, path+".location", "%s/%s must be MESH_EXTERNAL", se.Namespace, se.Name)
		}
	}
	component.RequireProvider(&l, a.Provider)
	return l.Err()
}

// New registers MeshSecurity.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*MeshSecurity, error) {
	c := &MeshSecurity{}
	a, err := component.Begin(ctx, c, Token, name, args, (*Args).withDefaults, (*Args).validate, opts...)
	if err != nil {
		return nil, err
	}
	child := component.Children(c, a.Provider, a.DependsOn...)
	if err := kobject.RegisterAll(ctx, name+"-pa", kinds.PeerAuthentication, a.PeerAuthentications, child...); err != nil {
		return nil, err
	}
	if err := kobject.RegisterAll(ctx, name+"-ap", kinds.AuthorizationPolicy, a.AuthorizationPolicies, child...); err != nil {
		return nil, err
	}
	if err := kobject.RegisterAll(ctx, name+"-se", kinds.ServiceEntry, a.ServiceEntries, child...); err != nil {
		return nil, err
	}
	c.Count = pulumi.Int(len(a.PeerAuthentications) + len(a.AuthorizationPolicies) + len(a.ServiceEntries)).ToIntOutput()
	if err := component.Finish(ctx, c, pulumi.Map{"count": c.Count}); err != nil {
		return nil, err
	}
	return c, nil
}
