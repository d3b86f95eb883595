package peers

import (
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/datastore"
	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// IdentityPeer names the identity provider in network policies, mesh
// objects and reports.
const IdentityPeer = "identity"

// ServiceEntry is an Istio ServiceEntry, as infra/secrets and the mesh
// policy component type it.
type ServiceEntry = kinds.Object[*networkingv1alpha3.ServiceEntry]

// IdentityPeerOf is the identity provider as the services reach it: the
// Keycloak operator's pods on their HTTPS port when Bulwark installs
// Keycloak, else the external provider's network and port.
func IdentityPeerOf(id *config.Identity) Peer {
	if id.Install {
		return Peer{Store: IdentityPeer, Name: IdentityPeer, Namespace: id.Namespace,
			PodLabels: id.KeycloakPodLabels(), Ports: []int{config.KeycloakHTTPSPort}}
	}
	return Peer{Store: IdentityPeer, Name: IdentityPeer, CIDR: id.External.CIDR, Ports: []int{id.External.Port}}
}

// identityPeers gives every service of the graph the identity provider.
// Every service validates tokens (its contract's OIDC_ISSUER: discovery
// and the JWKS, fetched by the service itself), and the services with an
// oauth-client secret also fetch client-credentials tokens from the token
// endpoint: the same address and port, so one peer per service covers
// both.
//
// The gateway needs none from Bulwark: Istio's RequestAuthentication has
// istiod fetch the JWKS and push the keys to the gateway's Envoy inline
// (PILOT_JWT_ENABLE_REMOTE_JWKS is false by default), so the fetch leaves
// istio-system, not the gateway's namespace, and from istiod, which has no
// sidecar: neither a ServiceEntry nor a NetworkPolicy of the application
// namespaces applies to it. Bulwark compiles no NetworkPolicy for
// istio-system or the gateway's namespace (only application namespaces
// are default-deny), so nothing of Bulwark's stands in that fetch's way;
// a cluster that confines istio-system's egress must let istiod reach the
// issuer's host and port.
func identityPeers(cfg *config.Config) map[string][]Peer {
	p := IdentityPeerOf(&cfg.Identity)
	out := map[string][]Peer{}
	for _, s := range cfg.Graph.Services {
		out[s.Name] = []Peer{p}
	}
	return out
}

// IdentityServiceEntries tell each application namespace's sidecars
// where the issuer's host is, one entry per namespace, exported there
// only. The services dial the issuer (discovery, JWKS, tokens), whatever
// runs it:
//
//   - Keycloak in the cluster: the issuer's host on its port goes to the
//     operator's Service on 8443, in every mesh mode: TLS passed through
//     and routed by SNI, MESH_EXTERNAL because Keycloak's pods carry no
//     sidecar (its namespace is not injected), so no mTLS is attempted. Without it a request for the
//     public name would leave for the load balancer and come back through
//     the gateway, which the services' egress (Keycloak's pods only) does
//     not allow. The name must resolve in the cluster to some address (its
//     public one will do: the sidecar routes by SNI, not by address).
//   - An external provider in a REGISTRY_ONLY mesh: the issuer's host is
//     registered (MESH_EXTERNAL), or the sidecars refuse it and every
//     service refuses every request. ALLOW_ANY meshes need nothing.
func IdentityServiceEntries(cfg *config.Config) []ServiceEntry {
	id := cfg.Identity
	if len(cfg.Graph.Services) == 0 {
		return nil
	}
	if id.Install {
		host, port := id.IssuerHostPort()
		spec := func() *networkingv1alpha3.ServiceEntry {
			return &networkingv1alpha3.ServiceEntry{
				Hosts:      []string{host},
				Location:   networkingv1alpha3.ServiceEntry_MESH_EXTERNAL,
				Resolution: networkingv1alpha3.ServiceEntry_DNS,
				Ports: []*networkingv1alpha3.ServicePort{{Number: uint32(port), Name: "tls-" + IdentityPeer, Protocol: "TLS",
					TargetPort: uint32(config.KeycloakHTTPSPort)}},
				Endpoints: []*networkingv1alpha3.WorkloadEntry{{Address: id.KeycloakServiceHost()}},
				ExportTo:  []string{"."},
			}
		}
		var out []ServiceEntry
		for _, ns := range cfg.Graph.Namespaces() {
			out = append(out, kinds.ServiceEntry.Of(IdentityPeer+"-keycloak", ns, map[string]string{naming.PeerLabel: IdentityPeer}, spec()))
		}
		return out
	}
	if !cfg.Mesh.RegistryOnly() {
		return nil
	}
	// The sidecar matches the services' requests by the issuer's name (the
	// TLS SNI).
	host, _ := id.IssuerHostPort()
	var out []ServiceEntry
	for _, ns := range cfg.Graph.Namespaces() {
		out = append(out, kinds.ServiceEntry.Of(IdentityPeer+"-external", ns, map[string]string{naming.PeerLabel: IdentityPeer},
			datastore.ExternalServiceEntry(id.External, host, IdentityPeer)))
	}
	return out
}
