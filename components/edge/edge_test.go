package edge

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"

	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/testkit/mocktest"
)

func args() *Args {
	return &Args{
		Namespace: "istio-ingress", PodLabels: map[string]string{"istio": "ingressgateway"},
		Hosts: []string{"api.example.com"}, CredentialName: "gw-tls", MinTLSVersion: "1.3",
		JWT: JWT{Issuer: "https://id.example.com/realms/x", JWKSURI: "https://id.example.com/certs", Audiences: []string{"api"}},
		Routes: []Route{
			{Name: "order", Namespace: "shop", Port: 8080, Requests: 10, PerSeconds: 1, Operations: []Operation{
				{Methods: []string{"GET"}, Paths: []string{"/api/v1/orders", "/api/v1/orders/*"}, Scopes: []string{"orders:read"}},
				{Methods: []string{"POST"}, Paths: []string{"/api/v1/orders"}, Scopes: []string{"orders:write"}},
			}},
			{Name: "user", Namespace: "shop", Port: 8081, Requests: 5, PerSeconds: 2, Operations: []Operation{
				{Methods: []string{"GET"}, Paths: []string{"/api/v1/users"}},
			}},
		},
	}
}

func TestGatewayServesTLSAndRedirectsHTTP(t *testing.T) {
	for version, want := range map[string]networkingv1alpha3.ServerTLSSettings_TLSProtocol{"1.2": networkingv1alpha3.ServerTLSSettings_TLSV1_2, "1.3": networkingv1alpha3.ServerTLSSettings_TLSV1_3} {
		a := args()
		a.MinTLSVersion = version
		g := Gateway(a)
		if len(g.GetServers()) != 2 {
			t.Fatalf("servers %v", g.GetServers())
		}
		http, https := g.GetServers()[0], g.GetServers()[1]
		if http.GetPort().GetProtocol() != "HTTP" || !http.GetTls().GetHttpsRedirect() {
			t.Errorf("HTTP server does not redirect: %v", http)
		}
		tls := https.GetTls()
		if tls.GetMode() != networkingv1alpha3.ServerTLSSettings_SIMPLE || tls.GetCredentialName() != "gw-tls" || tls.GetMinProtocolVersion() != want {
			t.Errorf("TLS %s: %v", version, tls)
		}
	}
}

func TestRoutesMatchExactlyTheGraphsRequests(t *testing.T) {
	a := args()
	vs := VirtualService(a, a.Routes[0])
	route := vs.GetHttp()[0]
	if route.GetName() != "order" || route.GetRoute()[0].GetDestination().GetHost() != "order.shop.svc.cluster.local" || route.GetRoute()[0].GetDestination().GetPort().GetNumber() != 8080 {
		t.Errorf("route %v", route)
	}
	var got []string
	for _, m := range route.GetMatch() {
		uri := m.GetUri().GetExact()
		if p := m.GetUri().GetPrefix(); p != "" {
			uri = "prefix:" + p
		}
		got = append(got, m.GetMethod().GetExact()+" "+uri)
	}
	// Exactly the operations' requests: no POST under /api/v1/orders/.
	want := []string{"GET /api/v1/orders", "GET prefix:/api/v1/orders/", "POST /api/v1/orders"}
	if !slices.Equal(got, want) {
		t.Errorf("matches %v, want %v", got, want)
	}
	if vs.GetGateways()[0] != "istio-ingress/"+GatewayName {
		t.Errorf("gateways %v", vs.GetGateways())
	}
}

func TestHTTPSNeedsAValidTokenWithTheRoutesScope(t *testing.T) {
	a := args()
	ap := RequireJWT(a)
	rules := ap.GetRules()
	var ops []Operation
	for _, r := range a.Routes {
		ops = append(ops, r.Operations...)
	}
	if len(rules) != 1+len(ops) {
		t.Fatalf("got %d rules, want the redirect rule and one per operation", len(rules))
	}
	redirect := rules[0]
	if len(redirect.GetFrom()) != 0 || !slices.Equal(redirect.GetTo()[0].GetOperation().GetPorts(), []string{"8080"}) {
		t.Errorf("redirect rule %v", redirect)
	}
	for i, r := range ops {
		rule := rules[i+1]
		if got := rule.GetFrom()[0].GetSource().GetRequestPrincipals(); !slices.Equal(got, []string{a.JWT.Issuer + "/*"}) {
			t.Errorf("%v: request principals %v", r, got)
		}
		op := rule.GetTo()[0].GetOperation()
		if !slices.Equal(op.GetPorts(), []string{"8443"}) || !slices.Equal(op.GetMethods(), r.Methods) || !slices.Equal(op.GetPaths(), r.Paths) {
			t.Errorf("%v: operation %v", r, op)
		}
		if len(r.Scopes) > 0 && (len(rule.GetWhen()) != 1 || rule.GetWhen()[0].GetKey() != "request.auth.claims[scope]" || !slices.Equal(rule.GetWhen()[0].GetValues(), r.Scopes)) {
			t.Errorf("%v: scope condition %v", r, rule.GetWhen())
		}
		if len(r.Scopes) == 0 && len(rule.GetWhen()) != 0 {
			t.Errorf("%v: unexpected condition %v", r, rule.GetWhen())
		}
	}
	ra := RequestAuthentication(a)
	if ra.GetJwtRules()[0].GetIssuer() != a.JWT.Issuer || ra.GetJwtRules()[0].GetJwksUri() != a.JWT.JWKSURI {
		t.Errorf("request authentication %v", ra)
	}
}

