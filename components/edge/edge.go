// Package edge provides IngressEdge: the Istio ingress Gateway (TLS from a
// cert-manager secret, HTTP redirected to HTTPS, a TLS minimum), one
// VirtualService per edge route of the graph, JWT validation at the edge
// (RequestAuthentication plus an AuthorizationPolicy that admits a request
// on the HTTPS listener only with a valid token carrying the route's
// scopes), and local rate limiting per route that answers 429.
package edge

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	securityv1beta1 "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bulwark-platform/bulwark/components/component"
	"github.com/bulwark-platform/bulwark/components/kobject"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/kinds"
)

// Token is the component's type token.
const Token = "bulwark:edge:IngressEdge"

// The Istio gateway chart's container ports behind Service ports 80 and 443.
const (
	HTTPPort  = 8080
	HTTPSPort = 8443
)

// Names of the edge's objects.
const (
	GatewayName      = "bulwark-gateway"
	JWTPolicy        = "bulwark-jwt"
	RequireJWTPolicy = "bulwark-require-jwt"
	RateLimitFilter  = "bulwark-rate-limit"
)

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
	// Identity, when set, publishes the identity provider's public
	// endpoints on its own host (an installed Keycloak).
	Identity *IdentityRoute
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
	// Operations are the requests routed, each with the scopes it needs.
	Operations []Operation
	// RateLimit is a token bucket per gateway pod, shared by the route's
	// operations.
	Requests, PerSeconds int
}

// Operation is every method on every path, needing one of the scopes
// (none: any valid token).
type Operation struct {
	Methods, Paths, Scopes []string
}

// IdentityRoute publishes an identity provider in the cluster on the
// issuer's host: only its public paths (login pages, the OIDC endpoints,
// static resources), never its admin console or API, with TLS from the
// gateway re-encrypted to the provider's own certificate. No token is
// required there (that is where tokens come from); the provider's own
// brute-force protection guards its login.
type IdentityRoute struct {
	// Host is the issuer's host; the gateway's certificate must name it.
	Host string
	// Service is the provider's in-cluster Service (FQDN) and Port its
	// HTTPS port.
	Service string
	Port    int
	// Paths are the routed path prefixes, each ending in '*'.
	Paths []string
	// CASecret is the Secret in the gateway's namespace whose ca.crt
	// verifies the provider's certificate.
	CASecret string
	// Requests per PerSeconds is the route's own token bucket (the token
	// endpoint and the login pages, beside the provider's brute-force
	// protection).
	Requests, PerSeconds int
}

// IdentityName names the identity route's VirtualService and
// DestinationRule.
const IdentityName = "identity"

// Host is the in-cluster name of the route's service.
func (r Route) Host() string { return r.Name + "." + r.Namespace + ".svc.cluster.local" }

// IngressEdge is the platform's front door.
type IngressEdge struct {
	pulumi.ResourceState
	Gateway pulumi.StringOutput
}

// withDefaults: every field is required; nothing to fill.
func (a *Args) withDefaults() *Args { out := *a; return &out }

