// Package policyeval reads compiled or live policy sets the way Kubernetes
// and Istio do (NetworkPolicy and AuthorizationPolicy semantics), without
// the compiler's knowledge of the graph: who may talk to whom, on which
// ports, methods and paths, and where the two layers disagree. It is the
// independent check behind the policy report, the property test and the
// stack check's reading of the live objects.
package policyeval

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	securityv1beta1 "istio.io/api/security/v1beta1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/infra/peers"
	"github.com/bulwark-platform/bulwark/infra/policy"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// Workload is a party the report evaluates: a pod set with its identity,
// labels and the TCP ports it serves.
type Workload struct {
	Name, Namespace, ServiceAccount string
	Labels                          map[string]string
	Ports                           []int
	// Meshed workloads get mesh (L7) policy; platform peers such as DNS
	// are judged by network policy alone.
	Meshed bool
	// Managed workloads run in the namespaces the compiled policy
	// governs; flows between two unmanaged parties are outside the report.
	Managed bool
}

// ID is name.namespace.
func (w Workload) ID() string { return w.Name + "." + w.Namespace }

// Row is one permitted flow: From may open TCP connections to To on Port,
// and, for meshed destinations, send requests with these methods and paths.
type Row struct {
	From, To string
	Port     int
	Methods  []string `json:",omitempty"`
	Paths    []string `json:",omitempty"`
	// Client and Scopes are what authorizes the request at the identity
	// layer, beside the mesh and network allows: the OAuth client whose
	// token the caller sends (the browser client on the gateway's edges,
	// the caller's confidential client on a service's) and the scopes the
	// call requires. Authorize sets them from the identity model; they
	// are empty on flows no token authorizes (Prometheus, platform peers).
	Client string   `json:",omitempty"`
	Scopes []string `json:",omitempty"`
}

// String is the row as one line, used for sorting and diffs.
func (r Row) String() string {
	m, p := "-", "-"
	if len(r.Methods) > 0 {
		m = strings.Join(r.Methods, ",")
	}
	if len(r.Paths) > 0 {
		p = strings.Join(r.Paths, ",")
	}
	return fmt.Sprintf("%s -> %s :%d %s %s", r.From, r.To, r.Port, m, p)
}

