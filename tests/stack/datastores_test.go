package stack

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bulwark-platform/bulwark/components/pki"
	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/datastore"
	"github.com/bulwark-platform/bulwark/infra/identity"
	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// apply creates an object of kind k in namespace, reads it back through the
// kind registry and returns what the API server holds.
func apply[S any](t *testing.T, s *stack, k kinds.Kind[S], o kinds.Object[S], namespace string) kinds.Object[S] {
	t.Helper()
	o.Namespace = namespace
	m, err := k.Manifest(o)
	require.NoError(t, err)
	_, err = s.dyn.Resource(k.GVR()).Namespace(namespace).Create(s.ctx, &unstructured.Unstructured{Object: m}, metav1.CreateOptions{})
	require.NoError(t, err, "%s %s refused by the API server", k.Kind, o.ID())
	return get(t, s, k, namespace, o.Name)
}

// sameSpec checks that every field of want comes back from the API server
// unchanged; the server may add its schema's defaults (CNPG's logLevel,
// a role's connectionLimit, ...).
func sameSpec(t *testing.T, what string, want, got any) {
	t.Helper()
	var w, g any
	for _, v := range []struct {
		from any
		into *any
	}{{want, &w}, {got, &g}} {
		raw, err := json.Marshal(v.from)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, v.into))
	}
	assert.Empty(t, changed("spec", w, g), "%s changed on its way through the API server", what)
}

// changed lists the paths where got does not hold what want sets.
func changed(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{path + ": not an object"}
		}
		var out []string
		for k, v := range w {
			out = append(out, changed(path+"."+k, v, g[k])...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: %v became %v", path, want, got)}
		}
		var out []string
		for i := range w {
			out = append(out, changed(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return out
	default:
		if fmt.Sprint(want) != fmt.Sprint(got) {
			return []string{fmt.Sprintf("%s: %v became %v", path, want, got)}
		}
		return nil
	}
}

// The CloudNativePG objects the installing stacks (dev, staging, prod)
// compile are accepted by the real API server against the CRDs of the
// pinned CloudNativePG module and come back unchanged; the stores' generated
// secrets and server certificates are valid objects too. (The Valkey chart's
// values are not API objects; its install is checked under mocks.)
func (s *stack) dataStoresAreAccepted(t *testing.T) {
	for _, stack := range []string{"dev", "staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			cfg, err := config.LoadStack(filepath.Join("..", ".."), stack)
			require.NoError(t, err)
			set, err := datastore.Compile(&cfg.Graph, cfg.Data, identity.PlatformDatabases(cfg)...)
			require.NoError(t, err)
			require.NotNil(t, set.Postgres)
			ns := "stores-" + stack
			_, err = s.cs.CoreV1().Namespaces().Create(s.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.cs.CoreV1().Namespaces().Delete(s.ctx, ns, metav1.DeleteOptions{}) })
			for _, c := range set.Postgres.Clusters {
				got := apply(t, s, kinds.PostgresCluster, c, ns)
				sameSpec(t, "Cluster "+c.Name, c.Spec, got.Spec)
			}
			for _, db := range set.Postgres.Databases {
				got := apply(t, s, kinds.PostgresDatabase, db, ns)
				sameSpec(t, "Database "+db.Name, db.Spec, got.Spec)
			}
			for _, b := range set.Postgres.ScheduledBackups {
				got := apply(t, s, kinds.ScheduledBackup, b, ns)
				sameSpec(t, "ScheduledBackup "+b.Name, b.Spec, got.Spec)
			}
			for _, sec := range set.Secrets {
				obj := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: sec.Name, Namespace: ns}, Type: sec.Type, StringData: map[string]string{}}
				for k, v := range sec.Fixed {
					obj.StringData[k] = v
				}
				for _, k := range sec.Generated {
					obj.StringData[k] = "x"
				}
				_, err := s.cs.CoreV1().Secrets(ns).Create(s.ctx, obj, metav1.CreateOptions{})
				require.NoError(t, err, "secret %s", sec.Name)
			}
			// The stores' certificates as the private CA issues them.
			ca := pki.Args{RootCADuration: cfg.Certificates.RootCADuration, LeafDuration: cfg.Certificates.LeafDuration, LeafIssuer: naming.CAIssuer}
			for _, c := range set.Certificates {
				ca.Certificates = append(ca.Certificates, pki.Certificate{Name: c.Name, Namespace: ns, SecretName: c.SecretName, DNSNames: c.DNSNames})
			}
			for _, cert := range pki.Objects(&ca).Leaves {
				got := apply(t, s, kinds.Certificate, cert, ns)
				sameSpec(t, "Certificate "+cert.Name, cert.Spec, got.Spec)
			}
			// Every cluster refuses superuser logins from outside and its
			// roles carry their password secrets.
			clusters, err := s.dyn.Resource(kinds.PostgresCluster.GVR()).Namespace(ns).List(s.ctx, metav1.ListOptions{})
			require.NoError(t, err)
			assert.Len(t, clusters.Items, len(set.Postgres.Clusters), fmt.Sprintf("clusters of %s", stack))
		})
	}
}
