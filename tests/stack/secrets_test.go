package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/bulwark-platform/bulwark/infra/secrets"
	"github.com/bulwark-platform/bulwark/internal/harness/localvault"
	"github.com/bulwark-platform/bulwark/internal/harness/secretsync"
	"github.com/bulwark-platform/bulwark/services/contract"
)

// vaultPlan is the plan the platform exported and the Vault layer applied.
func (s *stack) vaultPlan(t *testing.T) secrets.Plan {
	t.Helper()
	raw, err := json.Marshal(s.result.Up.Outputs["vault"].Value)
	require.NoError(t, err)
	var p secrets.Plan
	require.NoError(t, json.Unmarshal(raw, &p))
	require.NotEmpty(t, p.Roles, "the platform's vault output has no roles")
	return p
}

// serviceToken is a token of the TokenRequest API for a service account,
// bound to audience, as a pod's projected token volume holds one.
func (s *stack) serviceToken(t *testing.T, namespace, account, audience string) string {
	t.Helper()
	tr, err := s.cs.CoreV1().ServiceAccounts(namespace).CreateToken(s.ctx, account, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{audience}, ExpirationSeconds: ptr.To[int64](600)},
	}, metav1.CreateOptions{})
	require.NoError(t, err, "TokenRequest for %s/%s", namespace, account)
	return tr.Status.Token
}

// login logs in through the Vault layer's Kubernetes auth method.
func (s *stack) login(p secrets.Plan, role, jwt string) (string, error) {
	var out struct {
		Auth struct {
			ClientToken string   `json:"client_token"`
			Policies    []string `json:"token_policies"`
		} `json:"auth"`
	}
	err := s.cluster.Vault.Request(s.ctx, "", http.MethodPost, "auth/"+p.Mounts.Kubernetes+"/login",
		map[string]string{"role": role, "jwt": jwt}, &out)
	return out.Auth.ClientToken, err
}

func status(err error) int {
	var e *localvault.APIError
	if errors.As(err, &e) {
		return e.StatusCode
	}
	if err == nil {
		return http.StatusOK
	}
	return -1
}

// For every service: its own service account's token logs in to its own
// role and reads exactly its own static secrets and database credentials;
// every other service's are refused with 403. A token for another
// service account, another namespace or another audience cannot log in.
func (s *stack) leastPrivilegeOnTheRealServer(t *testing.T) {
	p := s.vaultPlan(t)
	root := s.cluster.Vault.Token()
	var services []secrets.Role
	for _, r := range p.Roles {
		if r.Service != "" {
			services = append(services, r)
		}
	}
	require.NotEmpty(t, services)
	for _, r := range services {
		t.Run(r.Service, func(t *testing.T) {
			token, err := s.login(p, r.Name, s.serviceToken(t, r.Namespace, r.ServiceAccount, r.Audience))
			require.NoError(t, err, "service %s cannot log in with its own token", r.Service)
			for _, st := range p.Static {
				err := s.cluster.Vault.Request(s.ctx, token, http.MethodGet, p.Mounts.KV+"/data/"+st.Path, nil, nil)
				if st.Service == r.Service {
					assert.NoError(t, err, "%s reading its own %s", r.Service, st.Path)
				} else {
					assert.Equal(t, http.StatusForbidden, status(err), "%s reading %s's %s: %v", r.Service, st.Service, st.Path, err)
				}
			}
			if p.Database != nil {
				for _, db := range p.Database.Roles {
					var lease struct {
						LeaseID string `json:"lease_id"`
					}
					err := s.cluster.Vault.Request(s.ctx, token, http.MethodGet, p.Mounts.Database+"/creds/"+db.Name, nil, &lease)
					if db.Service == r.Service {
						if assert.NoError(t, err, "%s reading its own database credentials", r.Service) {
							// A real PostgreSQL role was created; end it now.
							assert.NoError(t, s.cluster.Vault.Request(s.ctx, root, http.MethodPut, "sys/leases/revoke",
								map[string]string{"lease_id": lease.LeaseID}, nil))
						}
					} else {
						assert.Equal(t, http.StatusForbidden, status(err), "%s reading %s's database credentials: %v", r.Service, db.Service, err)
					}
				}
			}
			// Another service's role refuses this service's token.
			for _, other := range services {
				if other.Name == r.Name {
					continue
				}
				_, err := s.login(p, other.Name, s.serviceToken(t, r.Namespace, r.ServiceAccount, r.Audience))
				assert.Error(t, err, "%s's token logged in as %s", r.Service, other.Name)
			}
			// The same account name in another namespace, and the right
			// account with the wrong audience, cannot log in.
			_, err = s.cs.CoreV1().ServiceAccounts("default").Create(s.ctx, &corev1.ServiceAccount{
				ObjectMeta: metav1.ObjectMeta{Name: r.ServiceAccount}}, metav1.CreateOptions{})
			if !apierrors.IsAlreadyExists(err) {
				require.NoError(t, err)
			}
			_, err = s.login(p, r.Name, s.serviceToken(t, "default", r.ServiceAccount, r.Audience))
			assert.Error(t, err, "a token of default/%s logged in as %s", r.ServiceAccount, r.Name)
			_, err = s.login(p, r.Name, s.serviceToken(t, r.Namespace, r.ServiceAccount, "https://kubernetes.default.svc"))
			assert.Error(t, err, "a token for another audience logged in as %s", r.Name)
		})
	}
}

