// Package vaultconfig provides VaultConfig: Vault's side of the service
// graph applied to a running Vault (or OpenBao) with pulumi-vault, from the
// secrets.Plan the platform layer compiled and exported.
//
// It mounts KV version 2 and the database secrets engine under the plan's
// path prefix, enables and configures the Kubernetes auth method (the
// cluster's API server, its CA and a token reviewer when Vault runs outside
// the cluster; issuer validation on), writes one ACL policy per service and
// per namespace's secret store, one auth role per policy bound to exactly
// one service account of one namespace for one audience, one database
// connection per PostgreSQL server (logged in as the data model's
// management role) with one role per service, and seeds the static secrets.
//
// Every child is parented to the component and uses the explicit Vault
// provider; the component never reads the cluster itself: the Vault layer
// resolves the reviewer's token, the CA and the passwords and hands them
// over as inputs.
package vaultconfig

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	vault "github.com/pulumi/pulumi-vault/sdk/v6/go/vault"
	"github.com/pulumi/pulumi-vault/sdk/v6/go/vault/database"
	vaultk8s "github.com/pulumi/pulumi-vault/sdk/v6/go/vault/kubernetes"
	"github.com/pulumi/pulumi-vault/sdk/v6/go/vault/kv"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bulwark-platform/bulwark/components/component"
	"github.com/bulwark-platform/bulwark/infra/secrets"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
)

// Token is the component's type token.
const Token = "bulwark:vaultconfig:VaultConfig"

// PasswordAuthentication is how Vault sends the roles' passwords to
// PostgreSQL: hashed with SCRAM by Vault, so no plain password reaches the
// server (or its logs).
const PasswordAuthentication = "scram-sha-256"

// The Kubernetes auth mount's token lifetimes: a role's default and a cap
// no role can exceed (config.MaxLeaseTTL: a day-long token is the most
// the platform allows).
const (
	MountDefaultTTL = "1h"
	MountMaxTTL     = "24h"
)

// GeneratedBytes is the entropy of each generated static-secret value.
const GeneratedBytes = 32

// Args configures VaultConfig.
type Args struct {
	// Plan is what to apply: the platform layer's `vault` stack output.
	Plan secrets.Plan
	// KubernetesHost is the API server's URL as Vault reaches it.
	KubernetesHost pulumi.StringInput
	// KubernetesCACert (PEM) and ReviewerJWT (the reviewer service
	// account's token) configure an auth method whose Vault runs outside
	// the cluster: both required when Plan.Kubernetes.ReviewerSecret is
	// set, refused when it is empty (Vault in the cluster reviews with its
	// own pod's token and trusts its pod's CA).
	KubernetesCACert, ReviewerJWT pulumi.StringInput
	// PostgresPasswords are the management role's password per database
	// connection name: one for every connection of the plan.
	PostgresPasswords map[string]pulumi.StringInput
	// RedisPassword is the Redis login's password, required when a static
	// secret takes a value from secrets.FromRedisPassword.
	RedisPassword pulumi.StringInput
	// Random is where generated values come from; default crypto/rand.
	Random io.Reader
	// Provider is the explicit Vault provider (address and token).
	Provider pulumi.ProviderResource
}

// VaultConfig is Vault configured from the plan.
type VaultConfig struct {
	pulumi.ResourceState
	// Mounts are the engines' and the auth method's paths ("auth/..." for
	// the auth method).
	Mounts pulumi.StringArrayOutput
	// Policies, Roles, StaticSecrets (KV paths under the KV mount) and
	// DatabaseRoles are the names applied, in plan order.
	Policies, Roles, StaticSecrets, DatabaseRoles pulumi.StringArrayOutput
}

func (a *Args) withDefaults() *Args {
	out := *a
	out.PostgresPasswords = maps.Clone(a.PostgresPasswords)
	if out.Random == nil {
		out.Random = rand.Reader
	}
	return &out
}

