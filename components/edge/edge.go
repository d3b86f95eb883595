// Package edge provides IngressEdge: the Istio ingress Gateway (TLS from a
// cert-manager secret, HTTP redirected to HTTPS, a TLS minimum), one
// VirtualService per edge route of the graph, JWT validation at the edge
// (RequestAuthentication plus an AuthorizationPolicy that admits a request
// on the HTTPS listener only with a valid token carrying the route's
// scopes), and local rate limiting per route that answers 429.
package edge

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"google.golang.org/protobuf/types/known/structpb"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	securityv1beta1 "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"

	"github.com/bulwark-platform/bulwark/components/kobject"
)

// Token is the component's type token.
const Token = "bulwark:edge:IngressEdge"

// The Istio gateway chart's container ports behind Service ports 80 and 443.
const (
	HTTPPort  = 8080
	HTTPSPort = 8443
)

// GatewayName is the Istio Gateway object's name.
const GatewayName = "bulwark-gateway"

// Args configures IngressEdge.
type Args struct {
	// Namespace and PodLabels locate the ingress gateway's pods.
	Namespace string
	PodLabels map[string]string
	// Hosts are the DNS names served.
	Hosts []string
	// CredentialName is the TLS secret (in Namespace) cert-manager fills.
	CredentialName string
	// MinTLSVersion is "1.2" or "1.3".
	MinTLSVersion string
	// JWT is the trusted token issuer.
	JWT    JWT
	Routes []Route
	// DependsOn: the gateway's certificate, the mesh installation.
	DependsOn []pulumi.Resource
	Provider  pulumi.ProviderResource
}

// JWT is the token issuer the edge trusts.
type JWT struct {
	Issuer, JWKSURI string
	Audiences       []string
}

// Route forwards matching requests to one service.
type Route struct {
	// Name is the target service's name; it names the route.
	Name, Namespace string
	Port            int
	Methods, Paths  []string
	// Scopes: a token needs one of them (none: any valid token).
	Scopes []string
	// RateLimit is a token bucket per gateway pod.
	Requests, PerSeconds int
}

// Host is the in-cluster name of the route's service.
func (r Route) Host() string { return r.Name + "." + r.Namespace + ".svc.cluster.local" }

// IngressEdge is the platform's front door.
type IngressEdge struct {
	pulumi.ResourceState
	Gateway pulumi.StringOutput
}

func (a *Args) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if a.Namespace == "" || len(a.PodLabels) == 0 {
		bad("namespace and podLabels: required to select the gateway")
	}
	if len(a.Hosts) == 0 {
		bad("hosts: at least one is required")
	}
	if a.CredentialName == "" {
		bad("credentialName: required (HTTPS only)")
	}
	if a.MinTLSVersion != "1.2" && a.MinTLSVersion != "1.3" {
		bad("minTLSVersion: %q is not 1.2 or 1.3", a.MinTLSVersion)
	}
	if a.JWT.Issuer == "" || a.JWT.JWKSURI == "" {
		bad("jwt: issuer and jwksUri are required")
	}
	seen := map[string]bool{}
	for i, r := range a.Routes {
		if r.Name == "" || r.Namespace == "" || r.Port < 1 || r.Port > 65535 {
			bad("routes[%d]: name, namespace and a port are required", i)
		}
		if seen[r.Name] {
			bad("routes[%d]: %s defined twice", i, r.Name)
		}
		seen[r.Name] = true
		if len(r.Methods) == 0 || len(r.Paths) == 0 {
			bad("routes[%d] %s: methods and paths are required", i, r.Name)
		}
		if r.Requests < 1 || r.PerSeconds < 1 {
			bad("routes[%d] %s: a rate limit is required", i, r.Name)
		}
	}
	if a.Provider == nil {
		bad("provider: required")
	}
	return errors.Join(errs...)
}

// New registers IngressEdge.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*IngressEdge, error) {
	if args == nil {
		return nil, errors.New("edge: args are required")
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("edge %s: %w", name, err)
	}
	c := &IngressEdge{}
	if err := ctx.RegisterComponentResource(Token, name, c, opts...); err != nil {
		return nil, err
	}
	child := []pulumi.ResourceOption{pulumi.Parent(c), pulumi.Provider(args.Provider), pulumi.DependsOn(args.DependsOn)}
	objects := []kobject.Object{
		{APIVersion: "networking.istio.io/v1", Kind: "Gateway", Name: GatewayName, Namespace: args.Namespace, Spec: Gateway(args)},
		{APIVersion: "security.istio.io/v1", Kind: "RequestAuthentication", Name: "bulwark-jwt", Namespace: args.Namespace, Spec: RequestAuthentication(args)},
		{APIVersion: "security.istio.io/v1", Kind: "AuthorizationPolicy", Name: "bulwark-require-jwt", Namespace: args.Namespace, Spec: RequireJWT(args)},
	}
	for _, r := range args.Routes {
		objects = append(objects, kobject.Object{APIVersion: "networking.istio.io/v1", Kind: "VirtualService", Name: r.Name, Namespace: args.Namespace, Spec: VirtualService(args, r)})
	}
	rl, err := RateLimit(args)
	if err != nil {
		return nil, fmt.Errorf("edge %s: %w", name, err)
	}
	objects = append(objects, kobject.Object{APIVersion: "networking.istio.io/v1alpha3", Kind: "EnvoyFilter", Name: "bulwark-rate-limit", Namespace: args.Namespace, Spec: rl})
	for _, o := range objects {
		if _, err := kobject.Register(ctx, fmt.Sprintf("%s-%s-%s", name, strings.ToLower(o.Kind), o.Name), o, child...); err != nil {
			return nil, err
		}
	}
	c.Gateway = pulumi.String(args.Namespace + "/" + GatewayName).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"gateway": c.Gateway}); err != nil {
		return nil, err
	}
	return c, nil
}