// Authorized is the row as one line with what authorizes it: the flow,
// then the client and its scopes when a token does.
func (r Row) Authorized() string {
	if r.Client == "" {
		return r.String()
	}
	return r.String() + " client " + r.Client + " scopes " + orDash(strings.Join(r.Scopes, ","))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Report is what the policies permit, and where the two layers disagree.
type Report struct {
	Rows []Row
	// Findings are flows one layer permits and the other refuses: not a
	// hole, but a sign that the compiler or a hand edit drifted.
	Findings []string
}

// Parties lists the report's sources and destinations for a configuration:
// the gateway, the services, Prometheus and the platform peers. Only who
// exists comes from here; who may talk to whom comes from the policies.
func Parties(g *graph.Graph, m config.Mesh, stores peers.Set) (sources, dests []Workload) {
	gw := Workload{Name: graph.GatewayName, Namespace: g.Gateway.Namespace, ServiceAccount: g.Gateway.ServiceAccount, Labels: g.Gateway.PodLabels, Meshed: true}
	prom := Workload{Name: "prometheus", Namespace: m.Prometheus.Namespace, ServiceAccount: m.Prometheus.ServiceAccount, Labels: m.Prometheus.PodLabels, Meshed: true}
	sources = append(sources, gw)
	for _, s := range g.Services {
		w := Workload{Name: s.Name, Namespace: s.Namespace, ServiceAccount: s.ServiceAccount, Labels: naming.SelectorLabels(s.Name), Ports: []int{s.Port, s.MetricsPort}, Meshed: true, Managed: true}
		sources = append(sources, w)
		dests = append(dests, w)
	}
	sources = append(sources, prom)
	for _, p := range egressPeers(m) {
		dests = append(dests, Workload{Name: p.name, Namespace: p.peer.Namespace, Labels: p.peer.PodLabels, Ports: []int{p.peer.Port}})
	}
	// The data stores in the cluster, each once (a shared cluster serves
	// several services); external ones are addresses, read off ipBlocks.
	seen := map[string]bool{}
	for _, s := range g.Services {
		for _, p := range stores[s.Name] {
			if id := p.Name + "." + p.Namespace; p.InCluster() && !seen[id] {
				seen[id] = true
				dests = append(dests, Workload{Name: p.Name, Namespace: p.Namespace, Labels: p.PodLabels, Ports: p.Ports})
			}
		}
	}
	return sources, dests
}

// namedPeer is a platform peer services send to, and whether a service uses it.
type namedPeer struct {
	name string
	peer config.Peer
	uses func(graph.Service) bool
}

func always(graph.Service) bool { return true }

// egressPeers are the platform peers every application pod may reach:
// DNS, istiod and the collector. The data stores are per service
// (peers.Of).
func egressPeers(m config.Mesh) []namedPeer {
	return []namedPeer{{"dns", m.DNS, always}, {"istiod", m.Istiod, always}, {"otel-collector", m.OTelCollector, always}}
}

// GraphFlows is what the graph and the mesh configuration say may flow:
// each call on its callee's port with its methods and paths, Prometheus to
// each metrics port, and each service to the platform peers it uses. The
// report over correctly compiled policy equals it exactly.
func GraphFlows(g *graph.Graph, m config.Mesh, stores peers.Set) []Row {
	var out []Row
	for _, e := range g.Edges() {
		for _, c := range e.Calls {
			out = append(out, Row{From: e.From.Name + "." + e.From.Namespace, To: e.To.Name + "." + e.To.Namespace, Port: e.To.Port, Methods: c.Methods, Paths: c.Paths})
		}
	}
	for _, s := range g.Services {
		id := s.Name + "." + s.Namespace
		out = append(out, Row{From: "prometheus." + m.Prometheus.Namespace, To: id, Port: s.MetricsPort, Methods: []string{"GET"}, Paths: []string{"/metrics"}})
		for _, p := range egressPeers(m) {
			if p.uses(s) {
				out = append(out, Row{From: id, To: p.name + "." + p.peer.Namespace, Port: p.peer.Port})
			}
		}
		for _, p := range stores[s.Name] {
			if !p.InCluster() {
				// An address: the report reads it off the ipBlock of the
				// service's own policy.
				out = append(out, Row{From: "pods of " + s.Namespace + " selected by " + s.Name + "-to-" + p.Store, To: p.CIDR})
				continue
			}
			for _, port := range p.Ports {
				out = append(out, Row{From: id, To: p.Name + "." + p.Namespace, Port: port})
			}
		}
	}
	for _, cidr := range m.EgressCIDRs {
		for _, ns := range g.Namespaces() {
			out = append(out, Row{From: "pods of " + ns + " selected by allow-egress-cidrs", To: cidr})
		}
	}
	return out
}

// Evaluate derives every permitted flow between sources and dests from
// the policies alone, under Kubernetes NetworkPolicy and Istio
// AuthorizationPolicy semantics.
func Evaluate(s policy.Set, sources, dests []Workload, trustDomain, rootNamespace string) Report {
	var r Report
	for _, src := range sources {
		for _, dst := range dests {
			if src.ID() == dst.ID() || (!src.Managed && !dst.Managed) {
				continue
			}
			for _, port := range dst.Ports {
				netOK := allowedByNetwork(s.NetworkPolicies, src, dst, port)
				if !dst.Meshed {
					if netOK {
						r.Rows = append(r.Rows, Row{From: src.ID(), To: dst.ID(), Port: port})
					}
					continue
				}
				ops := allowedByMesh(s.AuthorizationPolicies, src, dst, port, trustDomain, rootNamespace)
				switch {
				case netOK && len(ops) > 0:
					for _, op := range ops {
						r.Rows = append(r.Rows, Row{From: src.ID(), To: dst.ID(), Port: port, Methods: op.methods, Paths: op.paths})
					}
				case netOK:
					r.Findings = append(r.Findings, fmt.Sprintf("%s -> %s :%d: network policy admits it, the mesh refuses every request", src.ID(), dst.ID(), port))
				case len(ops) > 0:
					r.Findings = append(r.Findings, fmt.Sprintf("%s -> %s :%d: the mesh allows requests, network policy drops the connection", src.ID(), dst.ID(), port))
				}
			}
		}
	}
	for _, cidr := range egressCIDRs(s.NetworkPolicies) {
		r.Rows = append(r.Rows, Row{From: cidr.from, To: cidr.cidr})
	}
	slices.SortFunc(r.Rows, func(a, b Row) int { return strings.Compare(a.String(), b.String()) })
	slices.Sort(r.Findings)
	return r
}

func matches(sel *metav1.LabelSelector, l map[string]string) bool {
	if sel == nil {
		return true
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set(l))
}

func peerMatches(p networkingv1.NetworkPolicyPeer, policyNS string, w Workload) bool {
	if p.IPBlock != nil {
		return false // in-cluster pods are judged by selectors, not addresses
	}
	if p.NamespaceSelector == nil {
		if w.Namespace != policyNS {
			return false
		}
	} else if !matches(p.NamespaceSelector, map[string]string{naming.NamespaceNameLabel: w.Namespace}) {
		return false
	}
	return matches(p.PodSelector, w.Labels)
}

func portMatches(ps []networkingv1.NetworkPolicyPort, port int) bool {
	if len(ps) == 0 {
		return true
	}
	for _, p := range ps {
		if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP {
			continue
		}
		if p.Port == nil {
			return true
		}
		lo := p.Port.IntValue()
		hi := lo
		if p.EndPort != nil {
			hi = int(*p.EndPort)
		}
		if port >= lo && port <= hi {
			return true
		}
	}
	return false
}

func hasType(np policy.NetworkPolicy, t networkingv1.PolicyType) bool {
	if len(np.Spec.PolicyTypes) == 0 {
		return t == networkingv1.PolicyTypeIngress || len(np.Spec.Egress) > 0
	}
	return slices.Contains(np.Spec.PolicyTypes, t)
}

// allowedByNetwork: the destination's ingress and the source's egress must
// both admit the connection; a pod no policy of a direction selects is
// open in that direction.
func allowedByNetwork(nps []policy.NetworkPolicy, src, dst Workload, port int) bool {
	ingressSelected, ingressOK := false, false
	egressSelected, egressOK := false, false
	for _, np := range nps {
		if np.Namespace == dst.Namespace && hasType(np, networkingv1.PolicyTypeIngress) && matches(&np.Spec.PodSelector, dst.Labels) {
			ingressSelected = true
			for _, rule := range np.Spec.Ingress {
				if portMatches(rule.Ports, port) && (len(rule.From) == 0 || slices.ContainsFunc(rule.From, func(p networkingv1.NetworkPolicyPeer) bool { return peerMatches(p, np.Namespace, src) })) {
					ingressOK = true
				}
			}
		}
		if np.Namespace == src.Namespace && hasType(np, networkingv1.PolicyTypeEgress) && matches(&np.Spec.PodSelector, src.Labels) {
			egressSelected = true
			for _, rule := range np.Spec.Egress {
				if portMatches(rule.Ports, port) && (len(rule.To) == 0 || slices.ContainsFunc(rule.To, func(p networkingv1.NetworkPolicyPeer) bool { return peerMatches(p, np.Namespace, dst) })) {
					egressOK = true
				}
			}
		}
	}
	return (!ingressSelected || ingressOK) && (!egressSelected || egressOK)
}

type operation struct{ methods, paths []string }

// allowedByMesh returns the request shapes ALLOW policies grant src on
// dst's port. With no ALLOW policy applying, Istio allows everything.
func allowedByMesh(aps []policy.AuthorizationPolicy, src, dst Workload, port int, trustDomain, rootNamespace string) []operation {
	principal := graph.Identity{Namespace: src.Namespace, ServiceAccount: src.ServiceAccount}.SPIFFEID(trustDomain)
	applies := false
	var ops []operation
	for _, ap := range aps {
		if ap.Namespace != dst.Namespace && ap.Namespace != rootNamespace {
			continue
		}
		if sel := ap.Spec.GetSelector(); sel != nil && !matches(&metav1.LabelSelector{MatchLabels: sel.GetMatchLabels()}, dst.Labels) {
			continue
		}
		if ap.Spec.GetAction() != securityv1beta1.AuthorizationPolicy_ALLOW {
			continue
		}
		applies = true
		for _, rule := range ap.Spec.GetRules() {
			if !fromMatches(rule.GetFrom(), principal, src.Namespace) {
				continue
			}
			if len(rule.GetTo()) == 0 {
				ops = append(ops, operation{methods: []string{"*"}, paths: []string{"*"}})
				continue
			}
			for _, to := range rule.GetTo() {
				op := to.GetOperation()
				if len(op.GetPorts()) > 0 && !slices.Contains(op.GetPorts(), strconv.Itoa(port)) {
					continue
				}
				o := operation{methods: op.GetMethods(), paths: op.GetPaths()}
				if len(o.methods) == 0 {
					o.methods = []string{"*"}
				}
				if len(o.paths) == 0 {
					o.paths = []string{"*"}
				}
				ops = append(ops, o)
			}
		}
	}
	if !applies {
		return []operation{{methods: []string{"*"}, paths: []string{"*"}}}
	}
	return ops
}

func fromMatches(from []*securityv1beta1.Rule_From, principal, namespace string) bool {
	if len(from) == 0 {
		return true
	}
	for _, f := range from {
		s := f.GetSource()
		if len(s.GetPrincipals()) > 0 && !slices.Contains(s.GetPrincipals(), principal) && !slices.Contains(s.GetPrincipals(), "*") {
			continue
		}
		if len(s.GetNamespaces()) > 0 && !slices.Contains(s.GetNamespaces(), namespace) && !slices.Contains(s.GetNamespaces(), "*") {
			continue
		}
		return true
	}
	return false
}

type cidrRow struct{ from, cidr string }

func egressCIDRs(nps []policy.NetworkPolicy) []cidrRow {
	var out []cidrRow
	for _, np := range nps {
		for _, rule := range np.Spec.Egress {
			for _, p := range rule.To {
				if p.IPBlock != nil {
					out = append(out, cidrRow{from: "pods of " + np.Namespace + " selected by " + np.Name, cidr: p.IPBlock.CIDR})
				}
			}
		}
	}
	return out
}

// Write prints the report as a table.
func (r Report) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FROM\tTO\tPORT\tMETHODS\tPATHS\tCLIENT\tSCOPES")
	for _, row := range r.Rows {
		port, m, p := strconv.Itoa(row.Port), strings.Join(row.Methods, ","), strings.Join(row.Paths, " ")
		if row.Port == 0 {
			port = "any"
		}
		if m == "" {
			m, p = "-", "(network policy only)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.From, row.To, port, m, p, orDash(row.Client), orDash(strings.Join(row.Scopes, ",")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range r.Findings {
		fmt.Fprintln(w, "warning:", f)
	}
	return nil
}

// Diff lists the flows only in base (-) and only in head (+): what the
// policies permit, whatever authorizes it.
func Diff(base, head Report) []string { return diff(base, head, Row.String) }

// DiffAuthorized lists the rows only in base (-) and only in head (+),
// with what authorizes each: a call whose client or scopes changed shows
// as removed and added. A report without identity columns (a revision
// before them) is compared by flows alone.
func DiffAuthorized(base, head Report) []string {
	if !base.authorized() || !head.authorized() {
		return Diff(base, head)
	}
	return diff(base, head, Row.Authorized)
}

func (r Report) authorized() bool {
	return slices.ContainsFunc(r.Rows, func(row Row) bool { return row.Client != "" })
}

func diff(base, head Report, key func(Row) string) []string {
	in := func(rows []Row) map[string]bool {
		m := map[string]bool{}
		for _, r := range rows {
			m[key(r)] = true
		}
		return m
	}
	b, h := in(base.Rows), in(head.Rows)
	var out []string
	for _, r := range base.Rows {
		if !h[key(r)] {
			out = append(out, "- "+key(r))
		}
	}
	for _, r := range head.Rows {
		if !b[key(r)] {
			out = append(out, "+ "+key(r))
		}
	}
	return out
}
