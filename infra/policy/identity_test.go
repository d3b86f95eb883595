package policy

import (
	"maps"
	"slices"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/infra/identity"
	"github.com/bulwark-platform/bulwark/infra/peers"
	"github.com/bulwark-platform/bulwark/infra/podconfig"
	"github.com/bulwark-platform/bulwark/infra/secrets"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// tokenValidators are the services whose pods are given an issuer to
// validate tokens against (OIDC_ISSUER, from their contract), and the
// ones that fetch client-credentials tokens (an oauth-client secret): the
// services that must reach the identity provider.
func tokenValidators(t *testing.T, cfg *config.Config) []string {
	t.Helper()
	id, err := identity.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := secrets.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range podconfig.Compile(cfg, id, sec) {
		s := cfg.Graph.Service(p.Service)
		fetches := slices.ContainsFunc(s.Secrets, func(sec graph.Secret) bool { return sec.Name == graph.OAuthClientSecret })
		if p.Env["OIDC_ISSUER"] != "" || fetches {
			out = append(out, p.Service)
		}
	}
	return out
}

// reachesIdentity says whether some egress rule of the service's own
// namespace, selecting its pods, lets them open a connection to the
// identity provider on its port: its pods (namespace and labels) or its
// network.
func reachesIdentity(set Set, svc *graph.Service, idp peers.Peer) bool {
	for _, np := range set.NetworkPolicies {
		if np.Namespace != svc.Namespace || !maps.Equal(np.Spec.PodSelector.MatchLabels, naming.SelectorLabels(svc.Name)) {
			continue
		}
		for _, rule := range np.Spec.Egress {
			port := slices.ContainsFunc(rule.Ports, func(p networkingv1.NetworkPolicyPort) bool {
				return p.Port != nil && slices.Contains(idp.Ports, p.Port.IntValue())
			})
			to := slices.ContainsFunc(rule.To, func(p networkingv1.NetworkPolicyPeer) bool {
				if !idp.InCluster() {
					return p.IPBlock != nil && p.IPBlock.CIDR == idp.CIDR
				}
				return p.NamespaceSelector != nil && p.PodSelector != nil &&
					p.NamespaceSelector.MatchLabels[naming.NamespaceNameLabel] == idp.Namespace &&
					maps.Equal(p.PodSelector.MatchLabels, idp.PodLabels)
			})
			if port && to {
				return true
			}
		}
	}
	return false
}

// lackingIdentity lists the token-validating services whose compiled
// egress does not reach the identity provider.
func lackingIdentity(t *testing.T, cfg *config.Config, set Set) []string {
	t.Helper()
	idp := peers.IdentityPeerOf(&cfg.Identity)
	var out []string
	for _, name := range tokenValidators(t, cfg) {
		if !reachesIdentity(set, cfg.Graph.Service(name), idp) {
			out = append(out, name)
		}
	}
	return out
}

// On a cluster whose CNI enforces the default deny, a service that can't
// reach the provider can fetch neither the JWKS nor a token and refuses
// every request: every service that validates or fetches tokens has the
// provider as a peer, in every environment, in the cluster or outside.
func TestEveryTokenValidatorReachesTheIdentityProvider(t *testing.T) {
	for _, env := range config.Environments {
		cfg, set := compileEnv(t, env)
		if len(tokenValidators(t, cfg)) != len(cfg.Graph.Services) {
			t.Errorf("%s: token validators %v, want every service", env, tokenValidators(t, cfg))
		}
		if lacking := lackingIdentity(t, cfg, set); len(lacking) > 0 {
			t.Errorf("%s: %v validate tokens but can't reach the identity provider", env, lacking)
		}
	}
	t.Run("an external provider", func(t *testing.T) {
		cfg := config.Defaults(config.Prod)
		cfg.Identity.Install = false
		cfg.Identity.External = config.External{Host: "10.50.0.4", Port: 443, CIDR: "10.50.0.0/28", TLS: true}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		if lacking := lackingIdentity(t, cfg, Compile(&cfg.Graph, cfg.Mesh, peers.Of(cfg))); len(lacking) > 0 {
			t.Errorf("%v can't reach the external provider", lacking)
		}
	})
}

// The check above is not vacuous: the provider peer taken from one
// service fails it for exactly that service.
func TestAServiceWithoutTheIdentityPeerIsCaught(t *testing.T) {
	for _, env := range []config.Environment{config.CI, config.Prod} {
		cfg := config.Defaults(env)
		for _, victim := range cfg.Graph.Services {
			ps := peers.Of(cfg)
			ps[victim.Name] = slices.DeleteFunc(ps[victim.Name], func(p peers.Peer) bool { return p.Store == peers.IdentityPeer })
			lacking := lackingIdentity(t, cfg, Compile(&cfg.Graph, cfg.Mesh, ps))
			if !slices.Equal(lacking, []string{victim.Name}) {
				t.Errorf("%s: without %s's identity peer the check reports %v", env, victim.Name, lacking)
			}
		}
	}
}

// REGISTRY_ONLY meshes refuse hosts they don't know: an external provider
// gets one ServiceEntry per application namespace, exported there only,
// naming the issuer's host on its port; an external provider in an
// ALLOW_ANY mesh gets none.
func TestAnExternalProviderIsRegisteredWithARegistryOnlyMesh(t *testing.T) {
	for _, env := range []config.Environment{config.Local, config.CI} {
		if got := peers.IdentityServiceEntries(config.Defaults(env)); len(got) != 0 {
			t.Errorf("%s (an external provider, ALLOW_ANY mesh): %d ServiceEntries", env, len(got))
		}
	}
	for _, tc := range []struct {
		name, host, cidr string
		static           bool
	}{
		{"by name", "id.staging.bulwark.example.com", "203.0.113.0/24", false},
		{"by address", "10.50.0.4", "10.50.0.4/32", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Defaults(config.Staging)
			cfg.Identity.Install = false
			cfg.Identity.External = config.External{Host: tc.host, Port: 443, CIDR: tc.cidr, TLS: true}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			ses := peers.IdentityServiceEntries(cfg)
			var nss []string
			for _, se := range ses {
				nss = append(nss, se.Namespace)
				s := se.Spec
				if !slices.Equal(s.GetHosts(), []string{"id.staging.bulwark.example.com"}) || !slices.Equal(s.GetExportTo(), []string{"."}) ||
					s.GetLocation().String() != "MESH_EXTERNAL" || len(s.GetPorts()) != 1 || s.GetPorts()[0].GetNumber() != 443 || s.GetPorts()[0].GetProtocol() != "TLS" {
					t.Errorf("%s/%s: %v", se.Namespace, se.Name, s)
				}
				if static := s.GetResolution().String() == "STATIC"; static != tc.static || (static && (s.GetEndpoints()[0].GetAddress() != tc.host || !slices.Equal(s.GetAddresses(), []string{tc.cidr}))) {
					t.Errorf("%s/%s: resolution %s, endpoints %v", se.Namespace, se.Name, s.GetResolution(), s.GetEndpoints())
				}
				if se.Labels[PeerLabel] != peers.IdentityPeer {
					t.Errorf("%s/%s: labels %v", se.Namespace, se.Name, se.Labels)
				}
			}
			if !slices.Equal(nss, cfg.Graph.Namespaces()) {
				t.Errorf("ServiceEntries in %v, want %v", nss, cfg.Graph.Namespaces())
			}
		})
	}
}

