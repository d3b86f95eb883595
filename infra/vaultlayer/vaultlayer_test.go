package vaultlayer

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/bulwark-platform/bulwark/components/vaultconfig"
	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/secrets"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/testkit/mocktest"
)

const root = "../.."

var stacks = []string{"local", "ci", "dev", "staging", "prod"}

// fakeKubeconfig names the local cluster's API server, as the runner's
// kubeconfig does.
const fakeKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:6443"}
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
users:
- name: admin
  user: {token: x}
`

// plan compiles a stack's plan as the platform layer exports it, after the
// runner's hand-over of the local stores (port 0 = the local cluster's).
func plan(t *testing.T, stack string) *secrets.Plan {
	t.Helper()
	cfg, err := config.LoadStack(root, stack)
	if err != nil {
		t.Fatal(err)
	}
	d := &cfg.Data
	for i, s := range []struct {
		install bool
		ext     *config.External
	}{{d.Postgres.Install, &d.Postgres.External}, {d.Redis.Install, &d.Redis.External}, {cfg.Install.Vault, &cfg.Vault.External}} {
		if !s.install && s.ext.Port == 0 {
			s.ext.Host, s.ext.Port = "127.0.0.1", 40000+i
		}
	}
	set, err := secrets.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &set.Plan
}

// secretValue is what the mock cluster's Secret key holds.
func secretValue(id, key string) string { return "value of " + id + " " + key }

// layerMocks serve the platform stack's output and the cluster's Secrets.
type layerMocks struct {
	*mocktest.Mocks
	platform map[string]any
}

func (m *layerMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	id, outs, err := m.Mocks.NewResource(args)
	switch args.TypeToken {
	case "pulumi:pulumi:StackReference":
		return args.ID, resource.NewPropertyMapFromMap(map[string]any{
			"name": args.ID, "outputs": m.platform, "secretOutputNames": []any{},
		}), nil
	case "kubernetes:core/v1:Secret":
		data := map[string]any{}
		for _, k := range []string{"token", "ca.crt", "password", "app"} {
			data[k] = base64.StdEncoding.EncodeToString([]byte(secretValue(args.ID, k)))
		}
		return args.ID, resource.NewPropertyMapFromMap(map[string]any{"data": data}), nil
	}
	return id, outs, err
}

type run struct {
	stack      string
	opts       Options
	config     map[string]string
	secretKeys []string
	platform   any
}

func (r run) do(t *testing.T) (*layerMocks, error) {
	t.Helper()
	m := &layerMocks{Mocks: &mocktest.Mocks{}}
	if r.platform != nil {
		raw, err := json.Marshal(map[string]any{PlanOutput: r.platform})
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &m.platform); err != nil {
			t.Fatal(err)
		}
	}
	if r.opts.ConfigKeys == nil {
		r.opts.ConfigKeys = config.Keys(r.config)
	}
	err := pulumi.RunErr(New(r.opts), pulumi.WithMocks(Project, r.stack, m), func(info *pulumi.RunInfo) {
		info.Config, info.ConfigSecretKeys = r.config, r.secretKeys
	})
	return m, err
}

// handedOver are the runner's Options for a plan: the token, the local
// cluster's kubeconfig, and the passwords of stores the platform does not
// manage.
func handedOver(p *secrets.Plan) Options {
	o := Options{Plan: p, Token: "root-token", Kubeconfig: fakeKubeconfig, PostgresPasswords: map[string]string{}}
	if p.Database != nil {
		for _, c := range p.Database.Connections {
			if c.PasswordSecret == nil {
				o.PostgresPasswords[c.Name] = "pg-" + c.Name
			}
		}
	}
	if p.RedisPasswordSecret == nil {
		o.RedisPassword = "redis-pw"
	}
	return o
}

// secret returns a top-level or nested input that must be a secret.
func secret(t *testing.T, r mocktest.Resource, path ...string) string {
	t.Helper()
	v := resource.NewObjectProperty(r.Inputs)
	for _, k := range path {
		if v.IsSecret() {
			v = v.SecretValue().Element
		}
		v = v.ObjectValue()[resource.PropertyKey(k)]
	}
	if !v.IsSecret() {
		t.Errorf("%s %v is not secret", r.Name, path)
		return fmt.Sprint(v.Mappable())
	}
	return v.SecretValue().Element.StringValue()
}

// Every stack's compiled plan, applied: one resource per plan entry with
// the inputs that encode least privilege.
func TestEveryStacksPlanIsAppliedEntryByEntry(t *testing.T) {
	for _, stack := range stacks {
		t.Run(stack, func(t *testing.T) {
			p := plan(t, stack)
			m, err := run{stack: stack, opts: handedOver(p)}.do(t)
			if err != nil {
				t.Fatal(err)
			}
			byType := func(token string) int { return len(m.ByType(token)) }
			for token, want := range map[string]int{
				"vault:index/policy:Policy":                        len(p.Policies),
				"vault:kubernetes/authBackendRole:AuthBackendRole": len(p.Roles),
				"vault:kv/secretV2:SecretV2":                       len(p.Static),
				"vault:index/authBackend:AuthBackend":              1,
				vaultconfig.Token:                                  1,
			} {
				if got := byType(token); got != want {
					t.Errorf("%d %s, want %d", got, token, want)
				}
			}
			prov := m.ByType("pulumi:providers:vault")
			if len(prov) != 1 || mocktest.Get(prov[0].Inputs, "address") != p.Address || mocktest.Get(prov[0].Inputs, "skipChildToken") != true {
				t.Fatalf("vault providers %v", prov)
			}
			if tok := secret(t, prov[0], "token"); tok != "root-token" {
				t.Errorf("provider token %q", tok)
			}
			kv := mocktest.Must(t, m, "vault-kv")
			if mocktest.Get(kv.Inputs, "path") != p.Mounts.KV || mocktest.Get(kv.Inputs, "type") != "kv" || mocktest.Get(kv.Inputs, "options", "version") != "2" {
				t.Errorf("KV mount %v", kv.Inputs.Mappable())
			}
			auth := mocktest.Must(t, m, "vault-kubernetes")
			if mocktest.Get(auth.Inputs, "path") != p.Mounts.Kubernetes || mocktest.Get(auth.Inputs, "type") != "kubernetes" {
				t.Errorf("auth method %v", auth.Inputs.Mappable())
			}
			checkAuthConfig(t, m, p)
			for _, pol := range p.Policies {
				r := mocktest.Must(t, m, "vault-policy-"+pol.Name)
				if mocktest.Get(r.Inputs, "name") != pol.Name || mocktest.Get(r.Inputs, "policy") != pol.HCL() {
					t.Errorf("policy %s: %v", pol.Name, r.Inputs.Mappable())
				}
				if strings.Contains(pol.HCL(), "*\"") && !strings.HasSuffix(pol.Rules[0].Path, "/*") {
					t.Errorf("policy %s has a wildcard outside a service's own prefix", pol.Name)
				}
			}
			for _, role := range p.Roles {
				r := mocktest.Must(t, m, "vault-role-"+role.Name)
				in := func(k string) any { return mocktest.Get(r.Inputs, k) }
				names, nss := mocktest.Strings(in("boundServiceAccountNames")), mocktest.Strings(in("boundServiceAccountNamespaces"))
				if !slices.Equal(names, []string{role.ServiceAccount}) || !slices.Equal(nss, []string{role.Namespace}) ||
					slices.Contains(names, "*") || slices.Contains(nss, "*") {
					t.Errorf("role %s bound to %v in %v, want exactly %s in %s", role.Name, names, nss, role.ServiceAccount, role.Namespace)
				}
				if in("backend") != p.Mounts.Kubernetes || in("roleName") != role.Name || in("audience") != role.Audience ||
					in("tokenTtl") != float64(role.TTL) || in("tokenMaxTtl") != float64(role.MaxTTL) ||
					!slices.Equal(mocktest.Strings(in("tokenPolicies")), role.Policies) {
					t.Errorf("role %s: %v", role.Name, r.Inputs.Mappable())
				}
				if !mocktest.DependsOn(r, "vault-kubernetes-config") || !mocktest.DependsOn(r, "vault-policy-"+role.Policies[0]) {
					t.Errorf("role %s does not wait for the auth config and its policy", role.Name)
				}
			}
			checkDatabase(t, m, p)
			checkStatic(t, m, p)
		})
	}
}

func checkAuthConfig(t *testing.T, m *layerMocks, p *secrets.Plan) {
	t.Helper()
	r := mocktest.Must(t, m, "vault-kubernetes-config")
	host := p.Kubernetes.Host
	if host == "" {
		host = "https://127.0.0.1:6443" // the kubeconfig's
	}
	if mocktest.Get(r.Inputs, "backend") != p.Mounts.Kubernetes || mocktest.Get(r.Inputs, "kubernetesHost") != host ||
		mocktest.Get(r.Inputs, "issuer") != p.Kubernetes.Issuer || mocktest.Get(r.Inputs, "disableIssValidation") != false {
		t.Errorf("auth config %v", r.Inputs.Mappable())
	}
	if ref := p.Kubernetes.ReviewerSecret; ref != "" {
		if jwt := secret(t, r, "tokenReviewerJwt"); jwt != secretValue(ref, "token") {
			t.Errorf("reviewer JWT %q, want the token of %s", jwt, ref)
		}
		// Read from a Secret, the CA stays marked secret (harmless).
		if ca := secret(t, r, "kubernetesCaCert"); ca != secretValue(ref, "ca.crt") || mocktest.Get(r.Inputs, "disableLocalCaJwt") != true {
			t.Errorf("CA %q, disableLocalCaJwt %v", ca, mocktest.Get(r.Inputs, "disableLocalCaJwt"))
		}
		if s := mocktest.Must(t, m, "secret-"+ref); s.Provider == "" || !strings.Contains(s.Provider, "pulumi:providers:kubernetes::kubernetes::") {
			t.Errorf("the reviewer's Secret is read with provider %q, want the explicit one", s.Provider)
		}
	} else if _, set := r.Inputs["tokenReviewerJwt"]; set || mocktest.Get(r.Inputs, "disableLocalCaJwt") != false {
		t.Errorf("Vault in the cluster: %v", r.Inputs.Mappable())
	}
}

func checkDatabase(t *testing.T, m *layerMocks, p *secrets.Plan) {
	t.Helper()
	if p.Database == nil {
		if len(m.ByType("vault:database/secretBackendConnection:SecretBackendConnection")) != 0 {
			t.Error("connections without a database plan")
		}
		return
	}
	mount := mocktest.Must(t, m, "vault-database")
	if mocktest.Get(mount.Inputs, "path") != p.Mounts.Database || mocktest.Get(mount.Inputs, "type") != "database" {
		t.Errorf("database mount %v", mount.Inputs.Mappable())
	}
	if n := len(m.ByType("vault:database/secretBackendConnection:SecretBackendConnection")); n != len(p.Database.Connections) {
		t.Errorf("%d connections, want %d", n, len(p.Database.Connections))
	}
	for _, c := range p.Database.Connections {
		r := mocktest.Must(t, m, "vault-connection-"+c.Name)
		in := func(k ...string) any { return mocktest.Get(r.Inputs, k...) }
		if in("backend") != p.Mounts.Database || in("name") != c.Name || in("verifyConnection") != true ||
			!slices.Equal(mocktest.Strings(in("allowedRoles")), c.AllowedRoles) || in("postgresql", "connectionUrl") != c.URL() ||
			in("postgresql", "username") != c.Username || in("postgresql", "passwordAuthentication") != "scram-sha-256" {
			t.Errorf("connection %s: %v", c.Name, r.Inputs.Mappable())
		}
		want := "pg-" + c.Name
		if ref := c.PasswordSecret; ref != nil {
			want = secretValue(ref.Namespace+"/"+ref.Name, ref.Key)
		}
		if pw := secret(t, r, "postgresql", "password"); pw != want {
			t.Errorf("connection %s password %q, want %q", c.Name, pw, want)
		}
	}
	if n := len(m.ByType("vault:database/secretBackendRole:SecretBackendRole")); n != len(p.Database.Roles) {
		t.Errorf("%d database roles, want %d", n, len(p.Database.Roles))
	}
	for _, role := range p.Database.Roles {
		r := mocktest.Must(t, m, "vault-dbrole-"+role.Name)
		in := func(k string) any { return mocktest.Get(r.Inputs, k) }
		if in("backend") != p.Mounts.Database || in("name") != role.Name || in("dbName") != role.Connection ||
			!slices.Equal(mocktest.Strings(in("creationStatements")), role.Creation) || !slices.Equal(mocktest.Strings(in("revocationStatements")), role.Revocation) ||
			in("defaultTtl") != float64(role.TTL) || in("maxTtl") != float64(role.MaxTTL) {
			t.Errorf("database role %s: %v", role.Name, r.Inputs.Mappable())
		}
		if !mocktest.DependsOn(r, "vault-connection-"+role.Connection) {
			t.Errorf("database role %s does not wait for its connection", role.Name)
		}
	}
}

func checkStatic(t *testing.T, m *layerMocks, p *secrets.Plan) {
	t.Helper()
	for _, s := range p.Static {
		r := mocktest.Must(t, m, "vault-static-"+s.Path)
		if mocktest.Get(r.Inputs, "mount") != p.Mounts.KV || mocktest.Get(r.Inputs, "name") != s.Path {
			t.Errorf("static %s: %v", s.Path, r.Inputs.Mappable())
		}
		var data map[string]string
		if err := json.Unmarshal([]byte(secret(t, r, "dataJson")), &data); err != nil {
			t.Fatalf("static %s: %v", s.Path, err)
		}
		var keys []string
		for k := range data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := slices.Sorted(slices.Values(s.Keys)); !slices.Equal(keys, want) {
			t.Errorf("static %s seeds %v, want %v", s.Path, keys, want)
		}
		for k, v := range s.Fixed {
			if data[k] != v {
				t.Errorf("static %s %s = %q, want %q", s.Path, k, data[k], v)
			}
		}
		for _, k := range s.Generated {
			if raw, err := base64.RawURLEncoding.DecodeString(data[k]); err != nil || len(raw) != vaultconfig.GeneratedBytes {
				t.Errorf("static %s generated %s = %q: not %d random bytes", s.Path, k, data[k], vaultconfig.GeneratedBytes)
			}
		}
		for k := range s.From {
			want := "redis-pw"
			if ref := p.RedisPasswordSecret; ref != nil {
				want = secretValue(ref.Namespace+"/"+ref.Name, ref.Key)
			}
			if data[k] != want {
				t.Errorf("static %s %s = %q, want %q", s.Path, k, data[k], want)
			}
		}
		if got := slices.Contains(r.IgnoreChanges, "dataJson"); got != (len(s.Generated) > 0) {
			t.Errorf("static %s: ignoreChanges %v, generated keys %v (seeded once exactly when generated)", s.Path, r.IgnoreChanges, s.Generated)
		}
	}
}

// The program reads the platform stack's output (its JSON form) when the
// runner hands no plan over, and applies the same plan.
func TestReadsThePlanFromThePlatformStack(t *testing.T) {
	p := plan(t, "ci")
	o := handedOver(p)
	o.Plan = nil
	m, err := run{stack: "ci", opts: o, platform: p}.do(t)
	if err != nil {
		t.Fatal(err)
	}
	ref := mocktest.Must(t, m, "organization/bulwark/ci")
	if ref.Type != "pulumi:pulumi:StackReference" {
		t.Errorf("reference %v", ref)
	}
	if n := len(m.ByType("vault:kubernetes/authBackendRole:AuthBackendRole")); n != len(p.Roles) {
		t.Errorf("%d roles from the stack output, want %d", n, len(p.Roles))
	}

	t.Run("platformStack names another stack", func(t *testing.T) {
		m, err := run{stack: "ci", opts: o, platform: p, config: map[string]string{Key(KeyPlatformStack): "acme/bulwark/ci-blue"}}.do(t)
		if err != nil {
			t.Fatal(err)
		}
		mocktest.Must(t, m, "acme/bulwark/ci-blue")
	})
	t.Run("a field this version does not know is refused", func(t *testing.T) {
		var raw map[string]any
		b, _ := json.Marshal(p)
		_ = json.Unmarshal(b, &raw)
		raw["mounts"].(map[string]any)["transit"] = "x"
		_, err := run{stack: "ci", opts: o, platform: raw}.do(t)
		if err == nil || !strings.Contains(err.Error(), "transit") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("no vault output says to run the platform first", func(t *testing.T) {
		_, err := run{stack: "ci", opts: o, platform: nil}.do(t)
		if err == nil || !strings.Contains(err.Error(), "run `pulumi up` of the platform layer first") {
			t.Errorf("error %v", err)
		}
	})
}

// Bad inputs name the key or plan field at fault and register nothing.
func TestBadInputNamesTheFieldAndRegistersNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stack string
		edit  func(*run)
		path  string
		kind  error
	}{
		{"no token", "prod", func(r *run) { r.opts.Token = "" }, "bulwark-vault:token", fielderr.ErrRequired},
		{"a token in plain text", "prod", func(r *run) {
			r.opts.Token = ""
			r.config = map[string]string{Key(KeyToken): "s.root"}
		}, "bulwark-vault:token", fielderr.ErrForbidden},
		{"a policy granting a path outside the service's prefix", "dev", func(r *run) {
			r.opts.Plan.Policies[0].Rules[0].Path = r.opts.Plan.Mounts.KV + "/data/payments/payment/*"
		}, "plan.policies[0].rules[0].path", fielderr.ErrForbidden},
		{"a policy granting writes", "dev", func(r *run) {
			r.opts.Plan.Policies[0].Rules[0].Capabilities = []string{"read", "update"}
		}, "plan.policies[0].rules[0].capabilities", fielderr.ErrForbidden},
		{"a role for any namespace", "staging", func(r *run) { r.opts.Plan.Roles[0].Namespace = "*" }, "plan.roles[0].namespace", fielderr.ErrForbidden},
		{"an external PostgreSQL without its password", "local", func(r *run) { r.opts.PostgresPasswords = nil }, "bulwark-vault:postgresPasswords.postgres", fielderr.ErrRequired},
		{"an external Redis without its password", "ci", func(r *run) { r.opts.RedisPassword = "" }, "bulwark-vault:redisPassword", fielderr.ErrRequired},
		{"an unknown key", "prod", func(r *run) { r.config = map[string]string{"bulwark-vault:tokn": "x"} }, "bulwark-vault:tokn", fielderr.ErrUnknown},
		{"a kubernetes host that is not https", "prod", func(r *run) {
			r.config = map[string]string{Key(KeyKubernetesHost): "http://10.0.0.1"}
		}, "bulwark-vault:kubernetesHost", fielderr.ErrInvalid},
		{"no API server anywhere", "local", func(r *run) { r.opts.Kubeconfig = "/nonexistent/kubeconfig" }, "bulwark-vault:kubernetesHost", fielderr.ErrRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := plan(t, tc.stack)
			r := run{stack: tc.stack, opts: handedOver(p)}
			tc.edit(&r)
			m, err := r.do(t)
			if !slices.ContainsFunc(fielderr.All(err), func(fe *fielderr.Error) bool { return fe.Path == tc.path && errors.Is(fe, tc.kind) }) {
				t.Fatalf("error %v does not report %v at %q", err, tc.kind, tc.path)
			}
			if all := m.All(); len(all) != 0 {
				t.Errorf("registered %d resources, first %s %s", len(all), all[0].Type, all[0].Name)
			}
		})
	}
}

// Configuration is what users set; the runner's Options win over it.
func TestOptionsWinOverConfiguration(t *testing.T) {
	p := plan(t, "local")
	o := handedOver(p)
	cfg := map[string]string{Key(KeyToken): "from-config", Key(KeyRedisPassword): "redis-from-config", Key(KeyAddress): "http://127.0.0.1:9999"}
	m, err := run{stack: "local", opts: o, config: cfg, secretKeys: []string{Key(KeyToken), Key(KeyRedisPassword)}}.do(t)
	if err != nil {
		t.Fatal(err)
	}
	prov := m.ByType("pulumi:providers:vault")[0]
	if tok := secret(t, prov, "token"); tok != "root-token" || mocktest.Get(prov.Inputs, "address") != "http://127.0.0.1:9999" {
		t.Errorf("token %q address %v: the runner's token and the configured address", tok, mocktest.Get(prov.Inputs, "address"))
	}
	o.Token, o.RedisPassword = "", ""
	m, err = run{stack: "local", opts: o, config: cfg, secretKeys: []string{Key(KeyToken), Key(KeyRedisPassword)}}.do(t)
	if err != nil {
		t.Fatal(err)
	}
	if tok := secret(t, m.ByType("pulumi:providers:vault")[0], "token"); tok != "from-config" {
		t.Errorf("token %q, want the configured one", tok)
	}
}

// infra/vault/Pulumi.yaml declares exactly the keys the program reads,
// each described, and the stack files hold no plain-text secret.
func TestProjectDeclaresEveryKey(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "infra", "vault", "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var proj struct {
		Name           string `yaml:"name"`
		Main           string `yaml:"main"`
		StackConfigDir string `yaml:"stackConfigDir"`
		Config         map[string]struct {
			Type, Description string
		} `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &proj); err != nil {
		t.Fatal(err)
	}
	if proj.Name != Project || proj.Main != "." || proj.StackConfigDir != "stacks" {
		t.Errorf("project %q main %q stackConfigDir %q", proj.Name, proj.Main, proj.StackConfigDir)
	}
	var declared []string
	for k, v := range proj.Config {
		declared = append(declared, k)
		if v.Description == "" || v.Type == "" {
			t.Errorf("%s has no type or description", k)
		}
	}
	slices.Sort(declared)
	if want := slices.Sorted(slices.Values(KeyNames())); !slices.Equal(declared, want) {
		t.Errorf("Pulumi.yaml declares %v, the program reads %v", declared, want)
	}
	for _, s := range stacks {
		values, err := config.ReadStackFile(filepath.Join(root, "infra", "vault", "stacks", "Pulumi."+s+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range secretKeys {
			if v, ok := values[Key(k)]; ok && !strings.Contains(v, "secure") {
				t.Errorf("stack %s holds %s in plain text", s, Key(k))
			}
		}
	}
}
