package vaultconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	vault "github.com/pulumi/pulumi-vault/sdk/v6/go/vault"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/secrets"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/testkit/mocktest"
)

// devPlan is the dev stack's defaults compiled: Vault installed in the
// cluster, PostgreSQL and Redis installed.
func devPlan(t *testing.T) secrets.Plan {
	t.Helper()
	set, err := secrets.Compile(config.Defaults(config.Dev))
	if err != nil {
		t.Fatal(err)
	}
	return set.Plan
}

func validArgs(plan secrets.Plan, p pulumi.ProviderResource) *Args {
	a := &Args{Plan: plan, KubernetesHost: pulumi.String("https://kubernetes.default.svc"),
		PostgresPasswords: map[string]pulumi.StringInput{}, RedisPassword: pulumi.String("redis-pw"), Provider: p,
		Random: bytes.NewReader(bytes.Repeat([]byte{7}, 1024))}
	if d := plan.Database; d != nil {
		for _, c := range d.Connections {
			a.PostgresPasswords[c.Name] = pulumi.String("pg-pw-" + c.Name)
		}
	}
	if plan.Kubernetes.ReviewerSecret != "" {
		a.ReviewerJWT, a.KubernetesCACert = pulumi.String("reviewer.jwt"), pulumi.String("-----BEGIN CERTIFICATE-----")
	}
	return a
}

// names are the component's list outputs once resolved.
type names struct{ got map[string][]string }

func run(t *testing.T, plan secrets.Plan, mutate func(*Args)) (*mocktest.Mocks, *names, error) {
	t.Helper()
	var c mocktest.Outputs
	m, err := mocktest.Run("test", nil, func(ctx *pulumi.Context) error {
		p, err := vault.NewProvider(ctx, "vault", &vault.ProviderArgs{Address: pulumi.String("http://127.0.0.1:8200"), Token: pulumi.String("t")})
		if err != nil {
			return err
		}
		a := validArgs(plan, p)
		if mutate != nil {
			mutate(a)
		}
		vc, err := New(ctx, "vc", a)
		if err != nil {
			return err
		}
		for k, o := range map[string]pulumi.StringArrayOutput{"mounts": vc.Mounts, "policies": vc.Policies, "roles": vc.Roles,
			"staticSecrets": vc.StaticSecrets, "databaseRoles": vc.DatabaseRoles} {
			c.Track(k, o)
		}
		return nil
	})
	out := &names{got: map[string][]string{}}
	if err == nil {
		c.Wait(t)
		for _, k := range []string{"mounts", "policies", "roles", "staticSecrets", "databaseRoles"} {
			out.got[k], _ = c.Get(k).([]string)
		}
	}
	return m, out, err
}

func secretString(t *testing.T, r mocktest.Resource, path ...string) string {
	t.Helper()
	v := resource.NewObjectProperty(r.Inputs)
	for _, k := range path {
		if v.IsSecret() {
			t.Errorf("%s: %v is a secret above %s", r.Name, path, k)
			v = v.SecretValue().Element
		}
		if !v.IsObject() {
			t.Fatalf("%s: no %v in %v", r.Name, path, r.Inputs.Mappable())
		}
		v = v.ObjectValue()[resource.PropertyKey(k)]
	}
	if !v.IsSecret() {
		t.Errorf("%s: %v is not a secret", r.Name, path)
		return v.StringValue()
	}
	return v.SecretValue().Element.StringValue()
}

