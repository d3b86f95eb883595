package program

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/identity"
	"github.com/bulwark-platform/bulwark/infra/podconfig"
	"github.com/bulwark-platform/bulwark/infra/secrets"
	"github.com/bulwark-platform/bulwark/internal/testkit/mocktest"
)

func runStack(t *testing.T, stack string, override map[string]string) (*mocktest.Mocks, error) {
	t.Helper()
	values, err := config.ReadStackFile(filepath.Join("..", "..", "stacks", "Pulumi."+stack+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range override {
		values[k] = v
	}
	return mocktest.Run(stack, values, New(Options{ConfigKeys: config.Keys(values)}))
}

func containers(t *testing.T, d mocktest.Resource) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, c := range mocktest.Get(d.Inputs, "spec", "template", "spec", "containers").([]any) {
		out = append(out, c.(map[string]any))
	}
	return out
}

// Each stack file, run through the whole program, must keep the
// platform's promises; prod and local have their own.
func TestEveryStackKeepsItsInvariants(t *testing.T) {
	for _, stack := range []string{"local", "ci", "dev", "staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			m, err := runStack(t, stack, nil)
			if err != nil {
				t.Fatal(err)
			}
			deployments := m.ByType("kubernetes:apps/v1:Deployment")
			if len(deployments) != 3 {
				t.Fatalf("got %d deployments, want 3 (order, payment, user)", len(deployments))
			}
			for _, d := range deployments {
				replicas := mocktest.Get(d.Inputs, "spec", "replicas").(float64)
				switch stack {
				case "prod":
					if replicas < 3 {
						t.Errorf("%s: %v replicas in prod, want >= 3", d.Name, replicas)
					}
				case "local":
					if replicas != 1 {
						t.Errorf("%s: %v replicas locally, want 1", d.Name, replicas)
					}
				}
				for _, c := range containers(t, d) {
					for _, p := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
						if c[p] == nil {
							t.Errorf("%s: container %v has no %s", d.Name, c["name"], p)
						}
					}
					if mocktest.Dig(c, "resources", "limits", "cpu") == nil || mocktest.Dig(c, "resources", "limits", "memory") == nil {
						t.Errorf("%s: container without limits", d.Name)
					}
					sc, _ := c["securityContext"].(map[string]any)
					if sc["runAsNonRoot"] != true || sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false ||
						fmt.Sprint(mocktest.Dig(sc, "capabilities", "drop")) != "[ALL]" || mocktest.Dig(sc, "seccompProfile", "type") != "RuntimeDefault" {
						t.Errorf("%s: securityContext not restricted: %v", d.Name, sc)
					}
				}
			}
			for _, pdb := range m.ByType("kubernetes:policy/v1:PodDisruptionBudget") {
				if stack == "prod" {
					if minAv, _ := mocktest.Get(pdb.Inputs, "spec", "minAvailable").(float64); minAv < 2 {
						t.Errorf("%s: prod PDB minAvailable %v, want >= 2", pdb.Name, minAv)
					}
				}
			}
			for _, hpa := range m.ByType("kubernetes:autoscaling/v2:HorizontalPodAutoscaler") {
				if stack == "prod" && mocktest.Get(hpa.Inputs, "spec", "maxReplicas").(float64) < 10 {
					t.Errorf("%s: prod HPA max %v, want >= 10", hpa.Name, mocktest.Get(hpa.Inputs, "spec", "maxReplicas"))
				}
			}
			if got := len(m.ByType("kubernetes:policy/v1:PodDisruptionBudget")); got != 3 {
				t.Errorf("got %d PDBs, want one per service", got)
			}
			appNamespaces := 0
			for _, ns := range m.ByType("kubernetes:core/v1:Namespace") {
				if strings.HasPrefix(ns.Parent, "urn:pulumi:"+stack+"::bulwark::bulwark:namespace:AppNamespace::") && !strings.Contains(ns.Parent, "::platform-") {
					appNamespaces++
					if mocktest.Get(ns.Inputs, "metadata", "labels", "pod-security.kubernetes.io/enforce") != "restricted" {
						t.Errorf("namespace %s does not enforce restricted", ns.Name)
					}
				}
			}
			for _, ns := range m.ByType("kubernetes:core/v1:Namespace") {
				level := mocktest.Get(ns.Inputs, "metadata", "labels", "pod-security.kubernetes.io/enforce")
				if level == "privileged" && mocktest.Get(ns.Inputs, "metadata", "name") != "istio-system" {
					t.Errorf("namespace %s is privileged", ns.Name)
				}
			}
			if appNamespaces != 2 {
				t.Errorf("got %d application namespaces, want 2", appNamespaces)
			}
			gateways := m.ByType("kubernetes:networking.istio.io/v1:Gateway")
			if len(gateways) != 1 {
				t.Fatalf("got %d Gateways", len(gateways))
			}
			wantTLS := "TLSV1_2"
			if stack == "prod" {
				wantTLS = "TLSV1_3"
			}
			for _, srv := range mocktest.Get(gateways[0].Inputs, "spec", "servers").([]any) {
				if mocktest.Dig(srv, "port", "protocol") == "HTTPS" && mocktest.Dig(srv, "tls", "minProtocolVersion") != wantTLS {
					t.Errorf("HTTPS minimum %v, want %s", mocktest.Dig(srv, "tls", "minProtocolVersion"), wantTLS)
				}
				if mocktest.Dig(srv, "port", "protocol") == "HTTP" && mocktest.Dig(srv, "tls", "httpsRedirect") != true {
					t.Error("plain HTTP is served instead of redirected")
				}
			}
			limited := map[string]bool{}
			for _, ef := range m.ByType("kubernetes:networking.istio.io/v1alpha3:EnvoyFilter") {
				for _, p := range mocktest.Get(ef.Inputs, "spec", "configPatches").([]any) {
					if name, ok := mocktest.Dig(p, "match", "routeConfiguration", "vhost", "route", "name").(string); ok {
						limited[name] = true
					}
				}
			}
			for _, vs := range m.ByType("kubernetes:networking.istio.io/v1:VirtualService") {
				for _, route := range mocktest.Get(vs.Inputs, "spec", "http").([]any) {
					if name := mocktest.Dig(route, "name").(string); !limited[name] {
						t.Errorf("edge route %s has no rate limit", name)
					}
				}
			}
			// One route per gateway call, and Keycloak's public paths where
			// it is installed.
			want := 2
			if cfg := stackConfig(t, stack); cfg.Identity.InstallsKeycloak() {
				want++
			}
			if got := len(m.ByType("kubernetes:networking.istio.io/v1:VirtualService")); got != want {
				t.Errorf("%d edge routes, want %d", got, want)
			}
			if got := len(m.ByType("kubernetes:security.istio.io/v1:PeerAuthentication")); got != 3 {
				t.Errorf("%d PeerAuthentications, want the root namespace's and one per application namespace", got)
			}
			providers := m.ByType("pulumi:providers:kubernetes")
			if len(providers) != 1 {
				t.Fatalf("got %d kubernetes providers, want exactly the explicit one", len(providers))
			}
			for _, r := range m.All() {
				if strings.HasPrefix(r.Type, "kubernetes:") && !strings.Contains(r.Provider, "pulumi:providers:kubernetes::kubernetes::") {
					t.Errorf("%s %s uses provider %q, not the explicit one", r.Type, r.Name, r.Provider)
				}
			}
		})
	}
}

