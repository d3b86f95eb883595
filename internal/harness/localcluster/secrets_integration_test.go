package localcluster_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/bulwark-platform/bulwark/internal/harness/localcluster"
	"github.com/bulwark-platform/bulwark/internal/harness/localvault"
	"github.com/bulwark-platform/bulwark/internal/harness/paths"
	"github.com/bulwark-platform/bulwark/internal/harness/proc"
)

// The wiring the Vault layer builds on, end to end on the local cluster:
// OpenBao's Kubernetes auth method reviews tokens against the local API
// server, a role bound to one service account with audience `vault`
// reads one KV v2 path, and the real External Secrets controller logs in
// as that service account through a SecretStore and makes a Kubernetes
// Secret of the value, then follows a change within the refresh interval.
//
// Paths follow the design with the prefix bulwark/itest: KV v2 at
// bulwark/itest/kv, the static secret at
// bulwark/itest/kv/data/<namespace>/<service>/<secret>, Kubernetes auth at
// auth/bulwark/itest/kubernetes, the External Secrets role and policy
// eso-<namespace>.
func TestExternalSecretsSyncFromOpenBao(t *testing.T) {
	if os.Getenv("BULWARK_INTEGRATION") != "1" {
		t.Skip("External Secrets check: set BULWARK_INTEGRATION=1 (make test does) after `make tools`")
	}
	bin := paths.BinDir()
	for _, b := range []string{localvault.Binary, localcluster.ExternalSecrets} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			t.Skipf("External Secrets check: %s is not built (`make tools`)", b)
		}
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	state := filepath.Join(t.TempDir(), "cluster")
	t.Cleanup(func() {
		if t.Failed() {
			for _, c := range []string{"kube-apiserver", localcluster.ExternalSecrets, localvault.Process} {
				t.Logf("--- tail of %s.log ---\n%s", c, proc.LogTail(proc.LogPath(state, c), 20))
			}
		}
		assert.NoError(t, localcluster.Down(state))
	})
	opts := localcluster.Options{
		StateDir: state, BinDir: bin, StagesDir: paths.StagesDir(), CRDDir: paths.CRDDir(),
		Nodes: 1, NoStores: true, Log: t.Logf,
	}
	cl, err := localcluster.Up(ctx, opts)
	require.NoError(t, err)
	require.NotNil(t, cl.Vault, "OpenBao is off: %s", cl.VaultOff)
	require.Empty(t, cl.ExternalSecretsOff, "the External Secrets controller is off")
	t.Logf("cluster, OpenBao and the External Secrets controller up in %s", time.Since(began).Round(time.Second))

	restCfg, err := clientcmd.BuildConfigFromFlags("", cl.Kubeconfig)
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(restCfg)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(restCfg)
	require.NoError(t, err)
	v, root := cl.Vault, cl.Vault.Token()
	vault := func(method, path string, in, out any) error { return v.Request(ctx, root, method, path, in, out) }

	const (
		prefix    = "bulwark/itest"
		namespace = "itest-orders"
		esoSA     = "external-secrets" // the namespace's SecretStore logs in as this one
		otherSA   = "order"            // a workload's: not bound to the role
		role      = "eso-" + namespace
		audience  = "vault"
		kvKey     = namespace + "/order/redis" // <ns>/<service>/<secret>
	)
	kvPath := prefix + "/kv/data/" + kvKey

	// 1. The reviewer: a service account allowed to call TokenReview
	// (system:auth-delegator); OpenBao uses its token for every login.
	for _, ns := range []string{"bulwark-vault", namespace} {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	for _, sa := range []struct{ ns, name string }{{"bulwark-vault", "vault-reviewer"}, {namespace, esoSA}, {namespace, otherSA}} {
		_, err := cs.CoreV1().ServiceAccounts(sa.ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa.name}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "bulwark-vault-reviewer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:auth-delegator"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "bulwark-vault", Name: "vault-reviewer"}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	// No audiences: the API server's own, as TokenReview expects.
	reviewerJWT := token(t, ctx, cs, "bulwark-vault", "vault-reviewer", nil, 24*time.Hour)
	ca, err := os.ReadFile(localcluster.CAPath(state))
	require.NoError(t, err)

	// 2. OpenBao: KV v2, Kubernetes auth against the local API server,
	// the policy and the role, the secret.
	require.NoError(t, vault(http.MethodPost, "sys/mounts/"+prefix+"/kv", map[string]any{"type": "kv", "options": map[string]string{"version": "2"}}, nil))
	require.NoError(t, vault(http.MethodPost, "sys/auth/"+prefix+"/kubernetes", map[string]any{"type": "kubernetes"}, nil))
	require.NoError(t, vault(http.MethodPost, "auth/"+prefix+"/kubernetes/config", map[string]any{
		"kubernetes_host":      cl.Server,
		"kubernetes_ca_cert":   string(ca),
		"token_reviewer_jwt":   reviewerJWT,
		"issuer":               localcluster.ServiceAccountIssuer,
		"disable_local_ca_jwt": true, // not in a pod: no mounted token or CA to fall back on
	}, nil))
	policy := fmt.Sprintf("path %q {\n  capabilities = [\"read\"]\n}\n", prefix+"/kv/data/"+namespace+"/*")
	require.NoError(t, vault(http.MethodPut, "sys/policies/acl/"+role, map[string]string{"policy": policy}, nil))
	require.NoError(t, vault(http.MethodPost, "auth/"+prefix+"/kubernetes/role/"+role, map[string]any{
		"bound_service_account_names":      []string{esoSA},
		"bound_service_account_namespaces": []string{namespace},
		"audience":                         audience,
		"token_policies":                   []string{role},
		"token_ttl":                        "10m",
		"token_max_ttl":                    "1h",
	}, nil))
	putKV := func(password string) {
		t.Helper()
		require.NoError(t, vault(http.MethodPost, kvPath, map[string]any{"data": map[string]string{"username": "order", "password": password}}, nil))
	}
	putKV("first-password")

	// 3. What the role admits, tried directly (the SecretStore's login is
	// exactly the first of these).
	login := func(jwt string) (string, error) {
		var out struct {
			Auth struct {
				ClientToken string `json:"client_token"`
			} `json:"auth"`
		}
		err := v.Request(ctx, "", http.MethodPost, "auth/"+prefix+"/kubernetes/login", map[string]string{"role": role, "jwt": jwt}, &out)
		return out.Auth.ClientToken, err
	}
	t.Run("the role admits its service account with audience vault, and nothing else", func(t *testing.T) {
		tok, err := login(token(t, ctx, cs, namespace, esoSA, []string{audience}, 10*time.Minute))
		require.NoError(t, err)
		var got struct {
			Data struct {
				Data map[string]string `json:"data"`
			} `json:"data"`
		}
		require.NoError(t, v.Request(ctx, tok, http.MethodGet, kvPath, nil, &got))
		assert.Equal(t, "first-password", got.Data.Data["password"])
		assertStatus(t, v.Request(ctx, tok, http.MethodPut, kvPath, map[string]any{"data": map[string]string{"password": "x"}}, nil), http.StatusForbidden, "writing its own path")
		assertStatus(t, v.Request(ctx, tok, http.MethodGet, prefix+"/kv/data/itest-payments/payment/redis", nil, nil), http.StatusForbidden, "reading another namespace's path")

		_, err = login(token(t, ctx, cs, namespace, otherSA, []string{audience}, 10*time.Minute))
		assertStatus(t, err, http.StatusForbidden, "another service account's login")
		_, err = login(token(t, ctx, cs, namespace, esoSA, nil, 10*time.Minute))
		assertStatus(t, err, http.StatusForbidden, "a login with the API server's audience")
	})

	// 4. The SecretStore and ExternalSecret, as the Vault layer and the
	// platform stack will make them.
	const refresh = 5 * time.Second
	storeGVR := schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "secretstores"}
	esGVR := schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "externalsecrets"}
	store := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
		"metadata": map[string]any{"name": "vault", "namespace": namespace},
		"spec": map[string]any{"provider": map[string]any{"vault": map[string]any{
			"server":  v.Address,
			"path":    prefix + "/kv",
			"version": "v2",
			"auth": map[string]any{"kubernetes": map[string]any{
				"mountPath":         prefix + "/kubernetes",
				"role":              role,
				"serviceAccountRef": map[string]any{"name": esoSA, "audiences": []any{audience}},
			}},
		}}},
	}}
	_, err = dyn.Resource(storeGVR).Namespace(namespace).Create(ctx, store, metav1.CreateOptions{})
	require.NoError(t, err)
	es := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
		"metadata": map[string]any{"name": "order-redis", "namespace": namespace},
		"spec": map[string]any{
			"refreshInterval": refresh.String(),
			"secretStoreRef":  map[string]any{"name": "vault", "kind": "SecretStore"},
			"target":          map[string]any{"name": "order-redis", "creationPolicy": "Owner"},
			"data": []any{
				map[string]any{"secretKey": "username", "remoteRef": map[string]any{"key": kvKey, "property": "username"}},
				map[string]any{"secretKey": "password", "remoteRef": map[string]any{"key": kvKey, "property": "password"}},
			},
		},
	}}
	_, err = dyn.Resource(esGVR).Namespace(namespace).Create(ctx, es, metav1.CreateOptions{})
	require.NoError(t, err)

	secretIs := func(password string, timeout time.Duration) (time.Duration, error) {
		start := time.Now()
		var last string
		for time.Since(start) < timeout {
			s, err := cs.CoreV1().Secrets(namespace).Get(ctx, "order-redis", metav1.GetOptions{})
			switch {
			case err == nil:
				last = string(s.Data["password"])
				if last == password && string(s.Data["username"]) == "order" {
					return time.Since(start), nil
				}
			case !apierrors.IsNotFound(err):
				return 0, err
			}
			time.Sleep(100 * time.Millisecond)
		}
		return 0, fmt.Errorf("the Secret's password is %q after %s, want %q", last, timeout, password)
	}

	t.Run("the controller makes the Secret from OpenBao", func(t *testing.T) {
		took, err := secretIs("first-password", 60*time.Second)
		if err != nil {
			t.Fatalf("%v\nSecretStore: %v\nExternalSecret: %v", err, conditions(ctx, dyn, storeGVR, namespace, "vault"), conditions(ctx, dyn, esGVR, namespace, "order-redis"))
		}
		t.Logf("Secret synced %s after the ExternalSecret was created", took.Round(time.Millisecond))
		assert.Contains(t, conditions(ctx, dyn, storeGVR, namespace, "vault"), "Ready=True")
		assert.Contains(t, conditions(ctx, dyn, esGVR, namespace, "order-redis"), "Ready=True")
	})

	t.Run("a changed value reaches the Secret within the refresh interval", func(t *testing.T) {
		putKV("second-password")
		// The next refresh is at most one interval away; allow the
		// reconcile itself (a token request, a login, a read, a write) a
		// little on top, on a busy machine.
		took, err := secretIs("second-password", refresh+3*time.Second)
		require.NoError(t, err)
		t.Logf("Secret followed the change in %s (refresh interval %s)", took.Round(time.Millisecond), refresh)
	})

	t.Run("the audit log records the controller's login and reads", func(t *testing.T) {
		raw, err := os.ReadFile(v.AuditLog)
		require.NoError(t, err)
		log := string(raw)
		assert.Contains(t, log, `"path":"auth/`+prefix+`/kubernetes/login"`)
		assert.Contains(t, log, `"path":"`+kvPath+`"`)
		assert.NotContains(t, log, "second-password", "the audit log holds a secret in clear")
	})

	t.Run("an Up of the running cluster restarts nothing and rewrites no RBAC", func(t *testing.T) {
		role, err := cs.RbacV1().ClusterRoles().Get(ctx, "bulwark-local:external-secrets-controller", metav1.GetOptions{})
		require.NoError(t, err)
		pids := map[string]int{}
		for _, c := range []string{localcluster.ExternalSecrets, localvault.Process} {
			pids[c], _ = proc.Pid(state, c)
		}
		again, err := localcluster.Up(ctx, opts)
		require.NoError(t, err)
		assert.Equal(t, v.Address, again.Vault.Address)
		for c, pid := range pids {
			now, _ := proc.Pid(state, c)
			assert.Equal(t, pid, now, "%s was restarted", c)
		}
		after, err := cs.RbacV1().ClusterRoles().Get(ctx, role.Name, metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, role.ResourceVersion, after.ResourceVersion, "the controller's ClusterRole was rewritten")
	})

	t.Run("after cluster down and up the same configuration still syncs", func(t *testing.T) {
		require.NoError(t, localcluster.Down(state))
		start := time.Now()
		again, err := localcluster.Up(ctx, opts)
		require.NoError(t, err)
		t.Logf("restart took %s", time.Since(start).Round(time.Second))
		// OpenBao kept its data and address, the API server its address,
		// so the auth method's kubernetes_host and the SecretStore hold.
		require.Equal(t, cl.Server, again.Server, "the API server moved")
		require.Equal(t, v.Address, again.Vault.Address, "OpenBao moved")
		putKV("third-password")
		// The restarted controller reconciles every ExternalSecret at once.
		took, err := secretIs("third-password", 30*time.Second)
		require.NoError(t, err)
		t.Logf("Secret followed %s after the restart", took.Round(time.Millisecond))
	})
	t.Logf("whole check took %s", time.Since(began).Round(time.Second))
}

// token asks the TokenRequest API for a token of the service account with
// the audiences (nil: the API server's).
func token(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, sa string, audiences []string, ttl time.Duration) string {
	t.Helper()
	secs := int64(ttl.Seconds())
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: &secs},
	}, metav1.CreateOptions{})
	require.NoError(t, err, "token for %s/%s", ns, sa)
	return tr.Status.Token
}

func assertStatus(t *testing.T, err error, status int, what string) {
	t.Helper()
	var apiErr *localvault.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != status {
		t.Errorf("%s: %v, want status %d", what, err, status)
	}
}

// conditions renders an object's status conditions as Type=Status
// (Reason: Message) for failure messages.
func conditions(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, ns, name string) string {
	u, err := dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var out []string
	for _, c := range conds {
		m, _ := c.(map[string]any)
		out = append(out, fmt.Sprintf("%v=%v (%v: %v)", m["type"], m["status"], m["reason"], m["message"]))
	}
	return strings.Join(out, "; ")
}
