// Package policy compiles the service graph into the platform's security
// policy: Istio PeerAuthentications (STRICT mTLS) and AuthorizationPolicies
// (deny by default, one ALLOW per graph edge keyed on SPIFFE principals,
// methods and paths), and Kubernetes NetworkPolicies (default deny of
// ingress and egress, one allow per edge and direction). Every allow traces
// back to one graph edge or one named platform peer, by name and by the
// bulwark.dev/edge or bulwark.dev/peer label, so a report or a test can
// check it.
package policy

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	securityv1beta1 "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/infra/peers"
	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// Labels that tie each compiled object to its origin.
const (
	EdgeLabel = naming.EdgeLabel
	PeerLabel = naming.PeerLabel
	RuleLabel = naming.RuleLabel
)

// Typed objects of the set.
type (
	PeerAuthentication  = kinds.Object[*securityv1beta1.PeerAuthentication]
	AuthorizationPolicy = kinds.Object[*securityv1beta1.AuthorizationPolicy]
	NetworkPolicy       = kinds.Object[networkingv1.NetworkPolicySpec]
)

// Set is the compiled policy of one environment.
type Set struct {
	PeerAuthentications   []PeerAuthentication
	AuthorizationPolicies []AuthorizationPolicy
	NetworkPolicies       []NetworkPolicy
}

// EdgeID names a graph edge: caller and callee as name.namespace.
func EdgeID(e graph.Edge) string {
	return naming.EdgeID(e.From.Name, e.From.Namespace, e.To.Name, e.To.Namespace)
}

// Compile turns a validated graph, the mesh configuration and the
// services' platform peers (peers.Of: data stores and Vault) into policy.
func Compile(g *graph.Graph, m config.Mesh, stores peers.Set) Set {
	var s Set
	s.PeerAuthentications = append(s.PeerAuthentications, strictMTLS(m.RootNamespace))
	for _, ns := range g.Namespaces() {
		s.PeerAuthentications = append(s.PeerAuthentications, strictMTLS(ns))
		s.AuthorizationPolicies = append(s.AuthorizationPolicies, AuthorizationPolicy{
			// An ALLOW policy without rules matches nothing: with it in
			// place a request reaches a workload only through an ALLOW below.
			Name: "deny-all", Namespace: ns, Labels: map[string]string{RuleLabel: "deny-all"},
			Spec: &securityv1beta1.AuthorizationPolicy{},
		})
		s.NetworkPolicies = append(s.NetworkPolicies, namespaceNetworkPolicies(ns, m)...)
	}
	for _, e := range g.Edges() {
		s.AuthorizationPolicies = append(s.AuthorizationPolicies, edgeAuthorization(e, m.TrustDomain))
		s.NetworkPolicies = append(s.NetworkPolicies, edgeNetworkPolicies(g, e)...)
	}
	for i := range g.Services {
		svc := &g.Services[i]
		s.AuthorizationPolicies = append(s.AuthorizationPolicies, metricsAuthorization(svc, m))
		s.NetworkPolicies = append(s.NetworkPolicies, serviceNetworkPolicies(svc, m, stores[svc.Name])...)
	}
	return s
}

func strictMTLS(ns string) PeerAuthentication {
	return PeerAuthentication{
		Name: "default", Namespace: ns, Labels: map[string]string{RuleLabel: "strict-mtls"},
		Spec: &securityv1beta1.PeerAuthentication{
			Mtls: &securityv1beta1.PeerAuthentication_MutualTLS{Mode: securityv1beta1.PeerAuthentication_MutualTLS_STRICT},
		},
	}
}

func edgeAuthorization(e graph.Edge, trustDomain string) AuthorizationPolicy {
	return AuthorizationPolicy{
		Name: e.To.Name + "-from-" + e.From.Name, Namespace: e.To.Namespace,
		Labels: map[string]string{EdgeLabel: EdgeID(e)},
		Spec: &securityv1beta1.AuthorizationPolicy{
			Selector: &typev1beta1.WorkloadSelector{MatchLabels: naming.SelectorLabels(e.To.Name)},
			Action:   securityv1beta1.AuthorizationPolicy_ALLOW,
			Rules: []*securityv1beta1.Rule{{
				From: []*securityv1beta1.Rule_From{{Source: &securityv1beta1.Source{Principals: []string{e.From.SPIFFEID(trustDomain)}}}},
				To:   operations(e),
			}},
		},
	}
}

// operations are the edge's calls, one operation each, on the callee's port.
func operations(e graph.Edge) []*securityv1beta1.Rule_To {
	var out []*securityv1beta1.Rule_To
	for _, c := range e.Calls {
		out = append(out, &securityv1beta1.Rule_To{Operation: &securityv1beta1.Operation{
			Methods: slices.Clone(c.Methods),
			Paths:   slices.Clone(c.Paths),
			Ports:   []string{strconv.Itoa(e.To.Port)},
		}})
	}
	return out
}

// metricsAuthorization lets Prometheus, and only Prometheus, GET /metrics
// on the metrics port. Prometheus scrapes through its own sidecar's
// certificates, so under STRICT mTLS it has a principal like any workload.
func metricsAuthorization(svc *graph.Service, m config.Mesh) AuthorizationPolicy {
	prom := graph.Identity{Name: "prometheus", Namespace: m.Prometheus.Namespace, ServiceAccount: m.Prometheus.ServiceAccount}
	return AuthorizationPolicy{
		Name: svc.Name + "-from-prometheus", Namespace: svc.Namespace,
		Labels: map[string]string{PeerLabel: "prometheus"},
		Spec: &securityv1beta1.AuthorizationPolicy{
			Selector: &typev1beta1.WorkloadSelector{MatchLabels: naming.SelectorLabels(svc.Name)},
			Action:   securityv1beta1.AuthorizationPolicy_ALLOW,
			Rules: []*securityv1beta1.Rule{{
				From: []*securityv1beta1.Rule_From{{Source: &securityv1beta1.Source{Principals: []string{prom.SPIFFEID(m.TrustDomain)}}}},
				To: []*securityv1beta1.Rule_To{{Operation: &securityv1beta1.Operation{
					Methods: []string{"GET"}, Paths: []string{"/metrics"}, Ports: []string{strconv.Itoa(svc.MetricsPort)},
				}}},
			}},
		},
	}
}

