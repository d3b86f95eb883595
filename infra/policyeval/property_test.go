package policyeval

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/infra/policy"
)

// randomGraph builds a valid graph from a seed: 1-7 services over up to
// three namespaces, random calls (methods, paths, ports) and gateway routes.
func randomGraph(r *rand.Rand) graph.Graph {
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

// For random valid graphs the compiled NetworkPolicies and
// AuthorizationPolicies permit exactly the graph's edges (plus the named
// platform paths), nothing more.
func TestCompiledPolicyPermitsExactlyTheGraph(t *testing.T) {
	mesh := config.Defaults(config.Dev).Mesh
	for seed := uint64(1); seed <= 300; seed++ {
		r := rand.New(rand.NewPCG(seed, 42))
		g := randomGraph(r)
		if err := g.Validate("graph"); err != nil {
			t.Fatalf("seed %d: generator made an invalid graph: %v", seed, err)
		}
		data := randomData(r)
		src, dst := Parties(&g, mesh, data)
		rep := Evaluate(policy.Compile(&g, mesh, data), src, dst, mesh.TrustDomain, mesh.RootNamespace)
		got, want := rowStrings(rep), expectedRows(&g, mesh, data)
		if !slices.Equal(got, want) || len(rep.Findings) > 0 {
			t.Fatalf("seed %d: report differs from the graph\n got:\n%s\nwant:\n%s\nfindings: %v",
				seed, strings.Join(got, "\n"), strings.Join(want, "\n"), rep.Findings)
		}
	}
}

// randomData picks where the stores run: installed (a shared cluster or
// one per service; Redis with or without Sentinel) or external by address.
func randomData(r *rand.Rand) config.Data {
	d := config.Defaults(config.Dev).Data
	d.Postgres.Topology = []string{"shared", "perService"}[r.IntN(2)]
	d.Redis.Replicas, d.Redis.Sentinel = 2, r.IntN(2) == 0
	if r.IntN(3) == 0 {
		d.Postgres.Install = false
		d.Postgres.External = config.External{Host: "10.20.0.5", Port: 5432, CIDR: "10.20.0.0/24", TLS: true}
	}
	if r.IntN(3) == 0 {
		d.Redis.Install = false
		d.Redis.External = config.External{Host: "10.30.0.7", Port: []int{0, 6380}[r.IntN(2)], CIDR: "10.30.0.7/32", TLS: true}
	}
	return d
}
