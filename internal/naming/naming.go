// Package naming holds the names and labels that more than one part of the
// platform must agree on: the labels that select a service's pods (its
// Deployment, Service, PDB, every NetworkPolicy and AuthorizationPolicy
// use them), the labels that tie a compiled policy object to its origin,
// and the fixed names of objects one component creates and another refers
// to. The compilers in infra/ and the components both import it; neither
// imports the other for a name.
package naming

// Labels that tie each compiled object to its origin, so a report or a
// test can trace every allow back to one graph edge or platform peer.
const (
	EdgeLabel = "bulwark.dev/edge"
	PeerLabel = "bulwark.dev/peer"
	RuleLabel = "bulwark.dev/rule"
	// EnvironmentLabel is on every object of a stack.
	EnvironmentLabel = "bulwark.dev/environment"
	// ServiceLabel names the service an object belongs to (its database,
	// its ExternalSecrets).
	ServiceLabel = "bulwark.dev/service"
)

// Standard labels.
const (
	NameLabel      = "app.kubernetes.io/name"
	InstanceLabel  = "app.kubernetes.io/instance"
	PartOfLabel    = "app.kubernetes.io/part-of"
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// NamespaceNameLabel is set by the API server on every namespace.
	NamespaceNameLabel = "kubernetes.io/metadata.name"
	// PartOf is the value of PartOfLabel on everything Bulwark creates.
	PartOf = "bulwark"
)

// SelectorLabels select a service's pods.
func SelectorLabels(service string) map[string]string {
	return map[string]string{NameLabel: service, InstanceLabel: service}
}

// Fixed names of the certificate chain and the gateway's TLS secret.
const (
	// CAIssuer is the ClusterIssuer of the private CA.
	CAIssuer = "bulwark-ca"
	// BootstrapIssuer self-signs the root CA.
	BootstrapIssuer = "bulwark-selfsigned"
	// RootCASecret holds the root CA's certificate and key.
	RootCASecret = "bulwark-root-ca"
	// GatewayCertificate and GatewayCertificateSecret are the ingress
	// gateway's certificate and the TLS secret cert-manager fills.
	GatewayCertificate       = "bulwark-gateway"
	GatewayCertificateSecret = "bulwark-gateway-tls"
	// TrustBundle is, in each application namespace, the Certificate (and
	// its Secret) whose ca.crt is the private CA's root: what pods and the
	// secret store verify the stores' and Vault's certificates with.
	TrustBundle = "bulwark-trust"
)

// EdgeID names a graph edge: caller and callee as name.namespace.
func EdgeID(fromName, fromNamespace, toName, toNamespace string) string {
	return fromName + "." + fromNamespace + "-to-" + toName + "." + toNamespace
}
