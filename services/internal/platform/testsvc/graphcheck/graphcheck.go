// Package graphcheck checks a service's route table against the platform's
// service graph. It is apart from testsvc because it needs app.Route, and
// testsvc must not import app: app's own dependencies (auth, cache, db,
// metrics) test with testsvc, and the import would be a cycle.
package graphcheck

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/services/contract"
	"github.com/bulwark-platform/bulwark/services/internal/platform/app"
)

// GraphAgrees checks a service's route table against the service graph of
// every stack (the platform's mesh, network and edge allows are compiled
// from it): every call the graph lets a caller make to the service is
// served by a route with the same method and path that accepts the call's
// scopes, every scope of a call is one some route it reaches asks for, and
// every scoped route is reachable by some call with one of its scopes or
// is listed in adminOnly (routes only operators reach, not over the mesh).
func GraphAgrees(t *testing.T, service string, routes []app.Route, adminOnly ...string) {
	t.Helper()
	for stack, g := range stackGraphs(t) {
		t.Run(stack, func(t *testing.T) {
			reached := map[string]bool{}
			for _, e := range g.Edges() {
				if e.To.Name != service {
					continue
				}
				for i, c := range e.Calls {
					what := fmt.Sprintf("%s's call %d (%s %s, scopes %s)", e.From.Name, i, strings.Join(c.Methods, ","), strings.Join(c.Paths, ","), strings.Join(c.Scopes, " "))
					scopeUsed := map[string]bool{}
					for _, m := range c.Methods {
						for _, p := range c.Paths {
							served := slices.IndexFunc(routes, func(r app.Route) bool { return serves(r.Pattern, m, p) })
							if served < 0 {
								t.Errorf("%s: %s %s is served by no route of %s", what, m, p, service)
								continue
							}
							r := routes[served]
							reached[r.Pattern] = true
							if len(r.Need.Scopes) == 0 {
								continue
							}
							ok := false
							for _, s := range c.Scopes {
								if slices.Contains(r.Need.Scopes, s) {
									ok, scopeUsed[s] = true, true
								}
							}
							if !ok {
								t.Errorf("%s: route %q needs one of %v, the call carries none", what, r.Pattern, r.Need.Scopes)
							}
						}
					}
					for _, s := range c.Scopes {
						if !scopeUsed[s] {
							t.Errorf("%s: scope %s is asked for by no route the call reaches (the edge would admit a token the service refuses)", what, s)
						}
					}
				}
			}
			for _, r := range routes {
				if r.Public || len(r.Need.Scopes) == 0 || reached[r.Pattern] || slices.Contains(adminOnly, r.Pattern) {
					continue
				}
				t.Errorf("route %q of %s is reachable from no edge of the graph and not documented as admin-only", r.Pattern, service)
			}
		})
	}
}

// ContractAgrees checks the service's config contract against the graph
// of every stack that runs it: the variables holding a callee's base URL
// (contract:"url=<service>") are exactly the services the graph lets it
// call, so the platform can fill each from the graph, and a call the
// graph allows always has a variable saying where to send it.
func ContractAgrees(t *testing.T, service string) {
	t.Helper()
	c, ok := contract.For(service)
	if !ok {
		t.Fatalf("no config contract for %s (contract.Services(): %v)", service, contract.Services())
	}
	var urls []string
	for _, v := range c.Vars {
		if v.URLOf != "" {
			urls = append(urls, v.URLOf)
		}
	}
	slices.Sort(urls)
	for stack, g := range stackGraphs(t) {
		t.Run(stack, func(t *testing.T) {
			if g.Service(service) == nil {
				t.Skipf("the %s stack doesn't run %s", stack, service)
			}
			var callees []string
			for _, e := range g.Edges() {
				if e.From.Name == service && !slices.Contains(callees, e.To.Name) {
					callees = append(callees, e.To.Name)
				}
			}
			slices.Sort(callees)
			if !slices.Equal(urls, callees) {
				t.Errorf("%s's contract has URL variables for %v; the graph lets it call %v", service, urls, callees)
			}
		})
	}
}

// serves reports whether the mux pattern "METHOD /path/{var}" serves a
// graph request: method m on path p, where a trailing '*' is a prefix.
func serves(pattern, m, p string) bool {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || method != m {
		return false
	}
	if prefix, isPrefix := strings.CutSuffix(p, "*"); isPrefix {
		// A prefix is served by a route below it with a variable segment.
		return strings.HasPrefix(path, prefix) && strings.Contains(path[len(prefix):], "{")
	}
	return path == p
}

// stackGraphs is the graph of every stack file, by stack name.
func stackGraphs(t *testing.T) map[string]graph.Graph {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "..")
	files, err := filepath.Glob(filepath.Join(root, "stacks", "Pulumi.*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no stack files under %s: %v", root, err)
	}
	out := map[string]graph.Graph{}
	for _, f := range files {
		values, err := config.ReadStackFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(config.MapGetter(values), config.Keys(values))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")] = cfg.Graph
	}
	return out
}