// Gateway: HTTPS with the certificate's secret and the TLS minimum; plain
// HTTP only to redirect.
func Gateway(a *Args) *networkingv1alpha3.Gateway {
	minTLS := networkingv1alpha3.ServerTLSSettings_TLSV1_2
	if a.MinTLSVersion == "1.3" {
		minTLS = networkingv1alpha3.ServerTLSSettings_TLSV1_3
	}
	return &networkingv1alpha3.Gateway{
		Selector: a.PodLabels,
		Servers: []*networkingv1alpha3.Server{
			{
				Port:  &networkingv1alpha3.Port{Number: 80, Name: "http", Protocol: "HTTP"},
				Hosts: a.Hosts,
				Tls:   &networkingv1alpha3.ServerTLSSettings{HttpsRedirect: true},
			},
			{
				Port:  &networkingv1alpha3.Port{Number: 443, Name: "https", Protocol: "HTTPS"},
				Hosts: a.Hosts,
				Tls: &networkingv1alpha3.ServerTLSSettings{
					Mode:               networkingv1alpha3.ServerTLSSettings_SIMPLE,
					CredentialName:     a.CredentialName,
					MinProtocolVersion: minTLS,
				},
			},
		},
	}
}

// VirtualService routes the graph's methods and paths of one edge to its
// service. A path ending in '*' is a prefix match, any other is exact.
func VirtualService(a *Args, r Route) *networkingv1alpha3.VirtualService {
	var matches []*networkingv1alpha3.HTTPMatchRequest
	for _, p := range r.Paths {
		uri := &networkingv1alpha3.StringMatch{MatchType: &networkingv1alpha3.StringMatch_Exact{Exact: p}}
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			uri = &networkingv1alpha3.StringMatch{MatchType: &networkingv1alpha3.StringMatch_Prefix{Prefix: prefix}}
		}
		for _, m := range r.Methods {
			matches = append(matches, &networkingv1alpha3.HTTPMatchRequest{
				Uri:    uri,
				Method: &networkingv1alpha3.StringMatch{MatchType: &networkingv1alpha3.StringMatch_Exact{Exact: m}},
			})
		}
	}
	return &networkingv1alpha3.VirtualService{
		Hosts:    a.Hosts,
		Gateways: []string{a.Namespace + "/" + GatewayName},
		Http: []*networkingv1alpha3.HTTPRoute{{
			Name:  r.Name,
			Match: matches,
			Route: []*networkingv1alpha3.HTTPRouteDestination{{
				Destination: &networkingv1alpha3.Destination{Host: r.Host(), Port: &networkingv1alpha3.PortSelector{Number: uint32(r.Port)}},
			}},
		}},
	}
}

// RequestAuthentication validates any JWT presented at the gateway against
// the issuer's JWKS; a bad token is refused with 401.
func RequestAuthentication(a *Args) *securityv1beta1.RequestAuthentication {
	return &securityv1beta1.RequestAuthentication{
		Selector: &typev1beta1.WorkloadSelector{MatchLabels: a.PodLabels},
		JwtRules: []*securityv1beta1.JWTRule{{
			Issuer:               a.JWT.Issuer,
			JwksUri:              a.JWT.JWKSURI,
			Audiences:            a.JWT.Audiences,
			ForwardOriginalToken: true,
		}},
	}
}

// RequireJWT admits on the HTTPS listener only requests that carry a
// valid token of the issuer (and one of the route's scopes) for a route of
// the graph; everything else there is refused with 403. The HTTP listener
// is open because it only ever answers with a redirect to HTTPS.
func RequireJWT(a *Args) *securityv1beta1.AuthorizationPolicy {
	rules := []*securityv1beta1.Rule{{
		To: []*securityv1beta1.Rule_To{{Operation: &securityv1beta1.Operation{Ports: []string{strconv.Itoa(HTTPPort)}}}},
	}}
	for _, r := range a.Routes {
		rule := &securityv1beta1.Rule{
			From: []*securityv1beta1.Rule_From{{Source: &securityv1beta1.Source{RequestPrincipals: []string{a.JWT.Issuer + "/*"}}}},
			To: []*securityv1beta1.Rule_To{{Operation: &securityv1beta1.Operation{
				Ports: []string{strconv.Itoa(HTTPSPort)}, Hosts: a.Hosts, Methods: r.Methods, Paths: r.Paths,
			}}},
		}
		if len(r.Scopes) > 0 {
			rule.When = []*securityv1beta1.Condition{{Key: "request.auth.claims[scope]", Values: slices.Clone(r.Scopes)}}
		}
		rules = append(rules, rule)
	}
	return &securityv1beta1.AuthorizationPolicy{
		Selector: &typev1beta1.WorkloadSelector{MatchLabels: a.PodLabels},
		Action:   securityv1beta1.AuthorizationPolicy_ALLOW,
		Rules:    rules,
	}
}

