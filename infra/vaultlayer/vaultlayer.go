// Package vaultlayer is the Vault layer's Pulumi program: the second
// Pulumi project (infra/vault, `bulwark-vault`), run after the platform
// layer. It reads the platform stack's `vault` output (the secrets.Plan
// compiled from the service graph), validates it, resolves what Vault
// needs from the cluster (the token reviewer's token and CA, the stores'
// generated passwords) and applies the plan with the vaultconfig
// component through an explicit Vault provider.
//
// The two layers are separate projects because the Vault provider needs a
// reachable, unsealed Vault and a token at preview time, which the platform
// layer is what creates; one compilation in the platform layer keeps them
// from disagreeing about a path, a role or a name.
//
// Inputs come from two places. Users set the stack configuration
// (namespace bulwark-vault: platformStack, address, token, kubeconfig,
// kubernetesHost, postgresPasswords, redisPassword; secrets with
// `pulumi config set --secret`). The Automation API runner hands values
// over in Options instead (the local stacks' OpenBao root token, the local
// stores' passwords, the plan it just compiled, the local cluster's
// kubeconfig), so it never writes a secret into a stack file: a value set
// in Options wins over the same value in configuration.
package vaultlayer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	vault "github.com/pulumi/pulumi-vault/sdk/v6/go/vault"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/bulwark-platform/bulwark/components/vaultconfig"
	"github.com/bulwark-platform/bulwark/infra/secrets"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
)

// Project is the Vault layer's Pulumi project name.
const Project = "bulwark-vault"

// PlatformProject is the platform layer's project, whose stack of the same
// name is read by default.
const PlatformProject = "bulwark"

// PlanOutput is the platform stack's output that holds the plan.
const PlanOutput = "vault"

// Options carry what the caller knows beyond the stack configuration. Set
// fields win over configuration.
type Options struct {
	// ConfigKeys lists every configuration key set on the stack, so that an
	// unknown key is an error. nil reads them from PULUMI_CONFIG, which the
	// Pulumi CLI sets for a normal `pulumi up`.
	ConfigKeys []string
	// Kubeconfig (a path or its contents) replaces bulwark-vault:kubeconfig.
	Kubeconfig string
	// Plan, when set, is applied instead of the platform stack's output.
	Plan *secrets.Plan
	// Token replaces bulwark-vault:token.
	Token string
	// PostgresPasswords replace bulwark-vault:postgresPasswords entries.
	PostgresPasswords map[string]string
	// RedisPassword replaces bulwark-vault:redisPassword.
	RedisPassword string
}

// New returns the program as a pulumi.RunFunc.
func New(o Options) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error { return Run(ctx, o) }
}

// Run loads and validates the configuration and the plan, then applies
// the plan. Nothing but the platform stack's reference is registered when
// anything is invalid or missing.
func Run(ctx *pulumi.Context, o Options) error {
	keys := o.ConfigKeys
	if keys == nil {
		var err error
		if keys, err = keysFromEnv(os.Getenv(pulumi.EnvConfig)); err != nil {
			return err
		}
	}
	cfg, err := LoadConfig(ctx.GetConfig, keys, ctx.IsConfigSecret)
	if err != nil {
		return fmt.Errorf("invalid stack configuration for stack %q:\n%w", ctx.Stack(), err)
	}
	plan, from := o.Plan, "the plan handed over"
	if plan == nil {
		from = cfg.PlatformStack
		if from == "" {
			from = "organization/" + PlatformProject + "/" + ctx.Stack()
		}
		if plan, err = readPlan(ctx, from); err != nil {
			return err
		}
		from = "platform stack " + from + " output " + PlanOutput
	}
	in, err := resolve(plan, cfg, o)
	if err != nil {
		return fmt.Errorf("the Vault layer of stack %q can't apply %s:\n%w", ctx.Stack(), from, err)
	}
	return apply(ctx, plan, in)
}

// readPlan reads the platform stack's plan output. It blocks until the
// reference resolves, so the number of resources is known at preview.
func readPlan(ctx *pulumi.Context, stack string) (*secrets.Plan, error) {
	ref, err := pulumi.NewStackReference(ctx, stack, nil)
	if err != nil {
		return nil, fmt.Errorf("reading platform stack %s: %w", stack, err)
	}
	d, err := ref.GetOutputDetails(PlanOutput)
	if err != nil {
		return nil, fmt.Errorf("reading output %s of platform stack %s: %w", PlanOutput, stack, err)
	}
	v := d.Value
	if v == nil {
		v = d.SecretValue
	}
	if v == nil {
		return nil, fmt.Errorf("platform stack %s has no %q output: run `pulumi up` of the platform layer first (or set %s)", stack, PlanOutput, Key(KeyPlatformStack))
	}
	p, err := DecodePlan(v)
	if err != nil {
		return nil, fmt.Errorf("output %s of platform stack %s: %w", PlanOutput, stack, err)
	}
	return p, nil
}

