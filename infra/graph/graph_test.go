package graph

import (
	"github.com/bulwark-platform/bulwark/internal/fielderr"

	"strings"
	"testing"
)

func TestDefaultGraphIsValid(t *testing.T) {
	g := Default()
	if err := g.Validate("bulwark:graph"); err != nil {
		t.Fatalf("default graph invalid: %v", err)
	}
	if got := g.Namespaces(); strings.Join(got, ",") != "shop,payments" {
		t.Errorf("namespaces = %v, want [shop payments]", got)
	}
	// Calls to one target group into one edge, in first-appearance order.
	want := []string{
		"gateway->order GET /api/v1/orders,/api/v1/orders/* | POST /api/v1/orders",
		"gateway->user GET /api/v1/users,/api/v1/users/* | POST /api/v1/users | PUT,DELETE /api/v1/users/*",
		"order->payment POST /api/v1/payments",
		"order->user GET /api/v1/users/*",
	}
	edges := g.Edges()
	if len(edges) != len(want) {
		t.Fatalf("got %d edges, want %d", len(edges), len(want))
	}
	for i, e := range edges {
		var calls []string
		for _, c := range e.Calls {
			calls = append(calls, strings.Join(c.Methods, ",")+" "+strings.Join(c.Paths, ","))
		}
		got := e.From.Name + "->" + e.To.Name + " " + strings.Join(calls, " | ")
		if got != want[i] {
			t.Errorf("edge %d = %q, want %q", i, got, want[i])
		}
	}
	if got := edges[1].Scopes(); strings.Join(got, ",") != "users:read,users:write" {
		t.Errorf("scopes of gateway->user %v", got)
	}
	if got := len(g.Callers("user")); got != 2 {
		t.Errorf("user has %d callers, want 2 (gateway and order)", got)
	}
}

func TestSPIFFEID(t *testing.T) {
	g := Default()
	if got := g.Service("order").Identity().SPIFFEID("cluster.local"); got != "cluster.local/ns/shop/sa/order" {
		t.Errorf("SPIFFE ID = %q", got)
	}
	if got := g.GatewayIdentity().SPIFFEID("cluster.local"); got != "cluster.local/ns/istio-ingress/sa/istio-ingressgateway" {
		t.Errorf("gateway SPIFFE ID = %q", got)
	}
}

