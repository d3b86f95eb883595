package contract

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	vaultsdk "github.com/pulumi/pulumi-vault/sdk/v6/go/vault"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	securityv1beta1 "istio.io/api/security/v1beta1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/bulwark-platform/bulwark/components/component"
	"github.com/bulwark-platform/bulwark/components/datastore"
	"github.com/bulwark-platform/bulwark/components/edge"
	"github.com/bulwark-platform/bulwark/components/externalsecrets"
	"github.com/bulwark-platform/bulwark/components/identityprovider"
	"github.com/bulwark-platform/bulwark/components/mesh"
	"github.com/bulwark-platform/bulwark/components/meshpolicy"
	"github.com/bulwark-platform/bulwark/components/namespace"
	"github.com/bulwark-platform/bulwark/components/netpolicy"
	"github.com/bulwark-platform/bulwark/components/pki"
	"github.com/bulwark-platform/bulwark/components/vault"
	"github.com/bulwark-platform/bulwark/components/vaultconfig"
	"github.com/bulwark-platform/bulwark/components/workload"
	"github.com/bulwark-platform/bulwark/infra/config"
	compiled "github.com/bulwark-platform/bulwark/infra/datastore"
	"github.com/bulwark-platform/bulwark/infra/identity"
	"github.com/bulwark-platform/bulwark/infra/secrets"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/testkit/mocktest"
)

// entry is one component under contract. build registers it under name
// with valid args (mutate nil) or with args mutate broke; args nil passes
// nil args.
type entry struct {
	pkg, token string
	build      func(ctx *pulumi.Context, name string, p pulumi.ProviderResource, nilArgs bool, mutate func(any)) error
	// breaks are invalid args: each names the field path it must report.
	breaks []breakage
}

// explicitProvider is a provider package and how to register one.
type explicitProvider struct {
	pkg  string
	make func(ctx *pulumi.Context, name string) (pulumi.ProviderResource, error)
}

// providers are the components whose children take an explicit provider
// other than Kubernetes's, by package.
var providers = map[string]explicitProvider{
	"vaultconfig": {"vault", func(ctx *pulumi.Context, name string) (pulumi.ProviderResource, error) {
		return vaultsdk.NewProvider(ctx, name, &vaultsdk.ProviderArgs{Address: pulumi.String("http://127.0.0.1:8200"), Token: pulumi.String("t")})
	}},
}

// providerType is the type token of the entry's explicit provider.
func (e entry) providerType() string {
	if p, ok := providers[e.pkg]; ok {
		return "pulumi:providers:" + p.pkg
	}
	return "pulumi:providers:kubernetes"
}

// run runs program with the entry's explicit provider, named "k8s" as
// mocktest.RunWithProvider names Kubernetes's.
func (e entry) run(program func(ctx *pulumi.Context, p pulumi.ProviderResource) error) (*mocktest.Mocks, error) {
	ep, ok := providers[e.pkg]
	if !ok {
		return mocktest.RunWithProvider("test", program)
	}
	return mocktest.Run("test", nil, func(ctx *pulumi.Context) error {
		p, err := ep.make(ctx, "k8s")
		if err != nil {
			return err
		}
		return program(ctx, p)
	})
}

type breakage struct {
	mutate func(any)
	path   string
	kind   error
}

// construct adapts a component's New to entry.build.
func construct[A any, C any](newFn func(*pulumi.Context, string, *A, ...pulumi.ResourceOption) (C, error), valid func(pulumi.ProviderResource) *A) func(*pulumi.Context, string, pulumi.ProviderResource, bool, func(any)) error {
	return func(ctx *pulumi.Context, name string, p pulumi.ProviderResource, nilArgs bool, mutate func(any)) error {
		var a *A
		if !nilArgs {
			a = valid(p)
			if mutate != nil {
				mutate(a)
			}
		}
		_, err := newFn(ctx, name, a)
		return err
	}
}

func noProvider[A any](provider func(*A) *pulumi.ProviderResource) breakage {
	return breakage{func(a any) { *provider(a.(*A)) = nil }, "provider", fielderr.ErrRequired}
}