func TestEveryRouteIsRateLimited(t *testing.T) {
	a := args()
	ef, err := RateLimit(a)
	if err != nil {
		t.Fatal(err)
	}
	patches := ef.GetConfigPatches()
	if patches[0].GetApplyTo() != networkingv1alpha3.EnvoyFilter_HTTP_FILTER || patches[0].GetPatch().GetValue().GetFields()["name"].GetStringValue() != "envoy.filters.http.local_ratelimit" {
		t.Fatalf("first patch does not insert the filter: %v", patches[0])
	}
	for _, r := range a.Routes {
		found := false
		for _, p := range patches[1:] {
			if p.GetMatch().GetRouteConfiguration().GetVhost().GetRoute().GetName() != r.Name {
				continue
			}
			found = true
			cfg := p.GetPatch().GetValue().AsMap()["typed_per_filter_config"].(map[string]any)["envoy.filters.http.local_ratelimit"].(map[string]any)
			if cfg["@type"] != "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit" {
				t.Errorf("%s: typed config %v", r.Name, cfg["@type"])
			}
			// What Envoy reads back is the typed message with the route's bucket.
			raw, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var back anypb.Any
			if err := protojson.Unmarshal(raw, &back); err != nil {
				t.Fatalf("%s: Envoy could not read the per-route config: %v", r.Name, err)
			}
			var limit localratelimitv3.LocalRateLimit
			if err := back.UnmarshalTo(&limit); err != nil {
				t.Fatal(err)
			}
			b := limit.GetTokenBucket()
			if b.GetMaxTokens() != uint32(r.Requests) || b.GetTokensPerFill().GetValue() != uint32(r.Requests) || b.GetFillInterval().AsDuration() != time.Duration(r.PerSeconds)*time.Second {
				t.Errorf("%s: bucket %v", r.Name, b)
			}
			if limit.GetFilterEnforced().GetDefaultValue().GetNumerator() != 100 || limit.GetResponseHeadersToAdd()[0].GetHeader().GetKey() != "x-rate-limited" {
				t.Errorf("%s: limit not enforced with its header: %v", r.Name, &limit)
			}
		}
		if !found {
			t.Errorf("route %s has no rate limit", r.Name)
		}
	}
}

func TestEdgeRegistersItsObjects(t *testing.T) {
	m, err := mocktest.RunWithProvider("test", func(ctx *pulumi.Context, p pulumi.ProviderResource) error {
		a := args()
		a.Provider = p
		_, err := New(ctx, "edge", a)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"kubernetes:networking.istio.io/v1:Gateway", "kubernetes:security.istio.io/v1:RequestAuthentication", "kubernetes:security.istio.io/v1:AuthorizationPolicy", "kubernetes:networking.istio.io/v1alpha3:EnvoyFilter"} {
		if got := len(m.ByType(typ)); got != 1 {
			t.Errorf("%s: %d registered", typ, got)
		}
	}
	if got := len(m.ByType("kubernetes:networking.istio.io/v1:VirtualService")); got != 2 {
		t.Errorf("%d VirtualServices, want one per route", got)
	}
}

func TestEdgeRejectsBadArgs(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Args)
		path   string
		kind   error
	}{
		{"TLS 1.1", func(a *Args) { a.MinTLSVersion = "1.1" }, "minTLSVersion", fielderr.ErrUnsupported},
		{"no certificate", func(a *Args) { a.CredentialName = "" }, "credentialName", fielderr.ErrRequired},
		{"a route without a rate limit", func(a *Args) { a.Routes[1].Requests = 0 }, "routes[1].rateLimit", fielderr.ErrOutOfRange},
		{"a route twice", func(a *Args) { a.Routes[1].Name = a.Routes[0].Name }, "routes[1].name", fielderr.ErrDuplicate},
		{"no issuer", func(a *Args) { a.JWT.Issuer = "" }, "jwt.issuer", fielderr.ErrRequired},
		{"the identity provider's admin console", func(a *Args) { a.Identity = identityRoute(); a.Identity.Paths = []string{"/admin/*"} }, "identity.paths[0]", fielderr.ErrForbidden},
		{"the identity provider on the API's host", func(a *Args) { a.Identity = identityRoute(); a.Identity.Host = a.Hosts[0] }, "identity.host", fielderr.ErrInvalid},
		{"the identity route without a rate limit", func(a *Args) { a.Identity = identityRoute(); a.Identity.Requests = 0 }, "identity.rateLimit", fielderr.ErrOutOfRange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := args()
			tc.mutate(a)
			err := a.validate()
			if !slices.ContainsFunc(fielderr.All(err), func(e *fielderr.Error) bool { return e.Path == tc.path && errors.Is(e, tc.kind) }) {
				t.Fatalf("error %v, want %v at %s", err, tc.kind, tc.path)
			}
		})
	}
}