func (a *Args) validate() error {
	var l fielderr.List
	if len(validation.IsDNS1123Label(a.Namespace)) > 0 {
		l.Add(fielderr.ErrInvalid, "namespace", "%q is not a DNS-1123 label", a.Namespace)
	}
	if len(a.PodLabels) == 0 {
		l.Add(fielderr.ErrRequired, "podLabels", "must select the gateway's pods")
	}
	if len(a.Hosts) == 0 {
		l.Add(fielderr.ErrRequired, "hosts", "at least one is required")
	}
	if a.CredentialName == "" {
		l.Add(fielderr.ErrRequired, "credentialName", "is required (HTTPS only)")
	}
	if a.MinTLSVersion != "1.2" && a.MinTLSVersion != "1.3" {
		l.Add(fielderr.ErrUnsupported, "minTLSVersion", "%q is not 1.2 or 1.3", a.MinTLSVersion)
	}
	if a.JWT.Issuer == "" {
		l.Add(fielderr.ErrRequired, "jwt.issuer", "is required")
	}
	if a.JWT.JWKSURI == "" {
		l.Add(fielderr.ErrRequired, "jwt.jwksUri", "is required")
	}
	seen := map[string]int{}
	for i, r := range a.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		if r.Name == "" || r.Namespace == "" {
			l.Add(fielderr.ErrRequired, p, "name and namespace are required")
		}
		if r.Port < 1 || r.Port > 65535 {
			l.Add(fielderr.ErrOutOfRange, p+".port", "must be between 1 and 65535, got %d", r.Port)
		}
		if j, dup := seen[r.Name]; dup {
			l.Add(fielderr.ErrDuplicate, p+".name", "%s is also routes[%d]", r.Name, j)
		}
		seen[r.Name] = i
		if len(r.Operations) == 0 {
			l.Add(fielderr.ErrRequired, p+".operations", "at least one operation is required")
		}
		for j, op := range r.Operations {
			if len(op.Methods) == 0 {
				l.Add(fielderr.ErrRequired, fmt.Sprintf("%s.operations[%d].methods", p, j), "at least one method is required")
			}
			if len(op.Paths) == 0 {
				l.Add(fielderr.ErrRequired, fmt.Sprintf("%s.operations[%d].paths", p, j), "at least one path is required")
			}
		}
		if r.Requests < 1 || r.PerSeconds < 1 {
			l.Add(fielderr.ErrOutOfRange, p+".rateLimit", "requests and perSeconds must be positive, got %d per %ds", r.Requests, r.PerSeconds)
		}
	}
	if id := a.Identity; id != nil {
		if id.Host == "" || slices.Contains(a.Hosts, id.Host) {
			l.Add(fielderr.ErrInvalid, "identity.host", "%q must be a host of its own, not one of hosts", id.Host)
		}
		if id.Service == "" || id.CASecret == "" {
			l.Add(fielderr.ErrRequired, "identity", "service and caSecret are required")
		}
		if id.Port < 1 || id.Port > 65535 {
			l.Add(fielderr.ErrOutOfRange, "identity.port", "must be between 1 and 65535, got %d", id.Port)
		}
		if len(id.Paths) == 0 {
			l.Add(fielderr.ErrRequired, "identity.paths", "at least one public path is required")
		}
		if id.Requests < 1 || id.PerSeconds < 1 {
			l.Add(fielderr.ErrOutOfRange, "identity.rateLimit", "requests and perSeconds must be positive, got %d per %ds", id.Requests, id.PerSeconds)
		}
		for i, p := range id.Paths {
			if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/*") || strings.HasPrefix(p, "/admin") {
				l.Add(fielderr.ErrForbidden, fmt.Sprintf("identity.paths[%d]", i), "%q must be a prefix /<segment>/* outside /admin", p)
			}
		}
	}
	component.RequireProvider(&l, a.Provider)
	return l.Err()
}

// New registers IngressEdge.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*IngressEdge, error) {
	c := &IngressEdge{}
	a, err := component.Begin(ctx, c, Token, name, args, (*Args).withDefaults, (*Args).validate, opts...)
	if err != nil {
		return nil, err
	}
	child := component.Children(c, a.Provider, a.DependsOn...)
	rl, err := RateLimit(a)
	if err != nil {
		return nil, fmt.Errorf("edge %s: %w", name, err)
	}
	res := func(kind, objName string) string {
		return fmt.Sprintf("%s-%s-%s", name, strings.ToLower(kind), objName)
	}
	if _, err := kobject.Register(ctx, res("Gateway", GatewayName), kinds.Gateway,
		kinds.Gateway.Of(GatewayName, a.Namespace, nil, Gateway(a)), child...); err != nil {
		return nil, err
	}
	if _, err := kobject.Register(ctx, res("RequestAuthentication", JWTPolicy), kinds.RequestAuthentication,
		kinds.RequestAuthentication.Of(JWTPolicy, a.Namespace, nil, RequestAuthentication(a)), child...); err != nil {
		return nil, err
	}
	if _, err := kobject.Register(ctx, res("AuthorizationPolicy", RequireJWTPolicy), kinds.AuthorizationPolicy,
		kinds.AuthorizationPolicy.Of(RequireJWTPolicy, a.Namespace, nil, RequireJWT(a)), child...); err != nil {
		return nil, err
	}
	for _, r := range a.Routes {
		if _, err := kobject.Register(ctx, res("VirtualService", r.Name), kinds.VirtualService,
			kinds.VirtualService.Of(r.Name, a.Namespace, nil, VirtualService(a, r)), child...); err != nil {
			return nil, err
		}
	}
	if a.Identity != nil {
		if _, err := kobject.Register(ctx, res("VirtualService", IdentityName), kinds.VirtualService,
			kinds.VirtualService.Of(IdentityName, a.Namespace, nil, IdentityVirtualService(a)), child...); err != nil {
			return nil, err
		}
		if _, err := kobject.Register(ctx, res("DestinationRule", IdentityName), kinds.DestinationRule,
			kinds.DestinationRule.Of(IdentityName, a.Namespace, nil, IdentityDestinationRule(a)), child...); err != nil {
			return nil, err
		}
	}
	if _, err := kobject.Register(ctx, res("EnvoyFilter", RateLimitFilter), kinds.EnvoyFilter,
		kinds.EnvoyFilter.Of(RateLimitFilter, a.Namespace, nil, rl), child...); err != nil {
		return nil, err
	}
	c.Gateway = pulumi.String(a.Namespace + "/" + GatewayName).ToStringOutput()
	if err := component.Finish(ctx, c, pulumi.Map{"gateway": c.Gateway, "routes": pulumi.Int(len(a.Routes))}); err != nil {
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
	hosts := slices.Clone(a.Hosts)
	if a.Identity != nil {
		hosts = append(hosts, a.Identity.Host)
	}
	return &networkingv1alpha3.Gateway{
		Selector: a.PodLabels,
		Servers: []*networkingv1alpha3.Server{
			{
				Port:  &networkingv1alpha3.Port{Number: 80, Name: "http", Protocol: "HTTP"},
				Hosts: hosts,
				Tls:   &networkingv1alpha3.ServerTLSSettings{HttpsRedirect: true},
			},
			{
				Port:  &networkingv1alpha3.Port{Number: 443, Name: "https", Protocol: "HTTPS"},
				Hosts: hosts,
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
	for _, op := range r.Operations {
		for _, p := range op.Paths {
			uri := &networkingv1alpha3.StringMatch{MatchType: &networkingv1alpha3.StringMatch_Exact{Exact: p}}
			if prefix, ok := strings.CutSuffix(p, "*"); ok {
				uri = &networkingv1alpha3.StringMatch{MatchType: &networkingv1alpha3.StringMatch_Prefix{Prefix: prefix}}
			}
			for _, m := range op.Methods {
				matches = append(matches, &networkingv1alpha3.HTTPMatchRequest{
					Uri:    uri,
					Method: &networkingv1alpha3.StringMatch{MatchType: &networkingv1alpha3.StringMatch_Exact{Exact: m}},
				})
			}
		}
	}
	return gatewayRoute(a, a.Hosts, r.Name, matches, r.Host(), r.Port)
}

// gatewayRoute is a VirtualService on the gateway: one named route sending
// the matching requests for hosts to host:port.
func gatewayRoute(a *Args, hosts []string, name string, matches []*networkingv1alpha3.HTTPMatchRequest, host string, port int) *networkingv1alpha3.VirtualService {
	return &networkingv1alpha3.VirtualService{
		Hosts:    hosts,
		Gateways: []string{a.Namespace + "/" + GatewayName},
		Http: []*networkingv1alpha3.HTTPRoute{{
			Name:  name,
			Match: matches,
			Route: []*networkingv1alpha3.HTTPRouteDestination{{
				Destination: &networkingv1alpha3.Destination{Host: host, Port: &networkingv1alpha3.PortSelector{Number: uint32(port)}},
			}},
		}},
	}
}

// IdentityVirtualService routes the identity host's public paths, and
// nothing else, to the provider.
func IdentityVirtualService(a *Args) *networkingv1alpha3.VirtualService {
	id := a.Identity
	var matches []*networkingv1alpha3.HTTPMatchRequest
	for _, p := range id.Paths {
		matches = append(matches, &networkingv1alpha3.HTTPMatchRequest{
			Uri: &networkingv1alpha3.StringMatch{MatchType: &networkingv1alpha3.StringMatch_Prefix{Prefix: strings.TrimSuffix(p, "*")}},
		})
	}
	return gatewayRoute(a, []string{id.Host}, IdentityName, matches, id.Service, id.Port)
}

// IdentityDestinationRule makes the gateway (only: exported to its own
// namespace) speak TLS to the provider, verifying its certificate with the
// CA for the issuer's name.
func IdentityDestinationRule(a *Args) *networkingv1alpha3.DestinationRule {
	id := a.Identity
	return &networkingv1alpha3.DestinationRule{
		Host:     id.Service,
		ExportTo: []string{"."},
		TrafficPolicy: &networkingv1alpha3.TrafficPolicy{Tls: &networkingv1alpha3.ClientTLSSettings{
			Mode: networkingv1alpha3.ClientTLSSettings_SIMPLE, CredentialName: id.CASecret, Sni: id.Host,
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
// valid token of the issuer and one of the scopes of the operation they
// match (one rule per operation of a graph route); everything else there
// is refused with 403. The HTTP listener is open because it only ever
// answers with a redirect to HTTPS.
func RequireJWT(a *Args) *securityv1beta1.AuthorizationPolicy {
	rules := []*securityv1beta1.Rule{{
		To: []*securityv1beta1.Rule_To{{Operation: &securityv1beta1.Operation{Ports: []string{strconv.Itoa(HTTPPort)}}}},
	}}
	for _, r := range a.Routes {
		for _, op := range r.Operations {
			rule := &securityv1beta1.Rule{
				From: []*securityv1beta1.Rule_From{{Source: &securityv1beta1.Source{RequestPrincipals: []string{a.JWT.Issuer + "/*"}}}},
				To: []*securityv1beta1.Rule_To{{Operation: &securityv1beta1.Operation{
					Ports: []string{strconv.Itoa(HTTPSPort)}, Hosts: a.Hosts, Methods: op.Methods, Paths: op.Paths,
				}}},
			}
			if len(op.Scopes) > 0 {
				rule.When = []*securityv1beta1.Condition{{Key: "request.auth.claims[scope]", Values: slices.Clone(op.Scopes)}}
			}
			rules = append(rules, rule)
		}
	}
	if id := a.Identity; id != nil {
		// Where tokens come from: no token required, its public paths only.
		rules = append(rules, &securityv1beta1.Rule{To: []*securityv1beta1.Rule_To{{Operation: &securityv1beta1.Operation{
			Ports: []string{strconv.Itoa(HTTPSPort)}, Hosts: []string{id.Host}, Paths: slices.Clone(id.Paths),
		}}}})
	}
	return &securityv1beta1.AuthorizationPolicy{
		Selector: &typev1beta1.WorkloadSelector{MatchLabels: a.PodLabels},
		Action:   securityv1beta1.AuthorizationPolicy_ALLOW,
		Rules:    rules,
	}
}

// localRateLimit is Envoy's local rate limit HTTP filter.
const localRateLimit = "envoy.filters.http.local_ratelimit"

// envoyStruct renders an Envoy message as the google.protobuf.Struct an
// EnvoyFilter patch carries, in Envoy's snake_case field names; an Any in
// it (a typed_config) carries its "@type".
func envoyStruct(msg proto.Message) (*structpb.Struct, error) {
	raw, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(msg)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return structpb.NewStruct(m)
}

// RouteLimit is the token bucket of one route, typed with Envoy's own
// API: over the limit Envoy answers 429 with x-rate-limited: true.
func RouteLimit(r Route) *localratelimitv3.LocalRateLimit {
	always := func(key string) *corev3.RuntimeFractionalPercent {
		return &corev3.RuntimeFractionalPercent{
			RuntimeKey:   key + "_" + r.Name,
			DefaultValue: &typev3.FractionalPercent{Numerator: 100, Denominator: typev3.FractionalPercent_HUNDRED},
		}
	}
	return &localratelimitv3.LocalRateLimit{
		StatPrefix: "route_" + r.Name,
		TokenBucket: &typev3.TokenBucket{
			MaxTokens:     uint32(r.Requests),
			TokensPerFill: wrapperspb.UInt32(uint32(r.Requests)),
			FillInterval:  durationpb.New(time.Duration(r.PerSeconds) * time.Second),
		},
		FilterEnabled:  always("rl_enabled"),
		FilterEnforced: always("rl_enforced"),
		ResponseHeadersToAdd: []*corev3.HeaderValueOption{{
			Header:       &corev3.HeaderValue{Key: "x-rate-limited", Value: "true"},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		}},
	}
}

// RateLimit inserts Envoy's local rate limit filter into the gateway
// (inactive by itself: no bucket) and gives each route its own bucket. The
// patches are Envoy's own types (an HttpFilter, a Route's per-filter
// configuration), rendered for the EnvoyFilter.
func RateLimit(a *Args) (*networkingv1alpha3.EnvoyFilter, error) {
	typed, err := anypb.New(&localratelimitv3.LocalRateLimit{StatPrefix: "http_local_rate_limiter"})
	if err != nil {
		return nil, fmt.Errorf("rate limit filter: %w", err)
	}
	filter, err := envoyStruct(&hcmv3.HttpFilter{Name: localRateLimit, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: typed}})
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
						Name:      wellknown.HTTPConnectionManager,
						SubFilter: &networkingv1alpha3.EnvoyFilter_ListenerMatch_SubFilterMatch{Name: wellknown.Router},
					},
				},
			}},
		},
		Patch: &networkingv1alpha3.EnvoyFilter_Patch{Operation: networkingv1alpha3.EnvoyFilter_Patch_INSERT_BEFORE, Value: filter},
	}}
	limited := slices.Clone(a.Routes)
	if id := a.Identity; id != nil {
		limited = append(limited, Route{Name: IdentityName, Requests: id.Requests, PerSeconds: id.PerSeconds})
	}
	for _, r := range limited {
		limit, err := anypb.New(RouteLimit(r))
		if err != nil {
			return nil, fmt.Errorf("rate limit of route %s: %w", r.Name, err)
		}
		perRoute, err := envoyStruct(&routev3.Route{TypedPerFilterConfig: map[string]*anypb.Any{localRateLimit: limit}})
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