func TestValidateRejectsBadGraphs(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(*Graph)
		wantPath string
		wantMsg  string
	}{
		{"a call to an unknown service", func(g *Graph) { g.Services[0].Calls[0].Target = "billing" },
			"bulwark:graph.services[0].calls[0].target", `unknown service "billing"`},
		{"a gateway route to an unknown service", func(g *Graph) { g.Gateway.Calls[1].Target = "admin" },
			"bulwark:graph.gateway.calls[1].target", `unknown service "admin"`},
		{"a path without a leading slash", func(g *Graph) { g.Services[0].Calls[0].Paths[0] = "api/v1/payments" },
			"bulwark:graph.services[0].calls[0].paths[0]", `must start with "/"`},
		{"a wildcard in the middle of a path", func(g *Graph) { g.Services[0].Calls[0].Paths[0] = "/api/*/payments" },
			"bulwark:graph.services[0].calls[0].paths[0]", "end in one '*'"},
		{"an empty method list", func(g *Graph) { g.Services[0].Calls[1].Methods = nil },
			"bulwark:graph.services[0].calls[1].methods", "at least one HTTP method"},
		{"an unknown method", func(g *Graph) { g.Services[0].Calls[1].Methods = []string{"FETCH"} },
			"bulwark:graph.services[0].calls[1].methods[0]", `"FETCH" is not one of`},
		{"no paths", func(g *Graph) { g.Services[0].Calls[1].Paths = nil },
			"bulwark:graph.services[0].calls[1].paths", "at least one path"},
		{"a duplicate service name", func(g *Graph) { g.Services[2].Name = "order" },
			"bulwark:graph.services[2].name", `duplicate service name "order"`},
		{"a name that is not DNS-1123", func(g *Graph) { g.Services[1].Name = "Payment_Svc" },
			"bulwark:graph.services[1].name", "not a DNS-1123 label"},
		{"a namespace that is not DNS-1123", func(g *Graph) { g.Services[1].Namespace = "pay.ments" },
			"bulwark:graph.services[1].namespace", "not a DNS-1123 label"},
		{"an empty service account", func(g *Graph) { g.Services[1].ServiceAccount = "" },
			"bulwark:graph.services[1].serviceAccount", "must not be empty"},
		{"a port out of range", func(g *Graph) { g.Services[1].Port = 70000 },
			"bulwark:graph.services[1].port", "between 1 and 65535"},
		{"the metrics port equal to the port", func(g *Graph) { g.Services[1].MetricsPort = 8080 },
			"bulwark:graph.services[1].metricsPort", "must differ"},
		{"a service calling itself", func(g *Graph) { g.Services[0].Calls[0].Target = "order" },
			"bulwark:graph.services[0].calls[0].target", "may not call itself"},
		{"one request in two calls to one target", func(g *Graph) {
			c := g.Gateway.Calls[0]
			c.Scopes = []string{"orders:write"}
			g.Gateway.Calls = append(g.Gateway.Calls, c)
		}, "bulwark:graph.gateway.calls[5]", "GET /api/v1/orders on \"order\" is also in bulwark:graph.gateway.calls[0]"},
		{"a service named like the gateway", func(g *Graph) { g.Services[1].Name = "gateway" },
			"bulwark:graph.services[1].name", "reserved"},
		{"an unknown secret name", func(g *Graph) { g.Services[1].Secrets[0].Name = "stripe-key" },
			"bulwark:graph.services[1].secrets[0].name", `unknown secret "stripe-key" (known: oauth-client)`},
		{"a key the secret doesn't have", func(g *Graph) { g.Services[1].Secrets[0].Keys = []string{"client_id", "token"} },
			"bulwark:graph.services[1].secrets[0].keys[1]", `"token" is not a key of oauth-client`},
		{"the database login listed by hand", func(g *Graph) { g.Services[1].Secrets = append(g.Services[1].Secrets, Secret{Name: "database"}) },
			"bulwark:graph.services[1].secrets[1].name", "follows from the service's postgres: true"},
		{"one secret listed twice", func(g *Graph) { g.Services[1].Secrets = append(g.Services[1].Secrets, Secret{Name: "oauth-client"}) },
			"bulwark:graph.services[1].secrets[1].name", "also bulwark:graph.services[1].secrets[0]"},
		{"an invalid scope", func(g *Graph) { g.Services[0].Calls[0].Scopes = []string{"pay ments"} },
			"bulwark:graph.services[0].calls[0].scopes[0]", "not a valid OAuth scope"},
		{"two services sharing an identity", func(g *Graph) { g.Services[2].ServiceAccount = "order" },
			"bulwark:graph.services[2].serviceAccount", "already the identity of bulwark:graph.services[0]"},
		{"a gateway without pod labels", func(g *Graph) { g.Gateway.PodLabels = nil },
			"bulwark:graph.gateway.podLabels", "at least one label"},
		{"no services", func(g *Graph) { g.Services = nil; g.Gateway.Calls = nil },
			"bulwark:graph.services", "at least one service"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := Default()
			tc.mutate(&g)
			err := g.Validate("bulwark:graph")
			if err == nil {
				t.Fatal("Validate accepted the graph")
			}
			errs := fielderr.All(err)
			if len(errs) == 0 {
				t.Fatalf("error %T holds no field errors", err)
			}
			for _, e := range errs {
				if e.Path == tc.wantPath && strings.Contains(e.Msg, tc.wantMsg) {
					return
				}
			}
			t.Errorf("no error at %s containing %q; got:\n%v", tc.wantPath, tc.wantMsg, err)
		})
	}
}