var entries = []entry{
	{"namespace", namespace.Token, construct(namespace.New, func(p pulumi.ProviderResource) *namespace.Args {
		return &namespace.Args{Name: "shop", Provider: p}
	}), []breakage{
		noProvider(func(a *namespace.Args) *pulumi.ProviderResource { return &a.Provider }),
		{func(a any) { a.(*namespace.Args).Name = "Shop" }, "name", fielderr.ErrInvalid},
	}},
	{"workload", workload.Token, construct(workload.New, func(p pulumi.ProviderResource) *workload.Args {
		return &workload.Args{Name: "order", Namespace: pulumi.String("shop"), Image: "x/order:1", Replicas: 2, Provider: p}
	}), []breakage{
		noProvider(func(a *workload.Args) *pulumi.ProviderResource { return &a.Provider }),
		{func(a any) { a.(*workload.Args).Replicas = -1 }, "replicas", fielderr.ErrOutOfRange},
	}},
	{"pki", pki.Token, construct(pki.New, func(p pulumi.ProviderResource) *pki.Args {
		return &pki.Args{Environment: "test", RootCADuration: 48 * time.Hour, LeafDuration: 24 * time.Hour, Provider: p,
			Certificates: []pki.Certificate{{Name: "gw", Namespace: "edge", SecretName: "gw-tls", DNSNames: []string{"api.example.com"}}}}
	}), []breakage{
		noProvider(func(a *pki.Args) *pulumi.ProviderResource { return &a.Provider }),
		{func(a any) { a.(*pki.Args).LeafDuration = 72 * time.Hour }, "leafDuration", fielderr.ErrOutOfRange},
	}},
	{"mesh", mesh.Token, construct(mesh.New, func(p pulumi.ProviderResource) *mesh.Args {
		return &mesh.Args{RootNamespace: "istio-system", GatewayNamespace: "istio-ingress", GatewayLabels: map[string]string{"istio": "gw"},
			GatewayServiceAccount: "gw", CollectorHost: "otel.observability.svc", CollectorPort: 4317, SamplingRatio: 0.1, Provider: p}
	}), []breakage{
		noProvider(func(a *mesh.Args) *pulumi.ProviderResource { return &a.Provider }),
		{func(a any) { a.(*mesh.Args).SamplingRatio = 2 }, "samplingRatio", fielderr.ErrOutOfRange},
	}},
	{"meshpolicy", meshpolicy.Token, construct(meshpolicy.New, func(p pulumi.ProviderResource) *meshpolicy.Args {
		return &meshpolicy.Args{Provider: p, PeerAuthentications: []kinds.Object[*securityv1beta1.PeerAuthentication]{
			kinds.PeerAuthentication.Of("default", "shop", nil, &securityv1beta1.PeerAuthentication{
				Mtls: &securityv1beta1.PeerAuthentication_MutualTLS{Mode: securityv1beta1.PeerAuthentication_MutualTLS_STRICT}}),
		}}
	}), []breakage{
		noProvider(func(a *meshpolicy.Args) *pulumi.ProviderResource { return &a.Provider }),
		{func(a any) {
			a.(*meshpolicy.Args).PeerAuthentications[0].Spec.Mtls.Mode = securityv1beta1.PeerAuthentication_MutualTLS_PERMISSIVE
		}, "peerAuthentications[0].mtls.mode", fielderr.ErrForbidden},
	}},
	{"netpolicy", netpolicy.Token, construct(netpolicy.New, func(p pulumi.ProviderResource) *netpolicy.Args {
		return &netpolicy.Args{Provider: p, Policies: []kinds.Object[networkingv1.NetworkPolicySpec]{
			kinds.NetworkPolicy.Of("default-deny", "shop", nil, networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}}),
		}}
	}), []breakage{
		noProvider(func(a *netpolicy.Args) *pulumi.ProviderResource { return &a.Provider }),
		{func(a any) {
			a.(*netpolicy.Args).Policies[0].Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{}}
		}, "policies[0].egress[0]", fielderr.ErrForbidden},
	}},
	{"datastore", datastore.Token, construct(datastore.New, func(p pulumi.ProviderResource) *datastore.Args {
		cfg := config.Defaults(config.Dev)
		stores, err := compiled.Compile(&cfg.Graph, cfg.Data)
		if err != nil {
			panic(err) // the dev defaults compile; a test failure says where
		}
		return &datastore.Args{Stores: stores, Provider: p}
	}), []breakage{
		noProvider(func(a *datastore.Args) *pulumi.ProviderResource { return &a.Provider }),
		{func(a any) { a.(*datastore.Args).Stores.Postgres.Clusters[0].Spec.EnableSuperuserAccess = nil }, "stores.postgres.clusters[0].enableSuperuserAccess", fielderr.ErrForbidden},
		{func(a any) { a.(*datastore.Args).Stores = compiled.Set{} }, "stores", fielderr.ErrRequired},
	}},
	{"edge", edge.Token, construct(edge.New, func(p pulumi.ProviderResource) *edge.Args {
		return &edge.Args{Namespace: "istio-ingress", PodLabels: map[string]string{"istio": "gw"}, Hosts: []string{"api.example.com"},
			CredentialName: "gw-tls", MinTLSVersion: "1.3", Provider: p,
			JWT: edge.JWT{Issuer: "https://id.example.com", JWKSURI: "https://id.example.com/jwks"},
			Routes: []edge.Route{{Name: "order", Namespace: "shop", Port: 8080, Requests: 1, PerSeconds: 1,
				Operations: []edge.Operation{{Methods: []string{"GET"}, Paths: []string{"/x"}}}}}}
	}), []breakage{
		noProvider(func(a *edge.Args) *pulumi.ProviderResource { return &a.Provider }),
		{func(a any) { a.(*edge.Args).MinTLSVersion = "1.0" }, "minTLSVersion", fielderr.ErrUnsupported},
	}},
	{"vault", vault.Token, construct(vault.New, func(p pulumi.ProviderResource) *vault.Args {
		return &vault.Args{Install: true, Mode: vault.HA, Replicas: 3, Audit: true, Provider: p}
	}), []breakage{
		noProvider(func(a *vault.Args) *pulumi.ProviderResource { return &a.Provider }),
		{func(a any) { a.(*vault.Args).Replicas = 2 }, "replicas", fielderr.ErrOutOfRange},
		{func(a any) { a.(*vault.Args).ExternalAddress = "https://vault.example.com" }, "externalAddress", fielderr.ErrConflict},
	}},
	{"externalsecrets", externalsecrets.Token, construct(externalsecrets.New, func(p pulumi.ProviderResource) *externalsecrets.Args {
		cfg := config.Defaults(config.Dev)
		set, err := secrets.Compile(cfg)
		if err != nil {
			panic(err) // the dev defaults compile; a test failure says where
		}
		ns := map[string]pulumi.StringInput{}
		for _, s := range set.Stores {
			ns[s.Namespace] = pulumi.String(s.Namespace)
		}
		return &externalsecrets.Args{Install: true, Stores: set.Stores, ExternalSecrets: set.ExternalSecrets, Namespaces: ns, Provider: p}
	}), []breakage{
		noProvider(func(a *externalsecrets.Args) *pulumi.ProviderResource { return &a.Provider }),
		{func(a any) { a.(*externalsecrets.Args).ExternalSecrets[0].Spec.RefreshInterval = nil }, "externalSecrets[0].refreshInterval", fielderr.ErrRequired},
	}},
	{"identityprovider", identityprovider.Token, construct(identityprovider.New, func(p pulumi.ProviderResource) *identityprovider.Args {
		cfg := config.Defaults(config.Dev)
		m, err := identity.Compile(cfg)
		if err != nil {
			panic(err) // the dev defaults compile; a test failure says where
		}
		set, err := identity.Keycloak(m, cfg)
		if err != nil {
			panic(err)
		}
		return &identityprovider.Args{Keycloak: set, InstallOperator: true, Provider: p}
	}), []breakage{
		noProvider(func(a *identityprovider.Args) *pulumi.ProviderResource { return &a.Provider }),
		{func(a any) { a.(*identityprovider.Args).Keycloak.Server.Spec.HTTP.HTTPEnabled = true }, "keycloak.server.http", fielderr.ErrForbidden},
		{func(a any) {
			c := &(*a.(*identityprovider.Args).Keycloak.RealmImport.Spec.Realm.Clients)[1]
			lit := "hunter2"
			c.Secret = &lit
		}, "keycloak.realmImport.realm.clients[1].secret", fielderr.ErrForbidden},
	}},
	{"vaultconfig", vaultconfig.Token, construct(vaultconfig.New, func(p pulumi.ProviderResource) *vaultconfig.Args {
		set, err := secrets.Compile(config.Defaults(config.Dev))
		if err != nil {
			panic(err) // the dev defaults compile; a test failure says where
		}
		return &vaultconfig.Args{Plan: set.Plan, KubernetesHost: pulumi.String("https://kubernetes.default.svc"),
			PostgresPasswords: map[string]pulumi.StringInput{set.Plan.Database.Connections[0].Name: pulumi.String("pw")},
			RedisPassword:     pulumi.String("pw"), Provider: p}
	}), []breakage{
		noProvider(func(a *vaultconfig.Args) *pulumi.ProviderResource { return &a.Provider }),
		{func(a any) { a.(*vaultconfig.Args).Plan.Roles[0].Namespace = "*" }, "plan.roles[0].namespace", fielderr.ErrForbidden},
		{func(a any) { a.(*vaultconfig.Args).RedisPassword = nil }, "redisPassword", fielderr.ErrRequired},
	}},
}

