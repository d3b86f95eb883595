package config

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bulwark-platform/bulwark/internal/fielderr"
)

// Vault is the secrets store the platform installs or uses, and how the
// Vault layer configures it.
type Vault struct {
	// Distribution is "openbao" or "vault" (HashiCorp Vault): the chart and
	// image install.vault uses, and the agent injector's annotation prefix.
	// Both speak the same API.
	Distribution string `json:"distribution"`
	// Mode is "dev" (one in-memory, unsealed server with a root token:
	// local and ci only) or "ha" (integrated raft storage, TLS, audit).
	Mode     string `json:"mode"`
	Replicas int    `json:"replicas"`
	// Namespace of the installed Vault.
	Namespace string `json:"namespace"`
	// Storage is each raft peer's volume (ha).
	Storage Storage `json:"storage"`
	// External is the Vault to use when install.vault is false: a shared or
	// managed Vault. Port 0 on local and ci means the local cluster's
	// OpenBao, handed over by the runner.
	External External `json:"external"`
	// PathPrefix is where the Vault layer mounts its KV store, Kubernetes
	// auth method and database engine, and what its policy names start
	// with, so that one Vault can serve several clusters and environments.
	PathPrefix string `json:"pathPrefix"`
	// Kubernetes is how Vault's Kubernetes auth method reaches and trusts
	// the cluster.
	Kubernetes VaultKubernetes `json:"kubernetes"`
	// Token bounds the Vault tokens a service account's login gets.
	Token TTLs `json:"token"`
	// Database bounds the services' dynamic PostgreSQL credentials.
	Database TTLs `json:"database"`
	// Audit turns on the installed Vault's file audit device (to stdout,
	// where the cluster's log pipeline keeps it).
	Audit bool `json:"audit"`
}

// VaultKubernetes is the cluster as Vault's Kubernetes auth method sees it.
type VaultKubernetes struct {
	// Host is the API server's URL as Vault reaches it: the in-cluster
	// Service for a Vault in the cluster, the cluster's endpoint for one
	// outside. Empty on local and ci: the runner hands the local cluster's
	// over.
	Host string `json:"host"`
	// Issuer of the cluster's service-account tokens, checked at login.
	// Empty on local and ci: handed over with the host.
	Issuer string `json:"issuer"`
	// Audience every login token must carry. Pods request projected tokens
	// for it, so the token a pod could use against the Kubernetes API can't
	// log in to Vault, and a Vault token can't be replayed against the API.
	Audience string `json:"audience"`
}

// TTLs are a lease's default and maximum lifetime.
type TTLs struct {
	TTL    time.Duration `json:"ttl"`
	MaxTTL time.Duration `json:"maxTTL"`
}

// ExternalSecrets configures the External Secrets Operator.
type ExternalSecrets struct {
	// Namespace of the installed operator.
	Namespace string `json:"namespace"`
	// RefreshInterval is how often each ExternalSecret is read from Vault
	// again: the longest a rotated static secret takes to reach its
	// Kubernetes Secret.
	RefreshInterval time.Duration `json:"refreshInterval"`
}

// Allowed Vault settings.
var (
	VaultDistributions = []string{"openbao", "vault"}
	VaultModes         = []string{"dev", "ha"}
	pathPrefixRe       = regexp.MustCompile(`^[a-z0-9]([-_a-z0-9]*[a-z0-9])?(/[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*$`)
)

// Lifetime bounds. A Vault token or database credential that outlives a
// day is a standing credential, which is what Vault is here to end.
const (
	MinLeaseTTL = 10 * time.Second
	MaxLeaseTTL = 24 * time.Hour
)

// ExternalAddress is the external Vault's URL.
func (v *Vault) ExternalAddress() string {
	scheme := "http"
	if v.External.TLS {
		scheme = "https"
	}
	return scheme + "://" + v.External.Address()
}

