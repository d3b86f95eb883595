package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	securityv1beta1 "istio.io/api/security/v1beta1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/infra/peers"
)

func compileEnv(t *testing.T, env config.Environment) (*config.Config, Set) {
	t.Helper()
	cfg := config.Defaults(env)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg, Compile(&cfg.Graph, cfg.Mesh, peers.Of(cfg))
}

func TestEveryNamespaceIsLockedDown(t *testing.T) {
	cfg, set := compileEnv(t, config.Staging)
	for _, ns := range append(cfg.Graph.Namespaces(), cfg.Mesh.RootNamespace) {
		strict := slices.ContainsFunc(set.PeerAuthentications, func(p PeerAuthentication) bool {
			return p.Namespace == ns && p.Spec.GetSelector() == nil && p.Spec.GetMtls().GetMode() == securityv1beta1.PeerAuthentication_MutualTLS_STRICT && len(p.Spec.GetPortLevelMtls()) == 0
		})
		if !strict {
			t.Errorf("namespace %s: no namespace-wide STRICT PeerAuthentication", ns)
		}
	}
	for _, ns := range cfg.Graph.Namespaces() {
		denyAll := slices.ContainsFunc(set.AuthorizationPolicies, func(a AuthorizationPolicy) bool {
			return a.Namespace == ns && a.Spec.GetSelector() == nil && len(a.Spec.GetRules()) == 0 && a.Spec.GetAction() == securityv1beta1.AuthorizationPolicy_ALLOW
		})
		if !denyAll {
			t.Errorf("namespace %s: no deny-all AuthorizationPolicy", ns)
		}
		defaultDeny := slices.ContainsFunc(set.NetworkPolicies, func(np NetworkPolicy) bool {
			return np.Namespace == ns && len(np.Spec.PodSelector.MatchLabels) == 0 && len(np.Spec.PodSelector.MatchExpressions) == 0 &&
				len(np.Spec.Ingress) == 0 && len(np.Spec.Egress) == 0 &&
				slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) && slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		})
		if !defaultDeny {
			t.Errorf("namespace %s: no default-deny NetworkPolicy for ingress and egress", ns)
		}
	}
}

// Every allow rule traces back to exactly one graph edge or one platform
// peer, and every graph edge has both an AuthorizationPolicy and network
// policies.
func TestEveryAllowTracesToOneEdgeAndEveryEdgeHasBoth(t *testing.T) {
	cfg, set := compileEnv(t, config.Prod)
	edges := map[string]graph.Edge{}
	for _, e := range cfg.Graph.Edges() {
		edges[EdgeID(e)] = e
	}
	apPerEdge, npPerEdge := map[string]int{}, map[string]int{}
	for _, ap := range set.AuthorizationPolicies {
		if len(ap.Spec.GetRules()) == 0 {
			continue // deny-all
		}
		id, isEdge := ap.Labels[EdgeLabel]
		if !isEdge && ap.Labels[PeerLabel] == "" {
			t.Errorf("AuthorizationPolicy %s/%s traces to no edge or peer", ap.Namespace, ap.Name)
			continue
		}
		if isEdge {
			e, ok := edges[id]
			if !ok {
				t.Errorf("AuthorizationPolicy %s/%s names unknown edge %s", ap.Namespace, ap.Name, id)
				continue
			}
			apPerEdge[id]++
			rule := ap.Spec.GetRules()[0]
			exact := len(ap.Spec.GetRules()) == 1 && slices.Equal(rule.GetFrom()[0].GetSource().GetPrincipals(), []string{e.From.SPIFFEID(cfg.Mesh.TrustDomain)}) &&
				len(rule.GetTo()) == len(e.Calls)
			for i, c := range e.Calls {
				op := rule.GetTo()[min(i, len(rule.GetTo())-1)].GetOperation()
				exact = exact && slices.Equal(op.GetMethods(), c.Methods) && slices.Equal(op.GetPaths(), c.Paths)
			}
			if !exact {
				t.Errorf("AuthorizationPolicy %s/%s does not encode edge %s exactly", ap.Namespace, ap.Name, id)
			}
		}
	}
	for _, np := range set.NetworkPolicies {
		rules := len(np.Spec.Ingress) + len(np.Spec.Egress)
		if rules == 0 {
			continue // default deny
		}
		id, isEdge := np.Labels[EdgeLabel]
		if !isEdge && np.Labels[PeerLabel] == "" {
			t.Errorf("NetworkPolicy %s/%s traces to no edge or peer", np.Namespace, np.Name)
		}
		if isEdge {
			if _, ok := edges[id]; !ok {
				t.Errorf("NetworkPolicy %s/%s names unknown edge %s", np.Namespace, np.Name, id)
			}
			npPerEdge[id]++
		}
	}
	for id, e := range edges {
		if apPerEdge[id] != 1 {
			t.Errorf("edge %s has %d AuthorizationPolicies, want 1", id, apPerEdge[id])
		}
		want := 2
		if e.From.Name == graph.GatewayName {
			want = 1 // the gateway's own namespace is not an application namespace
		}
		if npPerEdge[id] != want {
			t.Errorf("edge %s has %d NetworkPolicies, want %d", id, npPerEdge[id], want)
		}
	}
}