const localRateLimit = "envoy.filters.http.local_ratelimit"

// RateLimit inserts Envoy's local rate limit filter into the gateway
// (inactive by itself) and gives each route its own token bucket. Over the
// limit Envoy answers 429 with x-rate-limited: true.
func RateLimit(a *Args) (*networkingv1alpha3.EnvoyFilter, error) {
	filter, err := structpb.NewStruct(map[string]any{
		"name": localRateLimit,
		"typed_config": map[string]any{
			"@type":    "type.googleapis.com/udpa.type.v1.TypedStruct",
			"type_url": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
			"value":    map[string]any{"stat_prefix": "http_local_rate_limiter"},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("rate limit filter: %w", err)
	}
	patches := []*networkingv1alpha3.EnvoyFilter_EnvoyConfigObjectPatch{{
		ApplyTo: networkingv1alpha3.EnvoyFilter_HTTP_FILTER,
		Match: &networkingv1alpha3.EnvoyFilter_EnvoyConfigObjectMatch{
			Context: networkingv1alpha3.EnvoyFilter_GATEWAY,
			ObjectTypes: &networkingv1alpha3.EnvoyFilter_EnvoyConfigObjectMatch_Listener{Listener: &networkingv1alpha3.EnvoyFilter_ListenerMatch{
				FilterChain: &networkingv1alpha3.EnvoyFilter_ListenerMatch_FilterChainMatch{
					Filter: &networkingv1alpha3.EnvoyFilter_ListenerMatch_FilterMatch{
						Name:      "envoy.filters.network.http_connection_manager",
						SubFilter: &networkingv1alpha3.EnvoyFilter_ListenerMatch_SubFilterMatch{Name: "envoy.filters.http.router"},
					},
				},
			}},
		},
		Patch: &networkingv1alpha3.EnvoyFilter_Patch{Operation: networkingv1alpha3.EnvoyFilter_Patch_INSERT_BEFORE, Value: filter},
	}}
	for _, r := range a.Routes {
		perRoute, err := structpb.NewStruct(map[string]any{
			"typed_per_filter_config": map[string]any{
				localRateLimit: map[string]any{
					"@type":    "type.googleapis.com/udpa.type.v1.TypedStruct",
					"type_url": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
					"value": map[string]any{
						"stat_prefix": "route_" + r.Name,
						"token_bucket": map[string]any{
							"max_tokens":      r.Requests,
							"tokens_per_fill": r.Requests,
							"fill_interval":   strconv.Itoa(r.PerSeconds) + "s",
						},
						"filter_enabled":  map[string]any{"runtime_key": "rl_enabled_" + r.Name, "default_value": map[string]any{"numerator": 100, "denominator": "HUNDRED"}},
						"filter_enforced": map[string]any{"runtime_key": "rl_enforced_" + r.Name, "default_value": map[string]any{"numerator": 100, "denominator": "HUNDRED"}},
						"response_headers_to_add": []any{map[string]any{
							"append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
							"header":        map[string]any{"key": "x-rate-limited", "value": "true"},
						}},
					},
				},
			},
		})
		if err != nil {
			return nil, fmt.Errorf("rate limit of route %s: %w", r.Name, err)
		}
		patches = append(patches, &networkingv1alpha3.EnvoyFilter_EnvoyConfigObjectPatch{
			ApplyTo: networkingv1alpha3.EnvoyFilter_HTTP_ROUTE,
			Match: &networkingv1alpha3.EnvoyFilter_EnvoyConfigObjectMatch{
				Context: networkingv1alpha3.EnvoyFilter_GATEWAY,
				ObjectTypes: &networkingv1alpha3.EnvoyFilter_EnvoyConfigObjectMatch_RouteConfiguration{RouteConfiguration: &networkingv1alpha3.EnvoyFilter_RouteConfigurationMatch{
					Vhost: &networkingv1alpha3.EnvoyFilter_RouteConfigurationMatch_VirtualHostMatch{
						Route: &networkingv1alpha3.EnvoyFilter_RouteConfigurationMatch_RouteMatch{Name: r.Name},
					},
				}},
			},
			Patch: &networkingv1alpha3.EnvoyFilter_Patch{Operation: networkingv1alpha3.EnvoyFilter_Patch_MERGE, Value: perRoute},
		})
	}
	return &networkingv1alpha3.EnvoyFilter{
		WorkloadSelector: &networkingv1alpha3.WorkloadSelector{Labels: a.PodLabels},
		ConfigPatches:    patches,
	}, nil
}
