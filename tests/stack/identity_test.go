package stack

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bulwark-platform/bulwark/components/edge"
	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/identity"
	"github.com/bulwark-platform/bulwark/infra/program"
	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/testkit/golden"
)

// Every stack's Keycloak resource and realm import are accepted by the
// real API server against the Keycloak operator's 26.0.0 CRDs (installed by
// the local cluster from ../shared/vendor/keycloak-operator-26.0.0) and
// come back unchanged: the CRDs' structural schemas prune every field the
// operator does not know, so a misspelt or misplaced realm field fails
// here. No operator runs (it is a Java program in a container): whether
// Keycloak imports the realm is proven for the same model by the Hydra
// flows (services/identityflows), not here.
func (s *stack) keycloakObjectsAreAccepted(t *testing.T) {
	require.FileExists(t, filepath.Join(s.opts.CRDDir, "keycloak.yaml"), "`make tools` installs the Keycloak operator's CRDs from ../shared/vendor")
	for _, st := range golden.Stacks {
		t.Run(st, func(t *testing.T) {
			cfg, err := config.LoadStack(filepath.Join("..", ".."), st)
			require.NoError(t, err)
			m, err := identity.Compile(cfg)
			require.NoError(t, err)
			set, err := identity.Keycloak(m, cfg)
			require.NoError(t, err)
			ns := "identity-" + st
			_, err = s.cs.CoreV1().Namespaces().Create(s.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.cs.CoreV1().Namespaces().Delete(s.ctx, ns, metav1.DeleteOptions{}) })
			server := apply(t, s, kinds.Keycloak, set.Server, ns)
			sameSpec(t, "Keycloak "+set.Server.Name, set.Server.Spec, server.Spec)
			realm := apply(t, s, kinds.KeycloakRealmImport, set.RealmImport, ns)
			sameSpec(t, "KeycloakRealmImport "+set.RealmImport.Name, set.RealmImport.Spec, realm.Spec)
			// What the checks above rest on, read back: the clients and
			// their secrets as placeholders.
			require.NotNil(t, realm.Spec.Realm.Clients)
			assert.Len(t, *realm.Spec.Realm.Clients, 1+len(cfg.Graph.Services), "the browser client and one per service")
			assert.Len(t, realm.Spec.Placeholders, len(cfg.Graph.Services))
			// Where Keycloak is installed, the edge's route to it and the
			// gateway's TLS to it are valid Istio objects too.
			if route := program.IdentityRoute(cfg); route != nil {
				a := &edge.Args{Namespace: ns, Identity: route}
				vs := kinds.VirtualService.Of(edge.IdentityName, ns, nil, edge.IdentityVirtualService(a))
				gotVS := apply(t, s, kinds.VirtualService, vs, ns)
				sameSpec(t, "VirtualService identity", vs.Spec, gotVS.Spec)
				dr := kinds.DestinationRule.Of(edge.IdentityName, ns, nil, edge.IdentityDestinationRule(a))
				gotDR := apply(t, s, kinds.DestinationRule, dr, ns)
				sameSpec(t, "DestinationRule identity", dr.Spec, gotDR.Spec)
			}
		})
	}
}