// With Keycloak in the cluster the issuer's public host, on its port, is
// Keycloak's Service on 8443 for every application namespace's sidecars,
// in every mesh mode: the services' egress allows Keycloak's pods, not
// the load balancer the public name leads to.
func TestTheIssuerHostLeadsToAnInstalledKeycloak(t *testing.T) {
	for _, env := range []config.Environment{config.Dev, config.Staging, config.Prod} {
		cfg := config.Defaults(env)
		ses := peers.IdentityServiceEntries(cfg)
		host, port := cfg.Identity.IssuerHostPort()
		var nss []string
		for _, se := range ses {
			nss = append(nss, se.Namespace)
			s := se.Spec
			ok := slices.Equal(s.GetHosts(), []string{host}) && s.GetLocation().String() == "MESH_EXTERNAL" &&
				slices.Equal(s.GetExportTo(), []string{"."}) && len(s.GetPorts()) == 1 &&
				s.GetPorts()[0].GetNumber() == uint32(port) && s.GetPorts()[0].GetTargetPort() == config.KeycloakHTTPSPort &&
				s.GetPorts()[0].GetProtocol() == "TLS" && len(s.GetEndpoints()) == 1 &&
				s.GetEndpoints()[0].GetAddress() == "keycloak-service.identity.svc.cluster.local"
			if !ok {
				t.Errorf("%s %s/%s: %v", env, se.Namespace, se.Name, s)
			}
		}
		if !slices.Equal(nss, cfg.Graph.Namespaces()) {
			t.Errorf("%s: ServiceEntries in %v, want %v", env, nss, cfg.Graph.Namespaces())
		}
	}
}