func TestSamplingReachesTheWorkloads(t *testing.T) {
	m, err := runStack(t, "prod", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.ByType("kubernetes:apps/v1:Deployment") {
		env := map[string]string{}
		for _, e := range containers(t, d)[0]["env"].([]any) {
			em := e.(map[string]any)
			if v, ok := em["value"].(string); ok {
				env[em["name"].(string)] = v
			}
		}
		if env["OTEL_TRACES_SAMPLER_ARG"] != "0.05" || env["OTEL_TRACES_SAMPLER"] != "parentbased_traceidratio" {
			t.Errorf("%s: sampler %q arg %q, want prod's 0.05", d.Name, env["OTEL_TRACES_SAMPLER"], env["OTEL_TRACES_SAMPLER_ARG"])
		}
	}
}

func TestKubeconfigFromTheRunnerWins(t *testing.T) {
	values, err := config.ReadStackFile(filepath.Join("..", "..", "stacks", "Pulumi.dev.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := mocktest.Run("dev", values, New(Options{ConfigKeys: config.Keys(values), Kubeconfig: "/tmp/kc"}))
	if err != nil {
		t.Fatal(err)
	}
	p := m.ByType("pulumi:providers:kubernetes")[0]
	if mocktest.Get(p.Inputs, "kubeconfig") != "/tmp/kc" || mocktest.Get(p.Inputs, "context") != "bulwark-dev" {
		t.Errorf("provider inputs %v", p.Inputs.Mappable())
	}
}

// A bad stack configuration fails before any resource is registered.
func TestBadConfigurationRegistersNothing(t *testing.T) {
	tests := []struct {
		name     string
		override map[string]string
		want     string
	}{
		{"unknown key", map[string]string{"bulwark:replicas": "3"}, "bulwark:replicas: unknown configuration key"},
		{"negative replicas", map[string]string{"bulwark:workloads": `{"replicas": -1}`}, "bulwark:workloads.replicas: must be at least 1"},
		{"call to an unknown service", map[string]string{"bulwark:graph": `{"gateway": {"namespace": "edge", "serviceAccount": "gw", "podLabels": {"app": "gw"}, "calls": [{"target": "nope", "methods": ["GET"], "paths": ["/"]}]},
			"services": [{"name": "api", "namespace": "apps", "serviceAccount": "api", "port": 8080, "metricsPort": 9090, "image": "x/api:1"}]}`},
			`bulwark:graph.gateway.calls[0].target: unknown service "nope"`},
		{"an unknown secret", map[string]string{"bulwark:graph": `{"gateway": {"namespace": "edge", "serviceAccount": "gw", "podLabels": {"app": "gw"}},
			"services": [{"name": "api", "namespace": "apps", "serviceAccount": "api", "port": 8080, "metricsPort": 9090, "image": "x/api:1", "secrets": [{"name": "tls-cert"}]}]}`},
			`bulwark:graph.services[0].secrets[0].name: unknown secret "tls-cert"`},
		{"a database lease above the maximum", map[string]string{"bulwark:vault": `{"database": {"ttl": "1h", "maxTTL": "48h"}}`},
			"bulwark:vault.database.maxTTL: 48h is above the maximum of 24h"},
		{"order left without its OAuth client", map[string]string{"bulwark:graph": `{"gateway": {"namespace": "edge", "serviceAccount": "gw", "podLabels": {"app": "gw"}},
			"services": [{"name": "order", "namespace": "shop", "serviceAccount": "order", "port": 8080, "metricsPort": 9090, "image": "x/order:1", "postgres": true}]}`},
			"bulwark:graph.services[0]: service order would not start"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := runStack(t, "ci", tc.override)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if n := len(m.All()); n != 0 {
				t.Errorf("%d resources registered despite the bad configuration", n)
			}
		})
	}
}

// Under the Pulumi CLI the keys come from PULUMI_CONFIG.
func TestKeysFromPulumiConfigEnv(t *testing.T) {
	t.Setenv("PULUMI_CONFIG", `{"bulwark:environment": "dev", "bulwark:extra": "1"}`)
	values := map[string]string{"bulwark:environment": "dev", "bulwark:extra": "1"}
	_, err := mocktest.Run("dev", values, New(Options{}))
	if err == nil || !strings.Contains(err.Error(), "bulwark:extra: unknown configuration key") {
		t.Fatalf("got %v", err)
	}
}

func TestIstioCSRFeedsTheMeshCA(t *testing.T) {
	m, err := runStack(t, "prod", map[string]string{"bulwark:certificates": `{"istioCSR": true}`})
	if err != nil {
		t.Fatal(err)
	}
	csr, ok := m.Named("pki-istio-csr")
	if !ok {
		t.Fatal("istio-csr not installed")
	}
	if mocktest.Get(csr.Inputs, "values", "app", "certmanager", "issuer", "name") != "bulwark-ca" {
		t.Errorf("istio-csr issuer %v", mocktest.Get(csr.Inputs, "values", "app", "certmanager"))
	}
	istiod, _ := m.Named("istio-istiod")
	if mocktest.Get(istiod.Inputs, "values", "global", "caAddress") != "cert-manager-istio-csr.cert-manager.svc:443" {
		t.Errorf("istiod CA address %v", mocktest.Get(istiod.Inputs, "values", "global"))
	}
	if !slices.ContainsFunc(istiod.Dependencies, func(u string) bool { return strings.HasSuffix(u, "::pki-istio-csr") }) {
		t.Errorf("istiod does not wait for istio-csr: %v", istiod.Dependencies)
	}
}

// Every Deployment carries exactly the pod configuration compiled for its
// service (what its contract requires): the same variables, each value
// from a Secret read from the Secret podconfig names, every Secret volume
// mounted read-only, and the agent's annotations and token volume where
// the service logs in to Vault.
func TestDeploymentsCarryTheCompiledPodConfiguration(t *testing.T) {
	for _, stack := range []string{"local", "dev", "prod"} {
		t.Run(stack, func(t *testing.T) {
			m, err := runStack(t, stack, nil)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.LoadStack(filepath.Join("..", ".."), stack)
			if err != nil {
				t.Fatal(err)
			}
			set, err := secrets.Compile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			id, err := identity.Compile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			pods := podconfig.Compile(cfg, id, set)
			for i, s := range cfg.Graph.Services {
				want := pods[i]
				j := slices.IndexFunc(m.ByType("kubernetes:apps/v1:Deployment"), func(d mocktest.Resource) bool {
					return mocktest.Get(d.Inputs, "metadata", "name") == s.Name
				})
				if j < 0 {
					t.Fatalf("no Deployment for %s", s.Name)
				}
				d := m.ByType("kubernetes:apps/v1:Deployment")[j]
				c := containers(t, d)[0]
				var names []string
				for _, e := range c["env"].([]any) {
					em := e.(map[string]any)
					name := em["name"].(string)
					// The ports come from the graph, the pod's identity from
					// the downward API: the workload component's own.
					if name == "HTTP_PORT" || name == "METRICS_PORT" || mocktest.Dig(em, "valueFrom", "fieldRef") != nil {
						continue
					}
					names = append(names, name)
					if ref, ok := want.SecretEnv[name]; ok {
						if mocktest.Dig(em, "valueFrom", "secretKeyRef", "name") != ref.Secret || mocktest.Dig(em, "valueFrom", "secretKeyRef", "key") != ref.Key {
							t.Errorf("%s: %s from %v, want %s/%s", s.Name, name, em["valueFrom"], ref.Secret, ref.Key)
						}
					} else if em["value"] != want.Env[name] {
						t.Errorf("%s: %s=%v, want %q", s.Name, name, em["value"], want.Env[name])
					}
				}
				slices.Sort(names)
				if !slices.Equal(names, want.Names()) {
					t.Errorf("%s: variables %v, want %v", s.Name, names, want.Names())
				}
				mounts := map[string]bool{}
				for _, vm := range c["volumeMounts"].([]any) {
					vmm := vm.(map[string]any)
					mounts[vmm["mountPath"].(string)] = vmm["readOnly"] == true
				}
				for _, v := range want.Volumes {
					if ro, ok := mounts[v.MountPath]; !ok || !ro {
						t.Errorf("%s: Secret %s not mounted read-only at %s (%v)", s.Name, v.Secret, v.MountPath, mounts)
					}
				}
				ann, _ := mocktest.Get(d.Inputs, "spec", "template", "metadata", "annotations").(map[string]any)
				if want.Injection != nil {
					for k, v := range want.Injection.Annotations {
						if ann[k] != v {
							t.Errorf("%s: annotation %s=%v, want %q", s.Name, k, ann[k], v)
						}
					}
				}
				if mocktest.Get(d.Inputs, "spec", "template", "spec", "automountServiceAccountToken") != false {
					t.Errorf("%s: the API token is automounted", s.Name)
				}
			}
		})
	}
}

// stackConfig loads a stack's configuration as the program sees it.
func stackConfig(t *testing.T, stack string) *config.Config {
	t.Helper()
	cfg, err := config.LoadStack(filepath.Join("..", ".."), stack)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