// Every ExternalSecret is Ready and its Secret holds the value in OpenBao.
func (s *stack) externalSecretsAreSynced(t *testing.T) {
	p := s.vaultPlan(t)
	var names []string
	for _, st := range p.Static {
		names = append(names, st.Namespace+"/"+secrets.SecretName(st.Service, st.Name))
	}
	pending, err := secretsync.Wait(s.ctx, s.cluster.Kubeconfig, names, 2*time.Minute)
	require.NoError(t, err)
	require.Empty(t, pending, "ExternalSecrets not Ready")
	for _, st := range p.Static {
		want := s.kvData(t, p, st.Path)
		sec, err := s.cs.CoreV1().Secrets(st.Namespace).Get(s.ctx, secrets.SecretName(st.Service, st.Name), metav1.GetOptions{})
		require.NoError(t, err)
		require.ElementsMatch(t, st.Keys, slices.Collect(maps.Keys(sec.Data)), "keys of Secret %s/%s", sec.Namespace, sec.Name)
		for _, k := range st.Keys {
			assert.NotEmpty(t, want[k], "%s: key %s is empty in OpenBao", st.Path, k)
			assert.Equal(t, want[k], string(sec.Data[k]), "Secret %s/%s key %s", sec.Namespace, sec.Name, k)
		}
	}
}

func (s *stack) kvData(t *testing.T, p secrets.Plan, secretPath string) map[string]string {
	t.Helper()
	var out struct {
		Data struct {
			Data map[string]string `json:"data"`
		} `json:"data"`
	}
	require.NoError(t, s.cluster.Vault.Request(s.ctx, s.cluster.Vault.Token(), http.MethodGet, p.Mounts.KV+"/data/"+secretPath, nil, &out))
	return out.Data.Data
}