// The dev plan (Vault in the cluster): every child of the component with
// the explicit provider, in dependency order, secrets kept secret.
func TestAppliesThePlanInOrderWithSecretsKeptSecret(t *testing.T) {
	plan := devPlan(t)
	m, out, err := run(t, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range m.All() {
		if r.Type == Token || r.Type == "pulumi:providers:vault" {
			continue
		}
		if !strings.HasSuffix(r.Parent, "::"+Token+"::vc") || !strings.Contains(r.Provider, "pulumi:providers:vault::vault::") {
			t.Errorf("%s %s: parent %q provider %q", r.Type, r.Name, r.Parent, r.Provider)
		}
	}
	auth := mocktest.Must(t, m, "vc-kubernetes-config")
	for k, want := range map[string]any{"kubernetesHost": "https://kubernetes.default.svc", "issuer": plan.Kubernetes.Issuer,
		"disableIssValidation": false, "disableLocalCaJwt": false, "backend": plan.Mounts.Kubernetes} {
		if got := mocktest.Get(auth.Inputs, k); got != want {
			t.Errorf("auth config %s = %v, want %v", k, got, want)
		}
	}
	for _, k := range []string{"tokenReviewerJwt", "kubernetesCaCert"} {
		if _, set := auth.Inputs[resource.PropertyKey(k)]; set {
			t.Errorf("Vault in the cluster is given %s", k)
		}
	}
	for _, r := range plan.Roles {
		role := mocktest.Must(t, m, "vc-role-"+r.Name)
		if !mocktest.DependsOn(role, "vc-kubernetes-config") || !mocktest.DependsOn(role, "vc-policy-"+r.Policies[0]) {
			t.Errorf("role %s does not wait for the auth config and its policy: %v", r.Name, role.Dependencies)
		}
	}
	for _, r := range plan.Database.Roles {
		dbr := mocktest.Must(t, m, "vc-dbrole-"+r.Name)
		if !mocktest.DependsOn(dbr, "vc-connection-"+r.Connection) || !mocktest.DependsOn(dbr, "vc-database") {
			t.Errorf("database role %s does not wait for its connection: %v", r.Name, dbr.Dependencies)
		}
	}
	for _, c := range plan.Database.Connections {
		conn := mocktest.Must(t, m, "vc-connection-"+c.Name)
		if !mocktest.DependsOn(conn, "vc-database") {
			t.Errorf("connection %s does not wait for the mount", c.Name)
		}
		if pw := secretString(t, conn, "postgresql", "password"); pw != "pg-pw-"+c.Name {
			t.Errorf("connection %s password %q", c.Name, pw)
		}
	}
	for _, s := range plan.Static {
		r := mocktest.Must(t, m, "vc-static-"+s.Path)
		var data map[string]string
		if err := json.Unmarshal([]byte(secretString(t, r, "dataJson")), &data); err != nil {
			t.Fatal(err)
		}
		for _, k := range s.Generated {
			// The fixed random source: 32 bytes of 7, base64url.
			if data[k] != "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc" {
				t.Errorf("%s: generated %s = %q", s.Path, k, data[k])
			}
		}
		if got := slices.Contains(r.IgnoreChanges, "dataJson"); got != (len(s.Generated) > 0) {
			t.Errorf("%s: ignoreChanges %v with generated keys %v", s.Path, r.IgnoreChanges, s.Generated)
		}
		if !mocktest.DependsOn(r, "vc-kv") {
			t.Errorf("%s does not wait for the KV mount", s.Path)
		}
	}
	if got := out.got["mounts"]; !slices.Equal(got, []string{plan.Mounts.KV, "auth/" + plan.Mounts.Kubernetes, plan.Mounts.Database}) {
		t.Errorf("mounts output %v", got)
	}
	if got := out.got["roles"]; len(got) != len(plan.Roles) || got[0] != plan.Roles[0].Name {
		t.Errorf("roles output %v", got)
	}
	if got := out.got["staticSecrets"]; len(got) != len(plan.Static) {
		t.Errorf("staticSecrets output %v", got)
	}
	if got := out.got["databaseRoles"]; len(got) != len(plan.Database.Roles) {
		t.Errorf("databaseRoles output %v", got)
	}
}

// Vault outside the cluster reviews tokens with the reviewer's token and
// trusts the cluster's CA, never a local one.
func TestVaultOutsideTheClusterReviewsWithTheReviewersToken(t *testing.T) {
	plan := devPlan(t)
	plan.Kubernetes.ReviewerSecret = "vault/" + secrets.ReviewerSecret
	m, _, err := run(t, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	auth := mocktest.Must(t, m, "vc-kubernetes-config")
	if jwt := secretString(t, auth, "tokenReviewerJwt"); jwt != "reviewer.jwt" {
		t.Errorf("reviewer JWT %q", jwt)
	}
	if mocktest.Get(auth.Inputs, "kubernetesCaCert") != "-----BEGIN CERTIFICATE-----" || mocktest.Get(auth.Inputs, "disableLocalCaJwt") != true {
		t.Errorf("auth config %v", auth.Inputs.Mappable())
	}
}

func TestInvalidArgsNameTheFieldAndRegisterNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Args)
		path   string
		kind   error
	}{
		{"a policy reading another service's secrets", func(a *Args) {
			a.Plan.Policies[0].Rules[0].Path = a.Plan.Mounts.KV + "/data/shop/payment/*"
		}, "plan.policies[0].rules[0].path", fielderr.ErrForbidden},
		{"a role bound to every service account", func(a *Args) { a.Plan.Roles[0].ServiceAccount = "*" }, "plan.roles[0].serviceAccount", fielderr.ErrForbidden},
		{"no Kubernetes host", func(a *Args) { a.KubernetesHost = nil }, "kubernetesHost", fielderr.ErrRequired},
		{"a database connection without a password", func(a *Args) { a.PostgresPasswords = nil }, "postgresPasswords." + devPlan(t).Database.Connections[0].Name, fielderr.ErrRequired},
		{"a password for no connection", func(a *Args) { a.PostgresPasswords["nowhere"] = pulumi.String("x") }, "postgresPasswords.nowhere", fielderr.ErrUnknown},
		{"redis secrets without the password", func(a *Args) { a.RedisPassword = nil }, "redisPassword", fielderr.ErrRequired},
		{"a value source nobody hands over", func(a *Args) {
			i := slices.IndexFunc(a.Plan.Static, func(s secrets.StaticSecret) bool { return len(s.From) > 0 })
			a.Plan.Static[i].From = map[string]string{"password": "env"}
		}, "plan.static[" + idx(devPlan(t).Static, func(s secrets.StaticSecret) bool { return len(s.From) > 0 }) + "].from.password", fielderr.ErrUnsupported},
		{"a key nothing seeds", func(a *Args) { a.Plan.Static[0].Keys = append(a.Plan.Static[0].Keys, "extra") }, "plan.static[0].keys[" + itoa(len(devPlan(t).Static[0].Keys)) + "]", fielderr.ErrRequired},
		{"a reviewer secret without the reviewer's token", func(a *Args) { a.Plan.Kubernetes.ReviewerSecret = "vault/r" }, "reviewerJWT", fielderr.ErrRequired},
		{"a reviewer token for Vault in the cluster", func(a *Args) { a.ReviewerJWT = pulumi.String("x") }, "reviewerJWT", fielderr.ErrConflict},
		{"no provider", func(a *Args) { a.Provider = nil }, "provider", fielderr.ErrRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _, err := run(t, devPlan(t), tc.mutate)
			want := "vaultconfig vc: " + tc.path
			if !slices.ContainsFunc(fielderr.All(err), func(fe *fielderr.Error) bool { return fe.Path == want && errors.Is(fe, tc.kind) }) {
				t.Fatalf("error %v does not report %v at %q", err, tc.kind, want)
			}
			for _, r := range m.All() {
				if r.Type != "pulumi:providers:vault" {
					t.Errorf("registered %s %s", r.Type, r.Name)
				}
			}
		})
	}
}

func idx(s []secrets.StaticSecret, f func(secrets.StaticSecret) bool) string {
	return itoa(slices.IndexFunc(s, f))
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// The auth mount's cap is the platform's longest lease.
func TestMountCapIsThePlatformsLongestLease(t *testing.T) {
	if d, err := time.ParseDuration(MountMaxTTL); err != nil || d != config.MaxLeaseTTL {
		t.Errorf("MountMaxTTL %s, want config.MaxLeaseTTL %s", MountMaxTTL, config.MaxLeaseTTL)
	}
	if d, err := time.ParseDuration(MountDefaultTTL); err != nil || d < config.MinLeaseTTL || d > config.MaxLeaseTTL {
		t.Errorf("MountDefaultTTL %s outside the lease bounds", MountDefaultTTL)
	}
}
