package policyeval

import (
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/identity"
	"github.com/bulwark-platform/bulwark/infra/peers"
	"github.com/bulwark-platform/bulwark/infra/policy"
)

// authorizedReport is the report of cfg with its identity columns.
func authorizedReport(t *testing.T, cfg *config.Config) Report {
	t.Helper()
	m, err := identity.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := peers.Of(cfg)
	src, dst := Parties(&cfg.Graph, cfg.Mesh, p)
	r := Evaluate(policy.Compile(&cfg.Graph, cfg.Mesh, p), src, dst, cfg.Mesh.TrustDomain, cfg.Mesh.RootNamespace)
	Authorize(&r, &cfg.Graph, m)
	return r
}

func row(t *testing.T, r Report, from, to, methods string) Row {
	t.Helper()
	i := slices.IndexFunc(r.Rows, func(row Row) bool {
		return row.From == from && row.To == to && strings.Join(row.Methods, ",") == methods
	})
	if i < 0 {
		t.Fatalf("no row %s -> %s %s", from, to, methods)
	}
	return r.Rows[i]
}

// Each call shows the client its caller's token comes from and the
// scopes the call requires: the browser client at the edge, the caller's
// own confidential client between services; nothing on flows no token
// authorizes. The provider itself is a peer of every service.
func TestTheReportShowsWhatAuthorizesEachCall(t *testing.T) {
	cfg := config.Defaults(config.Prod)
	r := authorizedReport(t, cfg)
	for _, tc := range []struct {
		from, to, methods, client string
		scopes                    []string
	}{
		{"gateway.istio-ingress", "order.shop", "POST", "bulwark-web", []string{"orders:write"}},
		{"gateway.istio-ingress", "user.shop", "PUT,DELETE", "bulwark-web", []string{"users:write"}},
		{"order.shop", "payment.payments", "POST", "order", []string{"payments:write"}},
		{"order.shop", "user.shop", "GET", "order", []string{"users:read"}},
		{"prometheus.monitoring", "user.shop", "GET", "", nil},
		{"user.shop", "identity.identity", "", "", nil},
	} {
		got := row(t, r, tc.from, tc.to, tc.methods)
		if got.Client != tc.client || !slices.Equal(got.Scopes, tc.scopes) {
			t.Errorf("%s -> %s %s: client %q scopes %v, want %q %v", tc.from, tc.to, tc.methods, got.Client, got.Scopes, tc.client, tc.scopes)
		}
	}
	for _, s := range cfg.Graph.Services {
		row(t, r, s.Name+"."+s.Namespace, "identity.identity", "")
	}
	var out strings.Builder
	if err := r.Write(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "CLIENT") || !strings.Contains(out.String(), "bulwark-web  orders:write") {
		t.Errorf("the table lacks the identity columns:\n%s", out.String())
	}
}

// A browser client held to fewer scopes than the gateway's calls need
// shows, on the calls it can't make, the scopes it lacks.
func TestAClientLackingAScopeIsShown(t *testing.T) {
	cfg := config.Defaults(config.Dev)
	cfg.Identity.BrowserClient.Scopes = []string{"orders:read", "orders:write", "users:read"}
	r := authorizedReport(t, cfg)
	if got := row(t, r, "gateway.istio-ingress", "user.shop", "POST").Client; got != "bulwark-web (lacks users:write)" {
		t.Errorf("client %q", got)
	}
	if got := row(t, r, "gateway.istio-ingress", "user.shop", "GET").Client; got != "bulwark-web" {
		t.Errorf("client %q", got)
	}
}

// Changing one edge changes one client's scopes, and the diff with
// identity columns shows exactly that call with the client and scopes it
// no longer needs; a report without identity columns (an older revision)
// is compared by flows.
func TestTheAuthorizedDiffShowsTheChangedEdgeWithItsClient(t *testing.T) {
	before := config.Defaults(config.Dev)
	after := config.Defaults(config.Dev)
	after.Graph.Services[0].Calls = after.Graph.Services[0].Calls[:1] // order no longer calls user
	b, a := authorizedReport(t, before), authorizedReport(t, after)
	want := []string{"- order.shop -> user.shop :8080 GET /api/v1/users/* client order scopes users:read"}
	if d := DiffAuthorized(b, a); !slices.Equal(d, want) {
		t.Errorf("diff = %q, want %q", d, want)
	}
	old := Report{Rows: slices.Clone(b.Rows)}
	for i := range old.Rows {
		old.Rows[i].Client, old.Rows[i].Scopes = "", nil
	}
	if d := DiffAuthorized(old, a); !slices.Equal(d, []string{"- order.shop -> user.shop :8080 GET /api/v1/users/*"}) {
		t.Errorf("diff against a report without identity columns = %q", d)
	}
	// A call's scope changing is a change of what authorizes it, not of
	// the flow.
	renamed := config.Defaults(config.Dev)
	renamed.Graph.Services[0].Calls[0].Scopes = []string{"payments:charge"}
	if err := renamed.Graph.Validate("graph"); err != nil {
		t.Skipf("the graph refuses the renamed scope: %v", err)
	}
	d := DiffAuthorized(b, authorizedReport(t, renamed))
	if len(d) != 2 || !strings.HasSuffix(d[0], "scopes payments:write") || !strings.HasSuffix(d[1], "scopes payments:charge") {
		t.Errorf("diff for a renamed scope = %q", d)
	}
	if d := Diff(b, authorizedReport(t, renamed)); len(d) != 0 {
		t.Errorf("flows changed with a scope: %q", d)
	}
}
