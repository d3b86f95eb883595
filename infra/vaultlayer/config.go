package vaultlayer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/bulwark-platform/bulwark/internal/fielderr"
)

// Namespace is the configuration namespace of the Vault layer's keys.
const Namespace = Project

// Config is the Vault layer's stack configuration (namespace
// bulwark-vault), typed. Every value is optional in the stack file: the
// runner hands the local stacks' token and passwords over in Options, and
// Resolve says which of them a plan needs.
type Config struct {
	// PlatformStack is the platform layer's stack whose `vault` output is
	// the plan; default organization/bulwark/<this stack's name>.
	PlatformStack string
	// Address is Vault's URL as this program reaches it; default the
	// plan's address (what the cluster's pods use).
	Address string
	// Token is the Vault token the provider acts with (secret).
	Token string
	// Kubeconfig is a kubeconfig path or its contents, for reading the
	// reviewer's and the stores' Secrets; default the ambient one.
	Kubeconfig string
	// KubernetesHost is the API server's URL as Vault reaches it; default
	// the plan's, else the kubeconfig's current cluster's server.
	KubernetesHost string
	// PostgresPasswords are the management role's password per database
	// connection whose password the platform did not generate (secret).
	PostgresPasswords map[string]string
	// RedisPassword is the Redis login's password when the platform did
	// not install Redis (secret).
	RedisPassword string
}

// The configuration keys, without the namespace.
const (
	KeyPlatformStack     = "platformStack"
	KeyAddress           = "address"
	KeyToken             = "token"
	KeyKubeconfig        = "kubeconfig"
	KeyKubernetesHost    = "kubernetesHost"
	KeyPostgresPasswords = "postgresPasswords"
	KeyRedisPassword     = "redisPassword"
)

// secretKeys must be set with `pulumi config set --secret`: a plain value
// would sit unencrypted in the stack file.
var secretKeys = []string{KeyToken, KeyPostgresPasswords, KeyRedisPassword}

// KeyNames returns the full names ("bulwark-vault:token") of every key,
// as infra/vault/Pulumi.yaml declares them.
func KeyNames() []string {
	names := []string{KeyPlatformStack, KeyAddress, KeyToken, KeyKubeconfig, KeyKubernetesHost, KeyPostgresPasswords, KeyRedisPassword}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = Key(n)
	}
	return out
}

// Key is the full name of a key.
func Key(name string) string { return Namespace + ":" + name }

// Getter reads one configuration value by its full key.
type Getter func(key string) (string, bool)

// LoadConfig reads the Vault layer's configuration. present lists every
// key set on the stack (an unknown key in the namespace is an error);
// isSecret says whether a key's value is encrypted in the stack file (a
// token or password that is not is an error). Every problem is reported,
// each naming its key.
func LoadConfig(get Getter, present []string, isSecret func(key string) bool) (*Config, error) {
	var l fielderr.List
	known := KeyNames()
	for _, k := range slices.Sorted(slices.Values(present)) {
		if ns, _, ok := strings.Cut(k, ":"); ok && ns == Namespace && !slices.Contains(known, k) {
			l.Add(fielderr.ErrUnknown, k, "unknown configuration key (known keys: %s)", strings.Join(known, ", "))
		}
	}
	c := &Config{}
	str := func(name string, field *string) {
		if v, ok := get(Key(name)); ok {
			*field = strings.TrimSpace(v)
		}
	}
	str(KeyPlatformStack, &c.PlatformStack)
	str(KeyAddress, &c.Address)
	str(KeyToken, &c.Token)
	str(KeyKubeconfig, &c.Kubeconfig)
	str(KeyKubernetesHost, &c.KubernetesHost)
	str(KeyRedisPassword, &c.RedisPassword)
	if raw, ok := get(Key(KeyPostgresPasswords)); ok && strings.TrimSpace(raw) != "" {
		dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c.PostgresPasswords); err != nil {
			l.Add(fielderr.ErrInvalid, Key(KeyPostgresPasswords), "must map connection names to passwords, such as {\"postgres\": \"...\"}: %v", err)
		}
		for _, name := range slices.Sorted(maps.Keys(c.PostgresPasswords)) {
			if c.PostgresPasswords[name] == "" {
				l.Add(fielderr.ErrRequired, Key(KeyPostgresPasswords)+"."+name, "is empty")
			}
		}
	}
	for _, name := range secretKeys {
		if v, ok := get(Key(name)); ok && !empty(v) && isSecret != nil && !isSecret(Key(name)) {
			l.Add(fielderr.ErrForbidden, Key(name), "is stored in plain text: set it with `pulumi config set --secret %s`", Key(name))
		}
	}
	if c.PlatformStack != "" && len(strings.Split(c.PlatformStack, "/")) != 3 {
		l.Add(fielderr.ErrInvalid, Key(KeyPlatformStack), "must be <organization>/<project>/<stack> such as \"organization/bulwark/prod\", got %q", c.PlatformStack)
	}
	if c.Address != "" {
		checkURL(&l, Key(KeyAddress), c.Address, "http", "https")
	}
	if c.KubernetesHost != "" {
		checkURL(&l, Key(KeyKubernetesHost), c.KubernetesHost, "https")
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func empty(v string) bool {
	v = strings.TrimSpace(v)
	return v == "" || v == "{}"
}

func checkURL(l *fielderr.List, key, v string, schemes ...string) {
	u, err := url.Parse(v)
	if err != nil || !slices.Contains(schemes, u.Scheme) || u.Hostname() == "" {
		l.Add(fielderr.ErrInvalid, key, "must be a %s URL, got %q", strings.Join(schemes, "/"), v)
	}
}

// keysFromEnv lists the configuration keys the Pulumi CLI passes to a
// program in PULUMI_CONFIG.
func keysFromEnv(raw string) ([]string, error) {
	if raw == "" {
		return []string{}, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("reading PULUMI_CONFIG: %w", err)
	}
	return slices.Sorted(maps.Keys(m)), nil
}
