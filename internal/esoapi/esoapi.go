// Package esoapi holds the External Secrets Operator's external-secrets.io/v1
// spec types for the fields Bulwark sets, with the upstream JSON names.
//
// Why not the upstream package: github.com/external-secrets/external-secrets
// (v0.16 to v0.19, the versions the module proxy serves) keeps its API types
// in its main module, whose apis/externalsecrets/v1 package registers
// webhooks against controller-runtime v0.21; this module needs v0.24 for
// CloudNativePG's API, and the two don't compile together. So these few
// types mirror upstream's field for field (names, JSON tags, optionality),
// and what keeps them honest is the real thing: the local cluster installs
// the pinned operator's CRDs (deploy/crds/bundle.yaml of v0.16.2), whose
// schemas the API server validates every object against, and runs the
// real controller, which must sync every ExternalSecret the stack creates.
package esoapi

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// SecretStoreSpec is a SecretStore's spec.
type SecretStoreSpec struct {
	Provider *SecretStoreProvider `json:"provider"`
	// RefreshInterval is how often the store's readiness is checked, in
	// seconds.
	RefreshInterval int `json:"refreshInterval,omitempty"`
}

// SecretStoreProvider selects the provider; Bulwark uses Vault only.
type SecretStoreProvider struct {
	Vault *VaultProvider `json:"vault,omitempty"`
}

// VaultProvider reads a Vault (or OpenBao) KV store.
type VaultProvider struct {
	Auth *VaultAuth `json:"auth,omitempty"`
	// Server is Vault's URL.
	Server string `json:"server"`
	// Path is the KV mount.
	Path *string `json:"path,omitempty"`
	// Version of the KV engine: "v1" or "v2".
	Version string `json:"version"`
	// CAProvider names the Secret or ConfigMap holding the CA that signed
	// Vault's certificate.
	CAProvider *CAProvider `json:"caProvider,omitempty"`
}

// VaultAuth is how the controller logs in; Bulwark uses Kubernetes auth.
type VaultAuth struct {
	Kubernetes *VaultKubernetesAuth `json:"kubernetes,omitempty"`
}

// VaultKubernetesAuth logs in with a service account's token.
type VaultKubernetesAuth struct {
	// Path is the auth method's mount path (without "auth/").
	Path string `json:"mountPath"`
	// ServiceAccountRef is the account whose token (requested through the
	// TokenRequest API with the given audiences) logs in.
	ServiceAccountRef *ServiceAccountSelector `json:"serviceAccountRef,omitempty"`
	// Role is the auth method's role.
	Role string `json:"role"`
}

// ServiceAccountSelector names a service account and the token's audiences.
type ServiceAccountSelector struct {
	Name      string   `json:"name"`
	Audiences []string `json:"audiences,omitempty"`
}

// CAProvider is where a CA certificate is read from.
type CAProvider struct {
	// Type is "Secret" or "ConfigMap".
	Type string `json:"type"`
	Name string `json:"name"`
	Key  string `json:"key,omitempty"`
}

// ExternalSecretSpec is an ExternalSecret's spec.
type ExternalSecretSpec struct {
	SecretStoreRef SecretStoreRef       `json:"secretStoreRef,omitempty"`
	Target         ExternalSecretTarget `json:"target,omitempty"`
	// RefreshInterval is how often the value is read again ("1h"; 0 never).
	RefreshInterval *metav1.Duration     `json:"refreshInterval,omitempty"`
	Data            []ExternalSecretData `json:"data,omitempty"`
}

// SecretStoreRef names the store to read from.
type SecretStoreRef struct {
	Name string `json:"name,omitempty"`
	// Kind is "SecretStore" or "ClusterSecretStore".
	Kind string `json:"kind,omitempty"`
}

// ExternalSecretTarget is the Kubernetes Secret the controller writes.
type ExternalSecretTarget struct {
	Name string `json:"name,omitempty"`
	// CreationPolicy "Owner": the ExternalSecret owns the Secret, which
	// goes when it goes.
	CreationPolicy string `json:"creationPolicy,omitempty"`
	// DeletionPolicy "Retain": a value deleted from Vault leaves the last
	// one in the Secret rather than breaking the pods that read it.
	DeletionPolicy string                  `json:"deletionPolicy,omitempty"`
	Template       *ExternalSecretTemplate `json:"template,omitempty"`
}

// ExternalSecretTemplate shapes the written Secret.
type ExternalSecretTemplate struct {
	Type     string                         `json:"type,omitempty"`
	Metadata ExternalSecretTemplateMetadata `json:"metadata,omitempty"`
}

// ExternalSecretTemplateMetadata is the written Secret's metadata.
type ExternalSecretTemplateMetadata struct {
	Labels map[string]string `json:"labels,omitempty"`
}

// ExternalSecretData is one key of the Secret and where its value is.
type ExternalSecretData struct {
	SecretKey string                      `json:"secretKey"`
	RemoteRef ExternalSecretDataRemoteRef `json:"remoteRef"`
}

// ExternalSecretDataRemoteRef is a value in the store: the secret's path
// under the KV mount and the property (key) within it.
type ExternalSecretDataRemoteRef struct {
	Key      string `json:"key"`
	Property string `json:"property,omitempty"`
}

// Fixed values of the enumerations Bulwark uses.
const (
	KindSecretStore      = "SecretStore"
	CreationPolicyOwner  = "Owner"
	DeletionPolicyRetain = "Retain"
	KVVersion2           = "v2"
	CAProviderSecret     = "Secret"
)
