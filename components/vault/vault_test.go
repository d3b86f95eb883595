package vault

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/testkit/mocktest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.hcl")

// outputs are a SecretsStore's outputs once resolved.
type outputs struct {
	address, namespace, reviewerSecret, tlsSecret string
}

func run(t *testing.T, mutate func(*Args)) (*mocktest.Mocks, *outputs, error) {
	t.Helper()
	var c mocktest.Outputs
	m, err := mocktest.RunWithProvider("test", func(ctx *pulumi.Context, p pulumi.ProviderResource) error {
		a := &Args{Install: true, Mode: HA, Replicas: 3, Audit: true, Provider: p}
		if mutate != nil {
			mutate(a)
		}
		s, err := New(ctx, "secrets", a)
		if err != nil {
			return err
		}
		c.Track("address", s.Address)
		c.Track("namespace", s.Namespace)
		c.Track("reviewerSecret", s.ReviewerSecret)
		c.Track("tlsSecret", s.TLSSecret)
		return nil
	})
	out := &outputs{}
	if err == nil {
		c.Wait(t)
		str := func(k string) string { v, _ := c.Get(k).(string); return v }
		out = &outputs{address: str("address"), namespace: str("namespace"), reviewerSecret: str("reviewerSecret"), tlsSecret: str("tlsSecret")}
	}
	return m, out, err
}

func mustRun(t *testing.T, mutate func(*Args)) (*mocktest.Mocks, *outputs) {
	t.Helper()
	m, out, err := run(t, mutate)
	if err != nil {
		t.Fatal(err)
	}
	return m, out
}

func values(t *testing.T, m *mocktest.Mocks, name string, path ...string) any {
	t.Helper()
	return mocktest.Get(mocktest.Must(t, m, name).Inputs, append([]string{"values"}, path...)...)
}

