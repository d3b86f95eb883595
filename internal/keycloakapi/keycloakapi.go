// Package keycloakapi holds the Keycloak operator's k8s.keycloak.org/v2alpha1
// spec types for the fields Bulwark sets, with the operator's JSON names.
//
// Why a mirror: the operator is a Java (Quarkus) project and publishes no Go
// API package; its CRDs are generated from Java classes. The realm itself is
// not mirrored here: a KeycloakRealmImport's realm is Keycloak's
// RealmRepresentation, for which gocloak (github.com/Nerzal/gocloak), the
// field's Go client, has the types. What keeps these few types honest is the
// real API server: the stack check installs the operator's 26.0.0 CRDs (read
// from ../shared/vendor/keycloak-operator-26.0.0, never copied here), creates
// each stack's objects against their structural schemas, which prune any
// field the operator does not know, and reads them back unchanged.
package keycloakapi

import (
	"github.com/Nerzal/gocloak/v13"
	corev1 "k8s.io/api/core/v1"
)

// OperatorVersion is the Keycloak operator release the platform installs
// (its manifests and CRDs) and the Keycloak server image it runs.
const OperatorVersion = "26.0.0"

// KeycloakSpec is a Keycloak resource's spec.
type KeycloakSpec struct {
	// Instances is the number of Keycloak pods (a StatefulSet the
	// operator owns; they form one Infinispan cluster).
	Instances int `json:"instances"`
	// Image overrides the operator's default server image; empty uses the
	// one the operator release pins.
	Image    string    `json:"image,omitempty"`
	DB       *DB       `json:"db,omitempty"`
	HTTP     *HTTP     `json:"http,omitempty"`
	Hostname *Hostname `json:"hostname,omitempty"`
	Proxy    *Proxy    `json:"proxy,omitempty"`
	// Ingress: the operator's own Ingress is off; the platform's gateway
	// routes to the Keycloak Service.
	Ingress *Ingress `json:"ingress,omitempty"`
	// Resources are the Keycloak container's requests and limits
	// (Kubernetes' own type, as the CRD's schema is).
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
	// AdditionalOptions are Keycloak server options
	// (https://www.keycloak.org/server/all-config).
	AdditionalOptions []Option `json:"additionalOptions,omitempty"`
}

// DB is Keycloak's database.
type DB struct {
	Vendor         string        `json:"vendor"`
	Host           string        `json:"host"`
	Port           int           `json:"port"`
	Database       string        `json:"database"`
	UsernameSecret *SecretKeyRef `json:"usernameSecret"`
	PasswordSecret *SecretKeyRef `json:"passwordSecret"`
	PoolMaxSize    int           `json:"poolMaxSize,omitempty"`
}

// SecretKeyRef names a key of a Secret in the resource's namespace.
type SecretKeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// HTTP is how Keycloak serves: HTTPS only, with the certificate in
// TLSSecret (a kubernetes.io/tls Secret).
type HTTP struct {
	HTTPEnabled bool   `json:"httpEnabled"`
	HTTPSPort   int    `json:"httpsPort,omitempty"`
	TLSSecret   string `json:"tlsSecret"`
}

// Hostname is the public name Keycloak builds its URLs (and the tokens'
// iss) from.
type Hostname struct {
	Hostname string `json:"hostname"`
	Strict   bool   `json:"strict"`
	// BackchannelDynamic lets pods reach Keycloak by its Service name
	// while the issuer stays the public hostname.
	BackchannelDynamic bool `json:"backchannelDynamic"`
}

// Proxy says which forwarding headers Keycloak trusts ("xforwarded" behind
// the mesh's gateway).
type Proxy struct {
	Headers string `json:"headers"`
}

// Ingress switches the operator's Ingress.
type Ingress struct {
	Enabled bool `json:"enabled"`
}

// Option is one server option.
type Option struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// RealmImportSpec is a KeycloakRealmImport's spec: the realm the operator
// imports into the Keycloak resource KeycloakCRName (by a Job that runs
// once; a realm that exists is left alone).
type RealmImportSpec struct {
	KeycloakCRName string                      `json:"keycloakCRName"`
	Realm          gocloak.RealmRepresentation `json:"realm"`
	// Placeholders replace ${NAME} in the realm with a Secret's key (in
	// the import's namespace) when the import runs: how client secrets
	// reach Keycloak without being written in the resource.
	Placeholders map[string]Placeholder `json:"placeholders,omitempty"`
}

// Placeholder is one value of a realm import's placeholders.
type Placeholder struct {
	Secret SecretKeyRef `json:"secret"`
}
