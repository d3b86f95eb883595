package policyeval

import (
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/infra/peers"
	"github.com/bulwark-platform/bulwark/infra/policy"
)

func compileEnv(t *testing.T, env config.Environment) (*config.Config, policy.Set) {
	t.Helper()
	cfg := config.Defaults(env)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg, policy.Compile(&cfg.Graph, cfg.Mesh, peers.Of(cfg))
}

func expectedRows(g *graph.Graph, m config.Mesh, p peers.Set) []string {
	return rowStrings(Report{Rows: GraphFlows(g, m, p)})
}

func rowStrings(r Report) []string {
	var out []string
	for _, row := range r.Rows {
		out = append(out, row.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestReportOfTheDefaultGraphIsExactlyItsEdges(t *testing.T) {
	cfg, set := compileEnv(t, config.Prod)
	src, dst := Parties(&cfg.Graph, cfg.Mesh, peers.Of(cfg))
	r := Evaluate(set, src, dst, cfg.Mesh.TrustDomain, cfg.Mesh.RootNamespace)
	if len(r.Findings) > 0 {
		t.Errorf("layers disagree:\n%s", strings.Join(r.Findings, "\n"))
	}
	got, want := rowStrings(r), expectedRows(&cfg.Graph, cfg.Mesh, peers.Of(cfg))
	if !slices.Equal(got, want) {
		t.Errorf("report:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The report is an independent reading of the policies: hand-broken policy
// sets must show up in it.
func TestReportCatchesBrokenPolicies(t *testing.T) {
	cfg, set := compileEnv(t, config.Dev)
	src, dst := Parties(&cfg.Graph, cfg.Mesh, peers.Of(cfg))
	evaluate := func(s policy.Set) Report { return Evaluate(s, src, dst, cfg.Mesh.TrustDomain, cfg.Mesh.RootNamespace) }
	base := evaluate(set)

	t.Run("a dropped network policy shows as a finding", func(t *testing.T) {
		broken := set
		broken.NetworkPolicies = slices.DeleteFunc(slices.Clone(set.NetworkPolicies), func(np policy.NetworkPolicy) bool { return np.Name == "payment-from-order" })
		r := evaluate(broken)
		if !slices.ContainsFunc(r.Findings, func(f string) bool { return strings.HasPrefix(f, "order.shop -> payment.payments :8080") }) {
			t.Errorf("no finding for the dropped policy: %v", r.Findings)
		}
		if d := Diff(base, r); len(d) != 1 || !strings.HasPrefix(d[0], "- order.shop -> payment.payments") {
			t.Errorf("diff = %v", d)
		}
	})
	t.Run("a removed deny-all opens the namespace", func(t *testing.T) {
		broken := set
		broken.AuthorizationPolicies = nil
		for _, ap := range set.AuthorizationPolicies {
			if ap.Namespace != "payments" {
				broken.AuthorizationPolicies = append(broken.AuthorizationPolicies, ap)
			}
		}
		r := evaluate(broken)
		if !slices.ContainsFunc(r.Rows, func(row Row) bool { return row.To == "payment.payments" && slices.Contains(row.Methods, "*") }) {
			t.Errorf("the open namespace does not show: %v", r.Rows)
		}
	})
}

func TestDiffShowsExactlyTheChangedEdge(t *testing.T) {
	cfg := config.Defaults(config.Dev)
	before := cfg.Graph
	after := config.Defaults(config.Dev).Graph
	after.Services[0].Calls = after.Services[0].Calls[:1] // order no longer calls user
	report := func(g graph.Graph) Report {
		c := *cfg
		c.Graph = g
		p := peers.Of(&c)
		src, dst := Parties(&g, cfg.Mesh, p)
		return Evaluate(policy.Compile(&g, cfg.Mesh, p), src, dst, cfg.Mesh.TrustDomain, cfg.Mesh.RootNamespace)
	}
	d := Diff(report(before), report(after))
	if len(d) != 1 || d[0] != "- order.shop -> user.shop :8080 GET /api/v1/users/*" {
		t.Errorf("diff = %q", d)
	}
}