// HA: the pinned chart, raft with N peers that join each other over TLS
// checked against the private CA, the listener's certificate mounted from
// the Secret cert-manager fills, a budget that keeps the quorum.
func TestHAInstallsRaftWithTLSFromThePrivateCA(t *testing.T) {
	m, out := mustRun(t, func(a *Args) { a.Replicas = 5; a.StorageSize = "20Gi" })
	chart := mocktest.Must(t, m, "secrets-openbao")
	if chart.Type != "kubernetes:helm.sh/v4:Chart" || mocktest.Get(chart.Inputs, "chart") != OpenBaoChartName ||
		mocktest.Get(chart.Inputs, "version") != OpenBaoChartVersion || mocktest.Get(chart.Inputs, "repositoryOpts", "repo") != OpenBaoChartRepo ||
		mocktest.Get(chart.Inputs, "namespace") != "vault" || mocktest.Get(chart.Inputs, "name") != "openbao" {
		t.Errorf("chart %s %v", chart.Type, chart.Inputs.Mappable())
	}
	v := func(path ...string) any { return values(t, m, "secrets-openbao", path...) }
	for path, want := range map[string]any{
		"global.tlsDisable": false, "server.ha.enabled": true, "server.ha.replicas": 5.0,
		"server.ha.raft.enabled": true, "server.ha.raft.setNodeId": true,
		"server.ha.disruptionBudget.enabled": true, "server.ha.disruptionBudget.maxUnavailable": 2.0,
		"server.dataStorage.enabled": true, "server.dataStorage.size": "20Gi", "server.dev.enabled": false,
		"server.image.tag": OpenBaoVersion, "injector.agentImage.tag": OpenBaoVersion,
		"server.ha.apiAddr":                      "https://$(BAO_K8S_POD_NAME).openbao-internal.vault.svc:8200",
		"server.extraEnvironmentVars.BAO_CACERT": "/openbao/tls/ca.crt",
	} {
		if got := v(strings.Split(path, ".")...); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	cfg, _ := v("server", "ha", "raft", "config").(string)
	for _, want := range []string{
		`tls_cert_file   = "/openbao/tls/tls.crt"`, `tls_key_file    = "/openbao/tls/tls.key"`, `tls_min_version = "tls13"`,
		`storage "raft" {`, `path = "/openbao/data"`, `service_registration "kubernetes" {}`,
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("raft config lacks %s:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "tls_disable") || strings.Contains(cfg, "disable_mlock") {
		t.Errorf("raft config disables TLS or sets an option OpenBao dropped:\n%s", cfg)
	}
	if n := strings.Count(cfg, "retry_join {"); n != 5 {
		t.Errorf("%d retry_join stanzas, want one per replica (5)", n)
	}
	for i := range 5 {
		want := "leader_api_addr     = \"https://openbao-" + string(rune('0'+i)) + ".openbao-internal.vault.svc:8200\"\n    leader_ca_cert_file = \"/openbao/tls/ca.crt\""
		if !strings.Contains(cfg, want) {
			t.Errorf("peer %d does not join over TLS checked against the CA:\n%s", i, cfg)
		}
	}
	// The listener's files are the server certificate's Secret, mounted.
	cert := mocktest.Must(t, m, "secrets-openbao-server-tls")
	secret := mocktest.Get(cert.Inputs, "spec", "secretName")
	var mounted bool
	for _, vol := range v("server", "volumes").([]any) {
		if mocktest.Dig(vol, "name") == "tls" && mocktest.Dig(vol, "secret", "secretName") == secret {
			mounted = true
		}
	}
	if !mounted || secret != "openbao-server-tls" {
		t.Errorf("certificate secret %v is not the mounted tls volume: %v", secret, v("server", "volumes"))
	}
	if mocktest.Get(cert.Inputs, "spec", "issuerRef", "name") != "bulwark-ca" || mocktest.Get(cert.Inputs, "spec", "issuerRef", "kind") != "ClusterIssuer" {
		t.Errorf("server certificate issuer %v, want the private CA", mocktest.Get(cert.Inputs, "spec", "issuerRef"))
	}
	names := mocktest.Strings(mocktest.Get(cert.Inputs, "spec", "dnsNames"))
	for _, want := range []string{"openbao.vault.svc", "openbao-active.vault.svc", "openbao-standby.vault.svc", "*.openbao-internal.vault.svc", "openbao.vault.svc.cluster.local"} {
		if !slices.Contains(names, want) {
			t.Errorf("server certificate lacks %s: %v", want, names)
		}
	}
	if ips := mocktest.Strings(mocktest.Get(cert.Inputs, "spec", "ipAddresses")); !slices.Equal(ips, []string{"127.0.0.1"}) {
		t.Errorf("server certificate IPs %v, want 127.0.0.1 (BAO_ADDR inside the pod)", ips)
	}
	if mocktest.Get(cert.Inputs, "spec", "renewBefore") != "240h0m0s" {
		t.Errorf("renewBefore %v, want a third of 720h", mocktest.Get(cert.Inputs, "spec", "renewBefore"))
	}
	for _, dep := range []string{"secrets-namespace", "secrets-openbao-server-tls", "secrets-openbao-injector-tls"} {
		if !mocktest.DependsOn(chart, dep) {
			t.Errorf("chart does not wait for %s: %v", dep, chart.Dependencies)
		}
	}
	// A sealed cluster is never Ready: Pulumi must not wait for the
	// StatefulSet or the -active Service.
	if v("server", "statefulSet", "annotations", "pulumi.com/skipAwait") != "true" || v("server", "service", "annotations", "pulumi.com/skipAwait") != "true" {
		t.Errorf("server objects awaited: %v %v", v("server", "statefulSet"), v("server", "service"))
	}
	if out.address != "https://openbao.vault.svc:8200" || out.namespace != "vault" || out.tlsSecret != "vault/openbao-server-tls" || out.reviewerSecret != "" {
		t.Errorf("outputs %+v", out)
	}
}

func TestDevModeRunsOneDevServer(t *testing.T) {
	m, out := mustRun(t, func(a *Args) { a.Mode, a.Replicas, a.Audit = Dev, 0, false })
	v := func(path ...string) any { return values(t, m, "secrets-openbao", path...) }
	if v("server", "dev", "enabled") != true || v("global", "tlsDisable") != true {
		t.Errorf("dev %v tlsDisable %v", v("server", "dev"), v("global", "tlsDisable"))
	}
	for _, key := range []string{"ha", "dataStorage", "auditStorage", "service"} {
		if v("server", key) != nil {
			t.Errorf("dev mode sets server.%s: %v", key, v("server", key))
		}
	}
	if _, ok := m.Named("secrets-openbao-server-tls"); ok {
		t.Error("dev mode serves plain HTTP but got a server certificate")
	}
	mocktest.Must(t, m, "secrets-openbao-injector-tls")
	if out.address != "http://openbao.vault.svc:8200" || out.tlsSecret != "" {
		t.Errorf("outputs %+v", out)
	}
}

// OpenBao declares the audit device in its configuration (its API refuses
// to create one); HashiCorp Vault gets the audit volume and the Vault
// layer enables the device through the API.
func TestAuditDevice(t *testing.T) {
	tests := []struct {
		name          string
		mutate        func(*Args)
		chart         string
		declared      bool
		auditVolume   bool
		mlockDisabled bool
	}{
		{"openbao with audit declares a file device to stdout", nil, "secrets-openbao", true, false, false},
		{"openbao without audit declares none", func(a *Args) { a.Audit = false }, "secrets-openbao", false, false, false},
		{"vault with audit gets the audit volume", func(a *Args) { a.Distribution = HashiCorp }, "secrets-vault", false, true, true},
		{"vault without audit gets no audit volume", func(a *Args) { a.Distribution, a.Audit = HashiCorp, false }, "secrets-vault", false, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := mustRun(t, tc.mutate)
			cfg := values(t, m, tc.chart, "server", "ha", "raft", "config").(string)
			device := "audit \"file\" \"stdout\" {"
			if got := strings.Contains(cfg, device) && strings.Contains(cfg, `file_path = "stdout"`); got != tc.declared {
				t.Errorf("declared audit device %v, want %v:\n%s", got, tc.declared, cfg)
			}
			if got := values(t, m, tc.chart, "server", "auditStorage", "enabled") == true; got != tc.auditVolume {
				t.Errorf("audit volume %v, want %v", got, tc.auditVolume)
			}
			if got := strings.HasPrefix(cfg, "disable_mlock = true\n"); got != tc.mlockDisabled {
				t.Errorf("disable_mlock %v, want %v", got, tc.mlockDisabled)
			}
		})
	}
}

func TestHashiCorpVaultUsesItsOwnChartImagesAndPaths(t *testing.T) {
	m, out := mustRun(t, func(a *Args) { a.Distribution = HashiCorp })
	chart := mocktest.Must(t, m, "secrets-vault")
	if mocktest.Get(chart.Inputs, "chart") != HashiCorpChartName || mocktest.Get(chart.Inputs, "version") != HashiCorpChartVersion ||
		mocktest.Get(chart.Inputs, "repositoryOpts", "repo") != HashiCorpChartRepo {
		t.Errorf("chart %v", chart.Inputs.Mappable())
	}
	v := func(path ...string) any { return values(t, m, "secrets-vault", path...) }
	if v("server", "image", "tag") != HashiCorpVersion || v("injector", "agentImage", "tag") != HashiCorpVersion ||
		v("server", "ha", "apiAddr") != "https://$(VAULT_K8S_POD_NAME).vault-internal.vault.svc:8200" ||
		v("server", "extraEnvironmentVars", "VAULT_CACERT") != "/vault/tls/ca.crt" {
		t.Errorf("server %v injector %v", v("server"), v("injector"))
	}
	cfg := v("server", "ha", "raft", "config").(string)
	if !strings.Contains(cfg, `"https://vault-2.vault-internal.vault.svc:8200"`) || !strings.Contains(cfg, `"/vault/tls/tls.crt"`) {
		t.Errorf("config:\n%s", cfg)
	}
	mocktest.Must(t, m, "secrets-vault-server-tls")
	if out.address != "https://vault.vault.svc:8200" {
		t.Errorf("address %s", out.address)
	}
}

// The injector serves a certificate of the private CA; cert-manager's CA
// injector fills the webhook's caBundle from the same Certificate.
func TestInjectorServesACertificateOfThePrivateCA(t *testing.T) {
	m, _ := mustRun(t, func(a *Args) { a.InjectorReplicas = 2; a.InjectorAuthPath = "auth/bulwark/prod/kubernetes" })
	v := func(path ...string) any {
		return values(t, m, "secrets-openbao", append([]string{"injector"}, path...)...)
	}
	cert := mocktest.Must(t, m, "secrets-openbao-injector-tls")
	secret := mocktest.Get(cert.Inputs, "spec", "secretName")
	if v("enabled") != true || v("replicas") != 2.0 || v("certs", "secretName") != secret ||
		v("webhook", "annotations", "cert-manager.io/inject-ca-from") != "vault/"+secret.(string) ||
		v("podDisruptionBudget", "maxUnavailable") != 1.0 || v("authPath") != "auth/bulwark/prod/kubernetes" {
		t.Errorf("injector %v", v())
	}
	if v("resources", "limits", "memory") != "128Mi" || v("resources", "requests", "cpu") != "50m" || v("resources", "limits", "ephemeral-storage") != "64Mi" {
		t.Errorf("injector resources %v", v("resources"))
	}
	names := mocktest.Strings(mocktest.Get(cert.Inputs, "spec", "dnsNames"))
	if !slices.Contains(names, "openbao-agent-injector-svc.vault.svc") {
		t.Errorf("injector certificate names %v", names)
	}
	m, _ = mustRun(t, nil)
	if values(t, m, "secrets-openbao", "injector", "podDisruptionBudget") != nil {
		t.Error("a budget for one injector replica would block every drain")
	}
}

// The namespace enforces Pod Security "restricted", and the chart's pods
// are set to meet it.
func TestPodsMeetPodSecurityRestricted(t *testing.T) {
	for _, mode := range []string{Dev, HA} {
		t.Run(mode, func(t *testing.T) {
			m, _ := mustRun(t, func(a *Args) {
				a.Mode = mode
				if mode == Dev {
					a.Replicas, a.Audit = 1, false
				}
			})
			ns := mocktest.Must(t, m, "secrets-namespace")
			for _, l := range []string{"enforce", "audit", "warn"} {
				if got := mocktest.Get(ns.Inputs, "metadata", "labels", "pod-security.kubernetes.io/"+l); got != "restricted" {
					t.Errorf("namespace %s level %v", l, got)
				}
			}
			for _, part := range [][]string{{"server", "statefulSet", "securityContext"}, {"injector", "securityContext"}} {
				sc := values(t, m, "secrets-openbao", part...)
				for path, want := range map[string]any{
					"pod.runAsNonRoot": true, "pod.seccompProfile.type": "RuntimeDefault",
					"container.allowPrivilegeEscalation": false, "container.readOnlyRootFilesystem": true, "container.runAsNonRoot": true,
				} {
					if got := mocktest.Dig(sc, strings.Split(path, ".")...); got != want {
						t.Errorf("%s.%s = %v, want %v", strings.Join(part, "."), path, got, want)
					}
				}
				if drop := mocktest.Dig(sc, "container", "capabilities", "drop"); !slices.Equal(mocktest.Strings(drop), []string{"ALL"}) {
					t.Errorf("%s drops %v, want ALL", strings.Join(part, "."), drop)
				}
			}
			for _, vol := range values(t, m, "secrets-openbao", "server", "volumes").([]any) {
				if mocktest.Dig(vol, "secret") == nil && mocktest.Dig(vol, "emptyDir") == nil {
					t.Errorf("volume %v is neither a secret nor an emptyDir", vol)
				}
			}
			res := values(t, m, "secrets-openbao", "server", "resources")
			for _, k := range []string{"cpu", "memory", "ephemeral-storage"} {
				if mocktest.Dig(res, "requests", k) == nil || mocktest.Dig(res, "limits", k) == nil {
					t.Errorf("server resources lack %s: %v", k, res)
				}
			}
		})
	}
}

// Adopted: only the reviewer, bound to exactly system:auth-delegator, and
// its token Secret; nothing of an installation.
func TestAdoptedVaultGetsOnlyTheTokenReviewer(t *testing.T) {
	m, out := mustRun(t, func(a *Args) {
		a.Install, a.Mode, a.Replicas, a.Audit = false, "", 0, false
		a.ExternalAddress, a.ReviewerNamespace = "http://127.0.0.1:8200", "kube-system"
	})
	var types []string
	for _, r := range m.All() {
		types = append(types, r.Type)
	}
	slices.Sort(types)
	want := []string{"bulwark:vault:SecretsStore", "kubernetes:core/v1:Secret", "kubernetes:core/v1:ServiceAccount",
		"kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "pulumi:providers:kubernetes"}
	if !slices.Equal(types, want) {
		t.Errorf("registered %v, want %v", types, want)
	}
	sa := mocktest.Must(t, m, "secrets-reviewer")
	if mocktest.Get(sa.Inputs, "metadata", "name") != DefaultReviewer || mocktest.Get(sa.Inputs, "metadata", "namespace") != "kube-system" ||
		mocktest.Get(sa.Inputs, "automountServiceAccountToken") != false {
		t.Errorf("service account %v", sa.Inputs.Mappable())
	}
	b := mocktest.Must(t, m, "secrets-reviewer-binding")
	if ref := mocktest.Get(b.Inputs, "roleRef"); mocktest.Dig(ref, "kind") != "ClusterRole" || mocktest.Dig(ref, "name") != AuthDelegator ||
		mocktest.Dig(ref, "apiGroup") != "rbac.authorization.k8s.io" {
		t.Errorf("roleRef %v, want exactly ClusterRole %s", ref, AuthDelegator)
	}
	subjects := mocktest.Get(b.Inputs, "subjects").([]any)
	if len(subjects) != 1 || mocktest.Dig(subjects[0], "kind") != "ServiceAccount" ||
		mocktest.Dig(subjects[0], "name") != DefaultReviewer || mocktest.Dig(subjects[0], "namespace") != "kube-system" {
		t.Errorf("subjects %v, want exactly the reviewer", subjects)
	}
	s := mocktest.Must(t, m, "secrets-reviewer-token")
	if mocktest.Get(s.Inputs, "type") != "kubernetes.io/service-account-token" ||
		mocktest.Get(s.Inputs, "metadata", "annotations", "kubernetes.io/service-account.name") != DefaultReviewer ||
		mocktest.Get(s.Inputs, "metadata", "namespace") != "kube-system" || mocktest.Get(s.Inputs, "data") != nil || mocktest.Get(s.Inputs, "stringData") != nil {
		t.Errorf("token secret %v", s.Inputs.Mappable())
	}
	if !mocktest.DependsOn(s, "secrets-reviewer") {
		t.Errorf("token secret does not wait for its service account: %v", s.Dependencies)
	}
	if out.address != "http://127.0.0.1:8200" || out.reviewerSecret != "kube-system/vault-auth-reviewer-token" || out.namespace != "kube-system" || out.tlsSecret != "" {
		t.Errorf("outputs %+v", out)
	}
}

func TestChildrenAreParentedOnTheExplicitProvider(t *testing.T) {
	for name, mutate := range map[string]func(*Args){
		"ha": nil, "dev": func(a *Args) { a.Mode, a.Replicas, a.Audit = Dev, 1, false },
		"adopted": func(a *Args) { a.Install, a.Audit, a.ExternalAddress = false, false, "https://vault.example.com" },
	} {
		t.Run(name, func(t *testing.T) {
			m, _ := mustRun(t, mutate)
			urn := "urn:pulumi:test::bulwark::" + Token + "::secrets"
			for _, r := range m.All() {
				if r.Type == Token || r.Type == "pulumi:providers:kubernetes" {
					continue
				}
				if r.Parent != urn || !strings.HasPrefix(r.Name, "secrets-") {
					t.Errorf("%s %s: parent %q", r.Type, r.Name, r.Parent)
				}
				if r.Custom && !strings.Contains(r.Provider, "pulumi:providers:kubernetes::k8s::") {
					t.Errorf("%s %s: provider %q", r.Type, r.Name, r.Provider)
				}
			}
		})
	}
}

func TestBadArgsRegisterNothing(t *testing.T) {
	adopt := func(a *Args) { a.Install, a.Audit = false, false }
	tests := []struct {
		name   string
		mutate func(*Args)
		kind   error
		want   string
	}{
		{"an even raft cluster", func(a *Args) { a.Replicas = 4 }, fielderr.ErrOutOfRange, "vault secrets: replicas: ha mode (raft) needs an odd number of at least 3 replicas, got 4"},
		{"a one-node raft cluster", func(a *Args) { a.Replicas = 1 }, fielderr.ErrOutOfRange, "vault secrets: replicas: ha mode (raft) needs an odd number"},
		{"three dev servers", func(a *Args) { a.Mode, a.Audit = Dev, false }, fielderr.ErrOutOfRange, "vault secrets: replicas: dev mode runs exactly 1 replica, got 3"},
		{"an unknown mode", func(a *Args) { a.Mode = "standalone" }, fielderr.ErrUnsupported, "vault secrets: mode: \"standalone\""},
		{"an unknown distribution", func(a *Args) { a.Distribution = "hcv" }, fielderr.ErrUnsupported, "vault secrets: distribution: \"hcv\""},
		{"audit in dev mode", func(a *Args) { a.Mode, a.Replicas = Dev, 1 }, fielderr.ErrConflict, "vault secrets: audit: a dev-mode server"},
		{"a storage size that is no quantity", func(a *Args) { a.StorageSize = "lots" }, fielderr.ErrInvalid, "vault secrets: storageSize: \"lots\""},
		{"a request above its limit", func(a *Args) { a.ServerResources.RequestsMemory = "2Gi" }, fielderr.ErrConflict, "vault secrets: serverResources.requestsMemory: the request 2Gi exceeds the limit 1Gi"},
		{"an auth path outside auth/", func(a *Args) { a.InjectorAuthPath = "kubernetes" }, fielderr.ErrInvalid, "vault secrets: injectorAuthPath"},
		{"a bad namespace", func(a *Args) { a.Namespace = "Vault" }, fielderr.ErrInvalid, "vault secrets: namespace"},
		{"a Pod Security label", func(a *Args) { a.Labels = map[string]string{"pod-security.kubernetes.io/enforce": "privileged"} }, fielderr.ErrForbidden, "vault secrets: labels.pod-security.kubernetes.io/enforce"},
		{"a certificate under an hour", func(a *Args) { a.CertificateDuration = 1 }, fielderr.ErrOutOfRange, "vault secrets: certificateDuration"},
		{"an installed Vault with an external address", func(a *Args) { a.ExternalAddress = "https://x" }, fielderr.ErrConflict, "vault secrets: externalAddress"},
		{"an adopted Vault without an address", adopt, fielderr.ErrRequired, "vault secrets: externalAddress: an adopted Vault needs its address"},
		{"an adopted Vault at no URL", func(a *Args) { adopt(a); a.ExternalAddress = "vault:8200" }, fielderr.ErrInvalid, "vault secrets: externalAddress: must be an http(s) URL"},
		{"a bad reviewer name", func(a *Args) { adopt(a); a.ExternalAddress, a.ReviewerServiceAccount = "https://x", "Reviewer" }, fielderr.ErrInvalid, "vault secrets: reviewerServiceAccount"},
		{"no provider", func(a *Args) { a.Provider = nil }, fielderr.ErrRequired, "vault secrets: provider: is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _, err := run(t, tc.mutate)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if !slices.ContainsFunc(fielderr.All(err), func(fe *fielderr.Error) bool {
				return (fe.Path == tc.want || strings.HasPrefix(tc.want, fe.Path+":")) && errors.Is(fe, tc.kind)
			}) {
				t.Errorf("no %v at the path of %q in %v", tc.kind, tc.want, err)
			}
			for _, r := range m.All() {
				if r.Type != "pulumi:providers:kubernetes" {
					t.Errorf("registered %s %s despite bad args", r.Type, r.Name)
				}
			}
		})
	}
}