func TestNoWildcardsAndNoOpenEgress(t *testing.T) {
	for _, env := range config.Environments {
		cfg, set := compileEnv(t, env)
		for _, ap := range set.AuthorizationPolicies {
			for _, rule := range ap.Spec.GetRules() {
				if len(rule.GetFrom()) == 0 {
					t.Errorf("%s: %s/%s has a rule open to every source", env, ap.Namespace, ap.Name)
				}
				for _, f := range rule.GetFrom() {
					src := f.GetSource()
					if len(src.GetPrincipals()) == 0 {
						t.Errorf("%s: %s/%s admits sources without a principal", env, ap.Namespace, ap.Name)
					}
					for _, p := range append(src.GetPrincipals(), src.GetNamespaces()...) {
						if strings.Contains(p, "*") {
							t.Errorf("%s: %s/%s has wildcard source %q", env, ap.Namespace, ap.Name, p)
						}
						if !strings.HasPrefix(p, cfg.Mesh.TrustDomain+"/ns/") {
							t.Errorf("%s: %s/%s principal %q is not a SPIFFE ID of the trust domain", env, ap.Namespace, ap.Name, p)
						}
					}
				}
			}
		}
		for _, np := range set.NetworkPolicies {
			for _, rule := range np.Spec.Egress {
				if len(rule.To) == 0 {
					t.Errorf("%s: %s/%s allows egress to everywhere", env, np.Namespace, np.Name)
				}
				for _, p := range rule.To {
					if p.IPBlock != nil && !slices.Contains(slices.Concat(cfg.Mesh.EgressCIDRs, peers.Of(cfg).CIDRs()), p.IPBlock.CIDR) {
						t.Errorf("%s: %s/%s allows undeclared CIDR %s", env, np.Namespace, np.Name, p.IPBlock.CIDR)
					}
					if p.NamespaceSelector != nil && len(p.NamespaceSelector.MatchLabels) == 0 {
						t.Errorf("%s: %s/%s allows egress to every namespace", env, np.Namespace, np.Name)
					}
				}
			}
			for _, rule := range np.Spec.Ingress {
				if len(rule.From) == 0 {
					t.Errorf("%s: %s/%s admits ingress from everywhere", env, np.Namespace, np.Name)
				}
			}
		}
	}
}

func TestDeclaredEgressCIDRsAreTheOnlyOnes(t *testing.T) {
	cfg := config.Defaults(config.Prod)
	cfg.Mesh.EgressCIDRs = []string{"203.0.113.0/24"}
	set := Compile(&cfg.Graph, cfg.Mesh, peers.Of(cfg))
	var cidrs []string
	for _, np := range set.NetworkPolicies {
		for _, rule := range np.Spec.Egress {
			for _, p := range rule.To {
				if p.IPBlock != nil {
					cidrs = append(cidrs, np.Namespace+":"+p.IPBlock.CIDR)
				}
			}
		}
	}
	slices.Sort(cidrs)
	want := []string{"payments:203.0.113.0/24", "shop:203.0.113.0/24"}
	if !slices.Equal(cidrs, want) {
		t.Errorf("egress CIDRs %v, want %v", cidrs, want)
	}
}

func TestPortsFollowTheGraph(t *testing.T) {
	cfg := config.Defaults(config.Dev)
	cfg.Graph.Services[1].Port = 9443 // payment
	set := Compile(&cfg.Graph, cfg.Mesh, peers.Of(cfg))
	for _, np := range set.NetworkPolicies {
		if np.Name == "payment-from-order" {
			if got := np.Spec.Ingress[0].Ports[0].Port.IntValue(); got != 9443 {
				t.Errorf("ingress port %d", got)
			}
		}
	}
	for _, ap := range set.AuthorizationPolicies {
		if ap.Name == "payment-from-order" {
			if got := ap.Spec.GetRules()[0].GetTo()[0].GetOperation().GetPorts(); fmt.Sprint(got) != "["+strconv.Itoa(9443)+"]" {
				t.Errorf("operation ports %v", got)
			}
		}
	}
}