func netpol(name, ns string, labels map[string]string, podSelector map[string]string, types ...networkingv1.PolicyType) NetworkPolicy {
	return kinds.NetworkPolicy.Of(name, ns, labels, networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: podSelector},
		PolicyTypes: types,
	})
}

func peerOf(ns string, pods map[string]string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{naming.NamespaceNameLabel: ns}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: maps.Clone(pods)},
	}
}

func ports(proto corev1.Protocol, nums ...int) []networkingv1.NetworkPolicyPort {
	out := make([]networkingv1.NetworkPolicyPort, len(nums))
	for i, n := range nums {
		p, port := proto, intstr.FromInt32(int32(n))
		out[i] = networkingv1.NetworkPolicyPort{Protocol: &p, Port: &port}
	}
	return out
}

// namespaceNetworkPolicies: deny everything, then let every pod resolve
// names, reach istiod and export traces.
func namespaceNetworkPolicies(ns string, m config.Mesh) []NetworkPolicy {
	egressTo := func(name, peer string, p config.Peer, ps []networkingv1.NetworkPolicyPort) NetworkPolicy {
		np := netpol(name, ns, map[string]string{PeerLabel: peer}, nil, networkingv1.PolicyTypeEgress)
		np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{peerOf(p.Namespace, p.PodLabels)}, Ports: ps}}
		return np
	}
	out := []NetworkPolicy{
		netpol("default-deny", ns, map[string]string{RuleLabel: "default-deny"}, nil, networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress),
		egressTo("allow-dns", "dns", m.DNS, append(ports(corev1.ProtocolUDP, m.DNS.Port), ports(corev1.ProtocolTCP, m.DNS.Port)...)),
		egressTo("allow-istiod", "istiod", m.Istiod, ports(corev1.ProtocolTCP, m.Istiod.Port)),
		egressTo("allow-otel-collector", "otel-collector", m.OTelCollector, ports(corev1.ProtocolTCP, m.OTelCollector.Port)),
	}
	if len(m.EgressCIDRs) > 0 {
		np := netpol("allow-egress-cidrs", ns, map[string]string{PeerLabel: "egress-cidrs"}, nil, networkingv1.PolicyTypeEgress)
		rule := networkingv1.NetworkPolicyEgressRule{}
		for _, cidr := range m.EgressCIDRs {
			rule.To = append(rule.To, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
		}
		np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{rule}
		out = append(out, np)
	}
	return out
}

// edgeNetworkPolicies: the callee admits the caller on its port; a caller
// in an application namespace may send to the callee on that port.
func edgeNetworkPolicies(g *graph.Graph, e graph.Edge) []NetworkPolicy {
	labels := map[string]string{EdgeLabel: EdgeID(e)}
	callerPods := naming.SelectorLabels(e.From.Name)
	if e.From.Name == graph.GatewayName {
		callerPods = g.Gateway.PodLabels
	}
	in := netpol(e.To.Name+"-from-"+e.From.Name, e.To.Namespace, labels, naming.SelectorLabels(e.To.Name), networkingv1.PolicyTypeIngress)
	in.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
		From: []networkingv1.NetworkPolicyPeer{peerOf(e.From.Namespace, callerPods)}, Ports: ports(corev1.ProtocolTCP, e.To.Port),
	}}
	out := []NetworkPolicy{in}
	if e.From.Name != graph.GatewayName {
		eg := netpol(e.From.Name+"-to-"+e.To.Name, e.From.Namespace, labels, callerPods, networkingv1.PolicyTypeEgress)
		eg.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
			To: []networkingv1.NetworkPolicyPeer{peerOf(e.To.Namespace, naming.SelectorLabels(e.To.Name))}, Ports: ports(corev1.ProtocolTCP, e.To.Port),
		}}
		out = append(out, eg)
	}
	return out
}

// serviceNetworkPolicies: Prometheus scrapes the metrics port; the service
// reaches its platform peers (peers.Of: its PostgreSQL, Redis and Vault,
// in the cluster or at an external address), nothing else.
func serviceNetworkPolicies(svc *graph.Service, m config.Mesh, stores []peers.Peer) []NetworkPolicy {
	pods := naming.SelectorLabels(svc.Name)
	scrape := netpol(svc.Name+"-from-prometheus", svc.Namespace, map[string]string{PeerLabel: "prometheus"}, pods, networkingv1.PolicyTypeIngress)
	scrape.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
		From: []networkingv1.NetworkPolicyPeer{peerOf(m.Prometheus.Namespace, m.Prometheus.PodLabels)}, Ports: ports(corev1.ProtocolTCP, svc.MetricsPort),
	}}
	out := []NetworkPolicy{scrape}
	for _, st := range stores {
		np := netpol(fmt.Sprintf("%s-to-%s", svc.Name, st.Store), svc.Namespace, map[string]string{PeerLabel: st.Store}, pods, networkingv1.PolicyTypeEgress)
		to := networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: st.CIDR}}
		if st.InCluster() {
			to = peerOf(st.Namespace, st.PodLabels)
		}
		np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{to}, Ports: ports(corev1.ProtocolTCP, st.Ports...)}}
		out = append(out, np)
	}
	return out
}