// DecodePlan reads a plan from its JSON-compatible form (a stack output).
// A field this version does not know is an error: a newer platform layer
// would otherwise have part of its plan silently dropped.
func DecodePlan(v any) (*secrets.Plan, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var p secrets.Plan
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("not a Vault plan: %w", err)
	}
	return &p, nil
}

// inputs are the plan's resolved inputs: each value is known, or a
// Kubernetes Secret key to read.
type inputs struct {
	address, token, kubeconfig, kubernetesHost string
	postgres                                   map[string]value
	redis                                      *value
}

// value is a password given, or where to read it.
type value struct {
	given string
	ref   *secrets.SecretRef
}

// resolve validates the plan and finds every input it needs, reporting
// each missing one by the key that sets it.
func resolve(plan *secrets.Plan, cfg *Config, o Options) (*inputs, error) {
	var l fielderr.List
	if err := plan.Validate(); err != nil {
		l = append(l, fielderr.All(err)...)
		if len(fielderr.All(err)) == 0 {
			return nil, err
		}
	}
	pick := func(vs ...string) string {
		for _, v := range vs {
			if v != "" {
				return v
			}
		}
		return ""
	}
	in := &inputs{
		address:    pick(cfg.Address, plan.Address),
		token:      pick(o.Token, cfg.Token),
		kubeconfig: pick(o.Kubeconfig, cfg.Kubeconfig),
		postgres:   map[string]value{},
	}
	if in.address == "" {
		l.Add(fielderr.ErrRequired, Key(KeyAddress), "the plan names no Vault address: set Vault's URL")
	}
	if in.token == "" {
		l.Add(fielderr.ErrRequired, Key(KeyToken), "a Vault token that may manage mounts, auth methods and policies: `pulumi config set --secret %s <token>`", Key(KeyToken))
	}
	if d := plan.Database; d != nil {
		for _, c := range d.Connections {
			switch pw := pick(o.PostgresPasswords[c.Name], cfg.PostgresPasswords[c.Name]); {
			case pw != "":
				in.postgres[c.Name] = value{given: pw}
			case c.PasswordSecret != nil:
				in.postgres[c.Name] = value{ref: c.PasswordSecret}
			default:
				l.Add(fielderr.ErrRequired, Key(KeyPostgresPasswords)+"."+c.Name,
					"the password of management role %q on %s:%d (the platform does not manage this server): `pulumi config set --secret --path '%s.%s' <password>`",
					c.Username, c.Host, c.Port, Key(KeyPostgresPasswords), c.Name)
			}
		}
	}
	if slices.ContainsFunc(plan.Static, func(s secrets.StaticSecret) bool {
		return slices.Contains(valuesOf(s.From), secrets.FromRedisPassword)
	}) {
		switch pw := pick(o.RedisPassword, cfg.RedisPassword); {
		case pw != "":
			in.redis = &value{given: pw}
		case plan.RedisPasswordSecret != nil:
			in.redis = &value{ref: plan.RedisPasswordSecret}
		default:
			l.Add(fielderr.ErrRequired, Key(KeyRedisPassword), "the Redis login's password, which the services' redis secrets hold (the platform does not manage this Redis): `pulumi config set --secret %s <password>`", Key(KeyRedisPassword))
		}
	}
	in.kubernetesHost = pick(cfg.KubernetesHost, plan.Kubernetes.Host)
	if in.kubernetesHost == "" {
		host, err := KubeconfigServer(in.kubeconfig)
		if err != nil {
			l.Add(fielderr.ErrRequired, Key(KeyKubernetesHost), "the plan names no API server and the kubeconfig gives none (%v): set the API server's URL as Vault reaches it", err)
		}
		in.kubernetesHost = host
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	return in, nil
}

func valuesOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// KubeconfigServer is the server of the current context's cluster of a
// kubeconfig (a path, its contents, or "" for the ambient one).
func KubeconfigServer(kubeconfig string) (string, error) {
	var (
		kc  *clientcmdapi.Config
		err error
	)
	switch {
	case kubeconfig == "":
		kc, err = clientcmd.NewDefaultClientConfigLoadingRules().Load()
	case strings.Contains(kubeconfig, "\n") || strings.HasPrefix(strings.TrimSpace(kubeconfig), "{"):
		kc, err = clientcmd.Load([]byte(kubeconfig))
	default:
		kc, err = clientcmd.LoadFromFile(kubeconfig)
	}
	if err != nil {
		return "", fmt.Errorf("reading the kubeconfig: %w", err)
	}
	c, ok := kc.Contexts[kc.CurrentContext]
	if !ok {
		return "", fmt.Errorf("the kubeconfig has no current context (%q)", kc.CurrentContext)
	}
	cl, ok := kc.Clusters[c.Cluster]
	if !ok || cl.Server == "" {
		return "", fmt.Errorf("the kubeconfig's context %q names no cluster with a server", kc.CurrentContext)
	}
	return cl.Server, nil
}

// apply registers the providers, the reads of the cluster's Secrets and
// the component, and exports the secrets posture.
func apply(ctx *pulumi.Context, plan *secrets.Plan, in *inputs) error {
	return applyWith(ctx, plan, in, nil)
}

// reviewer is the token reviewer's token and the cluster's CA, when known
// without reading the cluster (the integration test against OpenBao alone).
type reviewer struct{ jwt, caCert string }

func applyWith(ctx *pulumi.Context, plan *secrets.Plan, in *inputs, known *reviewer) error {
	vp, err := vault.NewProvider(ctx, "vault", &vault.ProviderArgs{
		Address: pulumi.String(in.address),
		Token:   pulumi.ToSecret(pulumi.String(in.token)).(pulumi.StringOutput),
		// The token acts itself: a child token would need the right to
		// create tokens, which a scoped operator token may lack.
		SkipChildToken: pulumi.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("vault provider: %w", err)
	}
	r := &reader{ctx: ctx, kubeconfig: in.kubeconfig, secrets: map[string]*corev1.Secret{}}
	args := &vaultconfig.Args{
		Plan:              *plan,
		KubernetesHost:    pulumi.String(in.kubernetesHost),
		PostgresPasswords: map[string]pulumi.StringInput{},
		Provider:          vp,
	}
	switch ref := plan.Kubernetes.ReviewerSecret; {
	case ref != "" && known != nil:
		args.ReviewerJWT = pulumi.ToSecret(pulumi.String(known.jwt)).(pulumi.StringOutput)
		args.KubernetesCACert = pulumi.String(known.caCert)
	case ref != "":
		ns, name, _ := strings.Cut(ref, "/")
		if args.ReviewerJWT, err = r.read(secrets.SecretRef{Namespace: ns, Name: name, Key: "token"}); err != nil {
			return err
		}
		if args.KubernetesCACert, err = r.read(secrets.SecretRef{Namespace: ns, Name: name, Key: "ca.crt"}); err != nil {
			return err
		}
	}
	for _, c := range connections(plan) {
		if args.PostgresPasswords[c], err = r.value(in.postgres[c]); err != nil {
			return err
		}
	}
	if in.redis != nil {
		if args.RedisPassword, err = r.value(*in.redis); err != nil {
			return err
		}
	}
	vc, err := vaultconfig.New(ctx, "vault", args)
	if err != nil {
		return err
	}
	ctx.Export("address", pulumi.String(in.address))
	ctx.Export("mounts", vc.Mounts)
	ctx.Export("policies", vc.Policies)
	ctx.Export("roles", vc.Roles)
	ctx.Export("staticSecrets", vc.StaticSecrets)
	ctx.Export("databaseRoles", vc.DatabaseRoles)
	return nil
}

func connections(plan *secrets.Plan) []string {
	if plan.Database == nil {
		return nil
	}
	out := make([]string, len(plan.Database.Connections))
	for i, c := range plan.Database.Connections {
		out[i] = c.Name
	}
	return out
}

// reader reads Kubernetes Secrets through one explicit provider, created
// on first use (a plan that needs nothing from the cluster needs no
// kubeconfig), each Secret once.
type reader struct {
	ctx        *pulumi.Context
	kubeconfig string
	provider   pulumi.ProviderResource
	secrets    map[string]*corev1.Secret
}

func (r *reader) value(v value) (pulumi.StringInput, error) {
	if v.ref == nil {
		return pulumi.ToSecret(pulumi.String(v.given)).(pulumi.StringOutput), nil
	}
	return r.read(*v.ref)
}

// read is one key of a Secret, base64-decoded, as a secret output.
func (r *reader) read(ref secrets.SecretRef) (pulumi.StringInput, error) {
	if r.provider == nil {
		args := &kubernetes.ProviderArgs{}
		if r.kubeconfig != "" {
			args.Kubeconfig = pulumi.String(r.kubeconfig)
		}
		p, err := kubernetes.NewProvider(r.ctx, "kubernetes", args)
		if err != nil {
			return nil, fmt.Errorf("kubernetes provider: %w", err)
		}
		r.provider = p
	}
	id := ref.Namespace + "/" + ref.Name
	s, ok := r.secrets[id]
	if !ok {
		var err error
		if s, err = corev1.GetSecret(r.ctx, "secret-"+id, pulumi.ID(id), nil, pulumi.Provider(r.provider)); err != nil {
			return nil, fmt.Errorf("reading Secret %s: %w", id, err)
		}
		r.secrets[id] = s
	}
	key := ref.Key
	out := s.Data.ApplyT(func(data map[string]string) (string, error) {
		enc, ok := data[key]
		if !ok || enc == "" {
			return "", fmt.Errorf("Secret %s has no %q yet (for the reviewer's token Secret, the token controller fills it)", id, key)
		}
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return "", fmt.Errorf("Secret %s key %q: %w", id, key, err)
		}
		return string(b), nil
	}).(pulumi.StringOutput)
	return pulumi.ToSecret(out).(pulumi.StringOutput), nil
}
