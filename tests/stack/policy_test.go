package stack

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	securityv1beta1 "istio.io/api/security/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/bulwark-platform/bulwark/components/edge"
	"github.com/bulwark-platform/bulwark/infra/peers"
	"github.com/bulwark-platform/bulwark/infra/policy"
	"github.com/bulwark-platform/bulwark/infra/policyeval"
	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// list reads every object of gvr in the namespaces.
func (s *stack) list(t *testing.T, gvr schema.GroupVersionResource, namespaces ...string) []unstructured.Unstructured {
	t.Helper()
	var out []unstructured.Unstructured
	for _, ns := range namespaces {
		l, err := s.dyn.Resource(gvr).Namespace(ns).List(s.ctx, metav1.ListOptions{})
		require.NoError(t, err, "%s in %s", gvr.Resource, ns)
		out = append(out, l.Items...)
	}
	return out
}

// get reads one object of kind k back, decoded into its upstream type.
func get[S any](t *testing.T, s *stack, k kinds.Kind[S], namespace, name string) kinds.Object[S] {
	t.Helper()
	var (
		u   *unstructured.Unstructured
		err error
	)
	if k.ClusterScoped {
		u, err = s.dyn.Resource(k.GVR()).Get(s.ctx, name, metav1.GetOptions{})
	} else {
		u, err = s.dyn.Resource(k.GVR()).Namespace(namespace).Get(s.ctx, name, metav1.GetOptions{})
	}
	require.NoError(t, err, "%s %s/%s", k.Kind, namespace, name)
	o, err := k.Decode(*u)
	require.NoError(t, err)
	return o
}

func (s *stack) livePolicyIsTheGraph(t *testing.T) {
	cfg := s.cfg
	namespaces := append(slices.Clone(s.out.Namespaces), cfg.Mesh.RootNamespace)
	live, err := policyeval.FromLive(
		s.list(t, kinds.NetworkPolicy.GVR(), namespaces...),
		s.list(t, kinds.PeerAuthentication.GVR(), namespaces...),
		s.list(t, kinds.AuthorizationPolicy.GVR(), namespaces...))
	require.NoError(t, err)
	compiled := policy.Compile(&cfg.Graph, cfg.Mesh, peers.Of(cfg))
	assert.Len(t, live.NetworkPolicies, len(compiled.NetworkPolicies), "NetworkPolicies in the cluster")
	assert.Len(t, live.PeerAuthentications, len(compiled.PeerAuthentications), "PeerAuthentications in the cluster")
	assert.Len(t, live.AuthorizationPolicies, len(compiled.AuthorizationPolicies), "AuthorizationPolicies in the cluster")
	for _, ns := range s.out.Namespaces {
		assert.True(t, slices.ContainsFunc(live.NetworkPolicies, func(np policy.NetworkPolicy) bool {
			return np.Namespace == ns && np.Name == "default-deny" && len(np.Spec.PodSelector.MatchLabels) == 0 && len(np.Spec.Ingress)+len(np.Spec.Egress) == 0 && len(np.Spec.PolicyTypes) == 2
		}), "namespace %s lacks a default-deny NetworkPolicy", ns)
	}
	for _, ns := range namespaces {
		assert.True(t, slices.ContainsFunc(live.PeerAuthentications, func(pa policy.PeerAuthentication) bool {
			return pa.Namespace == ns && pa.Spec.GetSelector() == nil && pa.Spec.GetMtls().GetMode() == securityv1beta1.PeerAuthentication_MutualTLS_STRICT
		}), "namespace %s lacks STRICT mTLS", ns)
	}
	sources, dests := policyeval.Parties(&cfg.Graph, cfg.Mesh, peers.Of(cfg))
	report := policyeval.Evaluate(live, sources, dests, cfg.Mesh.TrustDomain, cfg.Mesh.RootNamespace)
	assert.Empty(t, report.Findings)
	want := policyeval.Report{Rows: policyeval.GraphFlows(&cfg.Graph, cfg.Mesh, peers.Of(cfg))}
	assert.Empty(t, policyeval.Diff(want, report), "live policy report differs from the graph")
}

func (s *stack) edgeHolds(t *testing.T) {
	cfg := s.cfg
	gwNS := cfg.Graph.Gateway.Namespace
	gw := get(t, s, kinds.Gateway, gwNS, edge.GatewayName)
	servers := gw.Spec.GetServers()
	require.Len(t, servers, 2)
	for _, srv := range servers {
		switch srv.GetPort().GetProtocol() {
		case "HTTP":
			assert.True(t, srv.GetTls().GetHttpsRedirect(), "HTTP is not redirected to HTTPS")
		case "HTTPS":
			assert.Equal(t, "TLSV1_2", srv.GetTls().GetMinProtocolVersion().String())
			assert.Equal(t, naming.GatewayCertificateSecret, srv.GetTls().GetCredentialName())
		default:
			t.Errorf("unexpected server protocol %q", srv.GetPort().GetProtocol())
		}
	}
	filter := get(t, s, kinds.EnvoyFilter, gwNS, edge.RateLimitFilter)
	limited := map[string]bool{}
	for _, p := range filter.Spec.GetConfigPatches() {
		if name := p.GetMatch().GetRouteConfiguration().GetVhost().GetRoute().GetName(); name != "" {
			limited[name] = true
		}
	}
	for _, c := range cfg.Graph.Gateway.Calls {
		vs := get(t, s, kinds.VirtualService, gwNS, c.Target)
		assert.Len(t, vs.Spec.GetHttp(), 1)
		assert.True(t, limited[c.Target], "route %s has no rate limit", c.Target)
	}
	ra := get(t, s, kinds.RequestAuthentication, gwNS, edge.JWTPolicy)
	require.Len(t, ra.Spec.GetJwtRules(), 1)
	assert.Equal(t, cfg.Edge.JWT.Issuer, ra.Spec.GetJwtRules()[0].GetIssuer())
}