func (v *Vault) validate(env Environment, install bool, bad badFunc) {
	local := env == Local || env == CI
	if !slices.Contains(VaultDistributions, v.Distribution) {
		bad(fielderr.ErrUnsupported, "vault.distribution", "%q is not one of %s", v.Distribution, strings.Join(VaultDistributions, ", "))
	}
	if !slices.Contains(VaultModes, v.Mode) {
		bad(fielderr.ErrUnsupported, "vault.mode", "%q is not one of %s", v.Mode, strings.Join(VaultModes, ", "))
	}
	switch {
	case v.Mode == "dev" && v.Replicas != 1:
		bad(fielderr.ErrOutOfRange, "vault.replicas", "dev mode runs exactly 1 replica, got %d", v.Replicas)
	case v.Mode == "ha" && (v.Replicas < 3 || v.Replicas%2 == 0):
		bad(fielderr.ErrOutOfRange, "vault.replicas", "ha mode (raft) needs an odd number of at least 3 replicas, got %d", v.Replicas)
	}
	if v.Mode == "dev" && !local {
		bad(fielderr.ErrForbidden, "vault.mode", "dev mode keeps secrets in memory, unsealed, behind a root token: local and ci only, not %s", env)
	}
	if install {
		if len(validation.IsDNS1123Label(v.Namespace)) > 0 {
			bad(fielderr.ErrInvalid, "vault.namespace", "%q is not a DNS-1123 label", v.Namespace)
		}
		if v.Mode == "ha" {
			quantity(bad, "vault.storage.size", v.Storage.Size)
		}
	} else {
		v.External.validate(env, "vault.external", bad)
	}
	if !pathPrefixRe.MatchString(v.PathPrefix) {
		bad(fielderr.ErrInvalid, "vault.pathPrefix", "%q is not a Vault path of lower-case segments such as \"bulwark/prod\"", v.PathPrefix)
	}
	k := v.Kubernetes
	switch u, err := url.Parse(k.Host); {
	case k.Host == "" && local && !install:
		// The runner hands the local cluster's API server over.
	case err != nil || u.Scheme != "https" || u.Host == "":
		bad(fielderr.ErrInvalid, "vault.kubernetes.host", "must be the API server's https URL as Vault reaches it, got %q", k.Host)
	}
	if k.Issuer == "" && !(local && !install) {
		bad(fielderr.ErrRequired, "vault.kubernetes.issuer", "must name the cluster's service-account token issuer (kubectl get --raw /.well-known/openid-configuration)")
	}
	if strings.TrimSpace(k.Audience) == "" || strings.ContainsAny(k.Audience, " \t,") {
		bad(fielderr.ErrInvalid, "vault.kubernetes.audience", "must be one audience such as \"vault\", got %q", k.Audience)
	}
	ttls(bad, "vault.token", v.Token)
	ttls(bad, "vault.database", v.Database)
}

// ttls checks MinLeaseTTL <= ttl <= maxTTL <= MaxLeaseTTL.
func ttls(bad badFunc, path string, t TTLs) {
	switch {
	case t.TTL < MinLeaseTTL:
		bad(fielderr.ErrOutOfRange, path+".ttl", "must be at least %s, got %s", MinLeaseTTL, t.TTL)
	case t.MaxTTL > MaxLeaseTTL:
		bad(fielderr.ErrOutOfRange, path+".maxTTL", "%s is above the maximum of %s", shortDuration(t.MaxTTL), shortDuration(MaxLeaseTTL))
	case t.TTL > t.MaxTTL:
		bad(fielderr.ErrConflict, path+".ttl", "%s exceeds maxTTL %s", shortDuration(t.TTL), shortDuration(t.MaxTTL))
	}
}

func (e *ExternalSecrets) validate(install bool, bad badFunc) {
	if install && len(validation.IsDNS1123Label(e.Namespace)) > 0 {
		bad(fielderr.ErrInvalid, "externalSecrets.namespace", "%q is not a DNS-1123 label", e.Namespace)
	}
	if e.RefreshInterval < 5*time.Second || e.RefreshInterval > MaxLeaseTTL {
		bad(fielderr.ErrOutOfRange, "externalSecrets.refreshInterval", "must be between 5s and 24h, got %s", e.RefreshInterval)
	}
}