func (a *Args) validate() error {
	var l fielderr.List
	p := &a.Plan
	if err := p.Validate(); err != nil {
		for _, fe := range fielderr.All(err) {
			l = append(l, fe)
		}
		if len(fielderr.All(err)) == 0 {
			l.Add(fielderr.ErrInvalid, "plan", "%v", err)
		}
	}
	for _, m := range []struct{ field, v string }{{"kv", p.Mounts.KV}, {"kubernetes", p.Mounts.Kubernetes}} {
		if m.v == "" || strings.HasPrefix(m.v, "/") || strings.HasSuffix(m.v, "/") {
			l.Add(fielderr.ErrInvalid, "plan.mounts."+m.field, "must be a mount path such as \"bulwark/prod/kv\", got %q", m.v)
		}
	}
	if a.KubernetesHost == nil {
		l.Add(fielderr.ErrRequired, "kubernetesHost", "Vault's Kubernetes auth method needs the API server's URL")
	}
	if p.Kubernetes.ReviewerSecret != "" {
		if a.ReviewerJWT == nil {
			l.Add(fielderr.ErrRequired, "reviewerJWT", "a Vault outside the cluster reviews login tokens with the token of %s", p.Kubernetes.ReviewerSecret)
		}
		if a.KubernetesCACert == nil {
			l.Add(fielderr.ErrRequired, "kubernetesCACert", "a Vault outside the cluster needs the cluster's CA (ca.crt of %s)", p.Kubernetes.ReviewerSecret)
		}
	} else {
		if a.ReviewerJWT != nil {
			l.Add(fielderr.ErrConflict, "reviewerJWT", "Vault in the cluster (plan.kubernetes.reviewerSecret empty) reviews with its own pod's token")
		}
		if a.KubernetesCACert != nil {
			l.Add(fielderr.ErrConflict, "kubernetesCACert", "Vault in the cluster (plan.kubernetes.reviewerSecret empty) trusts its own pod's CA")
		}
	}
	if d := p.Database; d != nil {
		if d.Connections != nil && (p.Mounts.Database == "" || strings.HasPrefix(p.Mounts.Database, "/") || strings.HasSuffix(p.Mounts.Database, "/")) {
			l.Add(fielderr.ErrInvalid, "plan.mounts.database", "must be a mount path such as \"bulwark/prod/database\", got %q", p.Mounts.Database)
		}
		for _, c := range d.Connections {
			if a.PostgresPasswords[c.Name] == nil {
				l.Add(fielderr.ErrRequired, "postgresPasswords."+c.Name, "the management role %q's password for connection %q", c.Username, c.Name)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(a.PostgresPasswords)) {
			if !slices.ContainsFunc(d.Connections, func(c secrets.Connection) bool { return c.Name == name }) {
				l.Add(fielderr.ErrUnknown, "postgresPasswords."+name, "no connection %q in the plan", name)
			}
		}
	} else {
		for _, name := range slices.Sorted(maps.Keys(a.PostgresPasswords)) {
			l.Add(fielderr.ErrUnknown, "postgresPasswords."+name, "the plan has no database engine")
		}
	}
	needRedis := ""
	for i, s := range p.Static {
		sp := fmt.Sprintf("plan.static[%d]", i)
		seeded := map[string]string{}
		seed := func(k, how string) {
			if prev, dup := seeded[k]; dup {
				l.Add(fielderr.ErrConflict, sp+"."+how+"."+k, "key %q is also %s", k, prev)
			}
			seeded[k] = how
		}
		for _, k := range slices.Sorted(maps.Keys(s.Fixed)) {
			seed(k, "fixed")
		}
		for _, k := range s.Generated {
			seed(k, "generated")
		}
		for _, k := range slices.Sorted(maps.Keys(s.From)) {
			seed(k, "from")
			switch src := s.From[k]; src {
			case secrets.FromRedisPassword:
				if needRedis == "" {
					needRedis = sp + ".from." + k
				}
			default:
				l.Add(fielderr.ErrUnsupported, sp+".from."+k, "%q is not a value source the Vault layer knows (%s)", src, secrets.FromRedisPassword)
			}
		}
		for j, k := range s.Keys {
			if _, ok := seeded[k]; !ok {
				l.Add(fielderr.ErrRequired, fmt.Sprintf("%s.keys[%d]", sp, j), "key %q is neither fixed, generated nor from a source: its secret store would sync nothing", k)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(seeded)) {
			if !slices.Contains(s.Keys, k) {
				l.Add(fielderr.ErrUnknown, sp+"."+seeded[k]+"."+k, "key %q is not one of keys %v", k, s.Keys)
			}
		}
	}
	if needRedis != "" && a.RedisPassword == nil {
		l.Add(fielderr.ErrRequired, "redisPassword", "%s (and any other such key) takes the Redis login's password", needRedis)
	}
	if a.Provider == nil {
		l.Add(fielderr.ErrRequired, "provider", "is required (the Vault provider with the address and token)")
	}
	return l.Err()
}

// New registers VaultConfig.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*VaultConfig, error) {
	c := &VaultConfig{}
	a, err := component.Begin(ctx, c, Token, name, args, (*Args).withDefaults, (*Args).validate, opts...)
	if err != nil {
		return nil, err
	}
	// Generated values are drawn before anything is registered below, so
	// a failing random source registers no child either.
	generated, err := draw(a)
	if err != nil {
		return nil, fmt.Errorf("vaultconfig %s: %w", name, err)
	}
	outputs, err := apply(ctx, c, name, a, generated)
	if err != nil {
		return nil, fmt.Errorf("vaultconfig %s: %w", name, err)
	}
	if err := component.Finish(ctx, c, outputs); err != nil {
		return nil, err
	}
	return c, nil
}

// draw makes a random value for each generated key, per static secret.
func draw(a *Args) ([]map[string]string, error) {
	out := make([]map[string]string, len(a.Plan.Static))
	for i, s := range a.Plan.Static {
		out[i] = map[string]string{}
		for _, k := range s.Generated {
			b := make([]byte, GeneratedBytes)
			if _, err := io.ReadFull(a.Random, b); err != nil {
				return nil, fmt.Errorf("generating %s of %s: %w", k, s.Path, err)
			}
			out[i][k] = base64.RawURLEncoding.EncodeToString(b)
		}
	}
	return out, nil
}

func apply(ctx *pulumi.Context, c *VaultConfig, name string, a *Args, generated []map[string]string) (pulumi.Map, error) {
	p := &a.Plan
	base := component.Children(c, a.Provider)
	after := func(deps ...pulumi.Resource) []pulumi.ResourceOption {
		return component.With(base, pulumi.DependsOn(deps))
	}
	env := p.Environment
	kvMount, err := vault.NewMount(ctx, name+"-kv", &vault.MountArgs{
		Path: pulumi.String(p.Mounts.KV), Type: pulumi.String("kv"),
		Options:     pulumi.StringMap{"version": pulumi.String("2")},
		Description: pulumi.Sprintf("Bulwark %s: the services' static secrets (KV version 2)", env),
	}, base...)
	if err != nil {
		return nil, err
	}
	auth, err := vault.NewAuthBackend(ctx, name+"-kubernetes", &vault.AuthBackendArgs{
		Type: pulumi.String("kubernetes"), Path: pulumi.String(p.Mounts.Kubernetes),
		Description: pulumi.Sprintf("Bulwark %s: service accounts' projected tokens of audience %s", env, p.Kubernetes.Audience),
		// Tuned explicitly: the provider reads the mount's tuning back and
		// proposes an update on every run when none is set. The mount caps
		// every token at the platform's longest lease, whatever a role says.
		Tune: &vault.AuthBackendTuneArgs{
			DefaultLeaseTtl: pulumi.String(MountDefaultTTL), MaxLeaseTtl: pulumi.String(MountMaxTTL),
			TokenType: pulumi.String("default-service"),
		},
	}, base...)
	if err != nil {
		return nil, err
	}
	authArgs := &vaultk8s.AuthBackendConfigArgs{
		Backend:        auth.Path,
		KubernetesHost: a.KubernetesHost,
		// Tokens of another issuer (another cluster sharing this Vault)
		// never log in.
		DisableIssValidation: pulumi.Bool(false),
		DisableLocalCaJwt:    pulumi.Bool(false),
	}
	if p.Kubernetes.Issuer != "" {
		authArgs.Issuer = pulumi.String(p.Kubernetes.Issuer)
	}
	if p.Kubernetes.ReviewerSecret != "" {
		// Outside the cluster there is no pod token or CA to fall back
		// on: review with the reviewer's token only.
		authArgs.DisableLocalCaJwt = pulumi.Bool(true)
		authArgs.KubernetesCaCert = a.KubernetesCACert.ToStringOutput().ToStringPtrOutput()
		authArgs.TokenReviewerJwt = pulumi.ToSecret(a.ReviewerJWT.ToStringOutput()).(pulumi.StringOutput).ToStringPtrOutput()
	}
	authConfig, err := vaultk8s.NewAuthBackendConfig(ctx, name+"-kubernetes-config", authArgs, after(auth)...)
	if err != nil {
		return nil, err
	}

	policies := map[string]*vault.Policy{}
	var policyNames []string
	for _, pol := range p.Policies {
		r, err := vault.NewPolicy(ctx, name+"-policy-"+pol.Name, &vault.PolicyArgs{
			Name: pulumi.String(pol.Name), Policy: pulumi.String(pol.HCL()),
		}, base...)
		if err != nil {
			return nil, err
		}
		policies[pol.Name] = r
		policyNames = append(policyNames, pol.Name)
	}
	var roleNames []string
	for _, r := range p.Roles {
		deps := []pulumi.Resource{authConfig}
		var tokenPolicies pulumi.StringArray
		for _, name := range r.Policies {
			deps = append(deps, policies[name])
			tokenPolicies = append(tokenPolicies, policies[name].Name)
		}
		// A role logs in exactly one service account of exactly one
		// namespace (the plan's validation refused "*" and lists).
		if _, err := vaultk8s.NewAuthBackendRole(ctx, name+"-role-"+r.Name, &vaultk8s.AuthBackendRoleArgs{
			Backend: auth.Path, RoleName: pulumi.String(r.Name),
			BoundServiceAccountNames:      pulumi.StringArray{pulumi.String(r.ServiceAccount)},
			BoundServiceAccountNamespaces: pulumi.StringArray{pulumi.String(r.Namespace)},
			Audience:                      pulumi.String(r.Audience),
			TokenTtl:                      pulumi.Int(r.TTL), TokenMaxTtl: pulumi.Int(r.MaxTTL),
			TokenPolicies: tokenPolicies,
		}, after(deps...)...); err != nil {
			return nil, err
		}
		roleNames = append(roleNames, r.Name)
	}

	mounts := []string{p.Mounts.KV, "auth/" + p.Mounts.Kubernetes}
	var dbRoleNames []string
	if d := p.Database; d != nil {
		mounts = append(mounts, p.Mounts.Database)
		if dbRoleNames, err = applyDatabase(ctx, name, a, base, after); err != nil {
			return nil, err
		}
	}

	var staticPaths []string
	for i, s := range p.Static {
		data := pulumi.StringMap{}
		for k, v := range s.Fixed {
			data[k] = pulumi.String(v)
		}
		for k, v := range generated[i] {
			data[k] = pulumi.String(v)
		}
		for k := range s.From {
			data[k] = a.RedisPassword // the one source validate admits
		}
		dataJSON := data.ToStringMapOutput().ApplyT(func(m map[string]string) (string, error) {
			b, err := json.Marshal(m)
			return string(b), err
		}).(pulumi.StringOutput)
		opts := after(kvMount)
		if len(s.Generated) > 0 {
			// Generated values are seeded once. Each run draws new ones,
			// and rotation happens in Vault (a new version written there);
			// without ignoring dataJson, the next `up` would overwrite the
			// rotated value with this run's draw and break every client of
			// the old one. Fixed keys of such a secret are therefore seeded
			// once too.
			opts = component.With(opts, pulumi.IgnoreChanges([]string{"dataJson"}))
		}
		if _, err := kv.NewSecretV2(ctx, name+"-static-"+s.Path, &kv.SecretV2Args{
			Mount: kvMount.Path, Name: pulumi.String(s.Path),
			DataJson: pulumi.ToSecret(dataJSON).(pulumi.StringOutput),
		}, opts...); err != nil {
			return nil, err
		}
		staticPaths = append(staticPaths, s.Path)
	}

	c.Mounts = pulumi.ToStringArray(mounts).ToStringArrayOutput()
	c.Policies = pulumi.ToStringArray(policyNames).ToStringArrayOutput()
	c.Roles = pulumi.ToStringArray(roleNames).ToStringArrayOutput()
	c.StaticSecrets = pulumi.ToStringArray(staticPaths).ToStringArrayOutput()
	c.DatabaseRoles = pulumi.ToStringArray(dbRoleNames).ToStringArrayOutput()
	return pulumi.Map{
		"mounts": c.Mounts, "policies": c.Policies, "roles": c.Roles,
		"staticSecrets": c.StaticSecrets, "databaseRoles": c.DatabaseRoles,
	}, nil
}

func applyDatabase(ctx *pulumi.Context, name string, a *Args, base []pulumi.ResourceOption,
	after func(...pulumi.Resource) []pulumi.ResourceOption) ([]string, error) {
	p := &a.Plan
	mount, err := vault.NewMount(ctx, name+"-database", &vault.MountArgs{
		Path: pulumi.String(p.Mounts.Database), Type: pulumi.String("database"),
		Description: pulumi.Sprintf("Bulwark %s: the services' PostgreSQL credentials, one role per service", p.Environment),
	}, base...)
	if err != nil {
		return nil, err
	}
	conns := map[string]*database.SecretBackendConnection{}
	for _, c := range p.Database.Connections {
		pw := pulumi.ToSecret(a.PostgresPasswords[c.Name].ToStringOutput()).(pulumi.StringOutput)
		conn, err := database.NewSecretBackendConnection(ctx, name+"-connection-"+c.Name, &database.SecretBackendConnectionArgs{
			Backend: mount.Path, Name: pulumi.String(c.Name),
			AllowedRoles:     pulumi.ToStringArray(c.AllowedRoles),
			VerifyConnection: pulumi.Bool(true),
			Postgresql: &database.SecretBackendConnectionPostgresqlArgs{
				ConnectionUrl:          pulumi.String(c.URL()),
				Username:               pulumi.String(c.Username),
				Password:               pw.ToStringPtrOutput(),
				PasswordAuthentication: pulumi.String(PasswordAuthentication),
			},
		}, after(mount)...)
		if err != nil {
			return nil, err
		}
		conns[c.Name] = conn
	}
	var names []string
	for _, r := range p.Database.Roles {
		conn := conns[r.Connection]
		if _, err := database.NewSecretBackendRole(ctx, name+"-dbrole-"+r.Name, &database.SecretBackendRoleArgs{
			Backend: mount.Path, Name: pulumi.String(r.Name), DbName: conn.Name,
			CreationStatements:   pulumi.ToStringArray(r.Creation),
			RevocationStatements: pulumi.ToStringArray(r.Revocation),
			DefaultTtl:           pulumi.Int(r.TTL), MaxTtl: pulumi.Int(r.MaxTTL),
		}, after(mount, conn)...); err != nil {
			return nil, err
		}
		names = append(names, r.Name)
	}
	return names, nil
}