// Every package under components/ that defines a component is in the table.
func TestEveryComponentIsUnderContract(t *testing.T) {
	dirs, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	helpers := []string{"component", "contract", "kobject"}
	for _, d := range dirs {
		if !d.IsDir() || slices.Contains(helpers, d.Name()) {
			continue
		}
		if !slices.ContainsFunc(entries, func(e entry) bool { return e.pkg == d.Name() }) {
			t.Errorf("components/%s is not in the contract table", d.Name())
		}
	}
}

func TestComponentContract(t *testing.T) {
	for _, e := range entries {
		t.Run(e.pkg, func(t *testing.T) {
			module, err := component.Module(e.token)
			if err != nil || module != e.pkg {
				t.Errorf("token %q: module %q (%v), want %q", e.token, module, err, e.pkg)
			}
			const name = "under-test"
			m, err := e.run(func(ctx *pulumi.Context, p pulumi.ProviderResource) error {
				return e.build(ctx, name, p, false, nil)
			})
			if err != nil {
				t.Fatalf("valid args refused: %v", err)
			}
			urn := "urn:pulumi:test::bulwark::" + e.token + "::" + name
			comps, children := 0, 0
			for _, r := range m.All() {
				switch {
				case r.Type == e.providerType():
				case r.Type == e.token:
					comps++
					if r.Name != name {
						t.Errorf("component registered as %q, want %q", r.Name, name)
					}
				default:
					children++
					if r.Parent != urn {
						t.Errorf("%s %s: parent %q, want the component", r.Type, r.Name, r.Parent)
					}
					if r.Custom && !strings.Contains(r.Provider, e.providerType()+"::k8s::") {
						t.Errorf("%s %s: provider %q, want the explicit one", r.Type, r.Name, r.Provider)
					}
					if !strings.HasPrefix(r.Name, name+"-") {
						t.Errorf("%s %s: name does not start with %q", r.Type, r.Name, name+"-")
					}
				}
			}
			if comps != 1 || children == 0 {
				t.Errorf("registered %d components with %d children", comps, children)
			}
			// The component's own outputs, then the stack's.
			if got := m.OutputRegistrations(); got != 2 {
				t.Errorf("outputs registered %d times, want the component's and the stack's", got)
			}
		})
		t.Run(e.pkg+"/invalid args register nothing", func(t *testing.T) {
			cases := append([]breakage{{nil, "args", fielderr.ErrRequired}}, e.breaks...)
			for _, b := range cases {
				m, err := e.run(func(ctx *pulumi.Context, p pulumi.ProviderResource) error {
					return e.build(ctx, "bad", p, b.mutate == nil, b.mutate)
				})
				if err == nil {
					t.Errorf("%s: accepted", b.path)
					continue
				}
				want := e.pkg + " bad: " + b.path
				if !slices.ContainsFunc(fielderr.All(err), func(fe *fielderr.Error) bool { return fe.Path == want && errors.Is(fe, b.kind) }) {
					t.Errorf("error %q does not report %v at %q", err, b.kind, want)
				}
				for _, r := range m.All() {
					if r.Type != e.providerType() {
						t.Errorf("%s: registered %s %s", b.path, r.Type, r.Name)
					}
				}
			}
		})
	}
}