// The HA configuration files, whole: any change is a reviewable diff
// (`go test ./components/vault -update` rewrites them).
func TestHAConfigFiles(t *testing.T) {
	for file, a := range map[string]*Args{
		"openbao-ha.hcl": {Install: true, Audit: true},
		"vault-ha.hcl":   {Install: true, Audit: true, Distribution: HashiCorp, Namespace: "secrets"},
	} {
		t.Run(file, func(t *testing.T) {
			got := HAConfig(a.withDefaults()).HCL()
			path := filepath.Join("testdata", file)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs; review and rerun with -update:\n%s", path, got)
			}
			for _, word := range []string{"{{", "HOSTNAME", "POD_IP", "HOST_IP", "API_ADDR", "RAFT_ADDR", "TRANSIT_ADDR"} {
				if strings.Contains(got, word) {
					t.Errorf("the chart's tpl or sed would rewrite %q in the configuration", word)
				}
			}
		})
	}
}

func TestAnnotationPrefix(t *testing.T) {
	if AnnotationPrefix(OpenBao) != "openbao.openbao.org/" || AnnotationPrefix(HashiCorp) != "vault.hashicorp.com/" {
		t.Errorf("prefixes %q %q", AnnotationPrefix(OpenBao), AnnotationPrefix(HashiCorp))
	}
}