// A value rotated in OpenBao reaches its Kubernetes Secret within the
// refresh interval (plus the controller's reconcile slack).
func (s *stack) rotationReachesTheSecret(t *testing.T) {
	p := s.vaultPlan(t)
	i := slices.IndexFunc(p.Static, func(st secrets.StaticSecret) bool { return len(st.Generated) > 0 })
	require.GreaterOrEqual(t, i, 0, "no generated static secret to rotate")
	st := p.Static[i]
	data := s.kvData(t, p, st.Path)
	key := st.Generated[0]
	data[key] = fmt.Sprintf("rotated-%d", time.Now().UnixNano())
	require.NoError(t, s.cluster.Vault.Request(s.ctx, s.cluster.Vault.Token(), http.MethodPost, p.Mounts.KV+"/data/"+st.Path,
		map[string]any{"data": data}, nil))
	began := time.Now()
	refresh := s.cfg.ExternalSecrets.RefreshInterval
	name := secrets.SecretName(st.Service, st.Name)
	for {
		sec, err := s.cs.CoreV1().Secrets(st.Namespace).Get(s.ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		if string(sec.Data[key]) == data[key] {
			t.Logf("rotated %s/%s reached Secret %s/%s in %s (refresh interval %s)", st.Path, key, st.Namespace, name,
				time.Since(began).Round(100*time.Millisecond), refresh)
			return
		}
		if time.Since(began) > refresh+10*time.Second {
			t.Fatalf("rotated %s/%s did not reach Secret %s/%s within the refresh interval %s (+10s)", st.Path, key, st.Namespace, name, refresh)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Every live Deployment of a service with a contract gives it what it
// requires: its contract accepts the environment the API server holds
// (each value from a Secret read from the real, synced Secret, which must
// exist and hold the key), and each variable that names a file names one
// the pod really has (a mounted Secret's key, the trust bundle, or the
// credentials file the agent renders).
func (s *stack) liveConfigContractHolds(t *testing.T) {
	checked := 0
	for _, svc := range s.cfg.Graph.Services {
		c, ok := contract.For(svc.Name)
		if !ok {
			continue
		}
		checked++
		t.Run(svc.Name, func(t *testing.T) {
			d, err := s.cs.AppsV1().Deployments(svc.Namespace).Get(s.ctx, svc.Name, metav1.GetOptions{})
			require.NoError(t, err)
			pod := d.Spec.Template
			ctr := pod.Spec.Containers[0]
			env := map[string]string{}
			for _, e := range ctr.Env {
				switch {
				case e.ValueFrom == nil:
					env[e.Name] = e.Value
				case e.ValueFrom.SecretKeyRef != nil:
					ref := e.ValueFrom.SecretKeyRef
					sec, err := s.cs.CoreV1().Secrets(svc.Namespace).Get(s.ctx, ref.Name, metav1.GetOptions{})
					require.NoError(t, err, "%s: Secret %s", e.Name, ref.Name)
					require.Contains(t, sec.Data, ref.Key, "%s: Secret %s has no key %s", e.Name, ref.Name, ref.Key)
					env[e.Name] = string(sec.Data[ref.Key])
				case e.ValueFrom.FieldRef != nil:
					env[e.Name] = "<" + e.ValueFrom.FieldRef.FieldPath + ">"
				}
			}
			require.NoError(t, c.Check(env), "the live Deployment %s/%s", svc.Namespace, svc.Name)
			files := s.podFiles(t, svc.Namespace, pod, ctr)
			for _, v := range c.Vars {
				if val, set := env[v.Name]; set && v.File {
					assert.Contains(t, files, val, "%s=%s is no file the pod has (%v)", v.Name, val, slices.Sorted(maps.Keys(files)))
				}
			}
		})
	}
	require.NotZero(t, checked, "no service of the graph has a contract")
}

// podFiles are the files the application container sees: every key of
// each mounted Secret (which must exist), and the agent-rendered files
// its annotations declare.
func (s *stack) podFiles(t *testing.T, namespace string, pod corev1.PodTemplateSpec, ctr corev1.Container) map[string]bool {
	files := map[string]bool{}
	// Each key of a mounted Secret (the synced secrets, the trust bundle
	// cert-manager writes) or ConfigMap is a file; the agent's files are
	// declared by annotation below.
	for _, m := range ctr.VolumeMounts {
		i := slices.IndexFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		require.GreaterOrEqual(t, i, 0, "mount %s has no volume", m.Name)
		var keys []string
		switch v := pod.Spec.Volumes[i]; {
		case v.Secret != nil:
			sec, err := s.cs.CoreV1().Secrets(namespace).Get(s.ctx, v.Secret.SecretName, metav1.GetOptions{})
			require.NoError(t, err, "volume %s: Secret %s", v.Name, v.Secret.SecretName)
			keys = slices.Collect(maps.Keys(sec.Data))
		case v.ConfigMap != nil:
			cm, err := s.cs.CoreV1().ConfigMaps(namespace).Get(s.ctx, v.ConfigMap.Name, metav1.GetOptions{})
			require.NoError(t, err, "volume %s: ConfigMap %s", v.Name, v.ConfigMap.Name)
			keys = slices.Collect(maps.Keys(cm.Data))
		}
		for _, k := range keys {
			files[path.Join(m.MountPath, k)] = true
		}
	}
	prefix := secrets.AnnotationPrefix(s.cfg.Vault.Distribution) + "agent-inject-secret-"
	for k := range pod.Annotations {
		if name, ok := strings.CutPrefix(k, prefix); ok {
			files[path.Join(secrets.AgentSecretsDir, name)] = true
		}
	}
	return files
}

// After destroy, OpenBao holds none of the Vault layer's mounts,
// policies or auth methods.
func (s *stack) vaultLayerLeavesNothing(t *testing.T) {
	p := s.vaultPlan(t)
	root := s.cluster.Vault.Token()
	var mounts map[string]any
	require.NoError(t, s.cluster.Vault.Request(s.ctx, root, http.MethodGet, "sys/mounts", nil, &mounts))
	for m := range mounts {
		assert.False(t, strings.HasPrefix(m, p.PathPrefix+"/"), "mount %s left behind", m)
	}
	var auths map[string]any
	require.NoError(t, s.cluster.Vault.Request(s.ctx, root, http.MethodGet, "sys/auth", nil, &auths))
	for m := range auths {
		assert.False(t, strings.HasPrefix(m, p.PathPrefix+"/"), "auth method %s left behind", m)
	}
	var policies struct {
		Data struct {
			Keys []string `json:"keys"`
		} `json:"data"`
	}
	require.NoError(t, s.cluster.Vault.Request(s.ctx, root, http.MethodGet, "sys/policies/acl?list=true", nil, &policies))
	for _, pol := range p.Policies {
		assert.NotContains(t, policies.Data.Keys, pol.Name, "policy left behind")
	}
}