func identityRoute() *IdentityRoute {
	return &IdentityRoute{Host: "id.example.com", Service: "keycloak-service.identity.svc.cluster.local", Port: 8443,
		Paths: []string{"/realms/*", "/resources/*"}, CASecret: "bulwark-trust", Requests: 50, PerSeconds: 1}
}

// The identity provider is published on its own host: the gateway serves
// the host, routes only its public paths (re-encrypting to the provider
// verified with the CA), admits them without a token, and limits them;
// the API's routes stay on the API's hosts. Without it, nothing changes.
func TestIdentityProviderIsPublishedOnItsHost(t *testing.T) {
	a := args()
	base := RequireJWT(a)
	a.Identity = identityRoute()
	for _, srv := range Gateway(a).GetServers() {
		if !slices.Equal(srv.GetHosts(), []string{"api.example.com", "id.example.com"}) {
			t.Errorf("server %s hosts %v", srv.GetPort().GetName(), srv.GetHosts())
		}
	}
	if vs := VirtualService(a, a.Routes[0]); !slices.Equal(vs.GetHosts(), a.Hosts) {
		t.Errorf("an API route on %v", vs.GetHosts())
	}
	vs := IdentityVirtualService(a)
	var prefixes []string
	for _, m := range vs.GetHttp()[0].GetMatch() {
		prefixes = append(prefixes, m.GetUri().GetPrefix())
	}
	dest := vs.GetHttp()[0].GetRoute()[0].GetDestination()
	if !slices.Equal(vs.GetHosts(), []string{"id.example.com"}) || !slices.Equal(prefixes, []string{"/realms/", "/resources/"}) ||
		dest.GetHost() != a.Identity.Service || dest.GetPort().GetNumber() != 8443 {
		t.Errorf("identity route: hosts %v prefixes %v to %s:%d", vs.GetHosts(), prefixes, dest.GetHost(), dest.GetPort().GetNumber())
	}
	dr := IdentityDestinationRule(a)
	if tls := dr.GetTrafficPolicy().GetTls(); dr.GetHost() != a.Identity.Service || tls.GetMode() != networkingv1alpha3.ClientTLSSettings_SIMPLE ||
		tls.GetCredentialName() != "bulwark-trust" || tls.GetSni() != "id.example.com" || !slices.Equal(dr.GetExportTo(), []string{"."}) {
		t.Errorf("destination rule %v", dr)
	}
	rules := RequireJWT(a).GetRules()
	if len(rules) != len(base.GetRules())+1 {
		t.Fatalf("%d rules, want the API's %d and one for the identity host", len(rules), len(base.GetRules()))
	}
	last := rules[len(rules)-1]
	op := last.GetTo()[0].GetOperation()
	if len(last.GetFrom()) != 0 || !slices.Equal(op.GetHosts(), []string{"id.example.com"}) || !slices.Equal(op.GetPaths(), a.Identity.Paths) || !slices.Equal(op.GetPorts(), []string{"8443"}) {
		t.Errorf("identity rule %v", last)
	}
	rl, err := RateLimit(a)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rl.GetConfigPatches(), func(p *networkingv1alpha3.EnvoyFilter_EnvoyConfigObjectPatch) bool {
		return p.GetMatch().GetRouteConfiguration().GetVhost().GetRoute().GetName() == IdentityName
	}) {
		t.Error("the identity route has no rate limit")
	}
}
