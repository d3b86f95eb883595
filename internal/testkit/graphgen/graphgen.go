// Package graphgen makes random valid service graphs for property tests:
// the compilers' invariants are checked on hundreds of graphs nobody
// wrote, not only on the stacks'.
package graphgen

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/bulwark-platform/bulwark/infra/graph"
)

// Random builds a valid graph from a seed: 1-7 services over up to three
// namespaces, each using Redis, PostgreSQL and an OAuth client or not,
// random calls (methods, paths, ports) and gateway routes.
func Random(r *rand.Rand) graph.Graph {
	namespaces := []string{"alpha", "beta", "gamma"}
	paths := []string{"/", "/a", "/a/*", "/v1/items", "/v1/items/*", "/health-x", "/b/c"}
	pick := func(all []string) []string {
		var out []string
		for _, v := range all {
			if r.IntN(3) == 0 {
				out = append(out, v)
			}
		}
		if len(out) == 0 {
			out = []string{all[r.IntN(len(all))]}
		}
		return out
	}
	n := 1 + r.IntN(7)
	g := graph.Graph{Gateway: graph.Gateway{Namespace: "edge", ServiceAccount: "gw", PodLabels: map[string]string{"istio": "gw"}}}
	for i := range n {
		port := 1024 + r.IntN(2000)
		g.Services = append(g.Services, graph.Service{
			Name: fmt.Sprintf("svc%d", i), Namespace: namespaces[r.IntN(len(namespaces))],
			ServiceAccount: fmt.Sprintf("sa%d", i), // one identity per service (validation insists)
			Port:           port, MetricsPort: port + 1 + r.IntN(100), Image: "x/y:1",
			Redis: r.IntN(2) == 0, Postgres: r.IntN(2) == 0,
		})
		if r.IntN(2) == 0 {
			g.Services[i].Secrets = []graph.Secret{{Name: graph.OAuthClientSecret}}
		}
	}
	// One or two calls per target: the second with methods the first lacks
	// (one request, one set of scopes).
	calls := func(target string) []graph.Call {
		first := graph.Call{Target: target, Methods: pick(graph.HTTPMethods), Paths: pick(paths), Scopes: []string{"read"}}
		var rest []string
		for _, m := range graph.HTTPMethods {
			if !slices.Contains(first.Methods, m) {
				rest = append(rest, m)
			}
		}
		if len(rest) == 0 || r.IntN(2) == 0 {
			return []graph.Call{first}
		}
		return []graph.Call{first, {Target: target, Methods: pick(rest), Paths: pick(paths), Scopes: []string{"write"}}}
	}
	for i := range g.Services {
		for j := range g.Services {
			if i != j && r.IntN(3) == 0 {
				g.Services[i].Calls = append(g.Services[i].Calls, calls(g.Services[j].Name)...)
			}
		}
		if r.IntN(2) == 0 {
			g.Gateway.Calls = append(g.Gateway.Calls, calls(g.Services[i].Name)...)
		}
	}
	return g
}
