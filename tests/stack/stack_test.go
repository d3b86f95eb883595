// Package stack holds the stack checks: the ci stack deployed by the real
// Pulumi engine (Automation API, inline program) to a real Kubernetes
// control plane (etcd, kube-apiserver, controller-manager, scheduler) with
// kwok nodes, then checked with terratest.
//
// What this proves and what it cannot: every object, field and default is
// accepted by a real API server (with Pod Security Admission enforcing
// "restricted"), Deployments roll out and Services get endpoints under
// Pulumi's normal await logic, a second preview is empty and destroy
// removes everything. No real containers run (kwok simulates the kubelet),
// so nothing inside a pod is exercised here: probes are never called and
// images are never pulled.
//
// It needs the pinned tools (`make tools`) and runs when BULWARK_INTEGRATION=1,
// as `make test` sets.
package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gruntwork-io/terratest/modules/k8s"
	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	securityv1beta1 "istio.io/api/security/v1beta1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	vpav1 "k8s.io/autoscaler/vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1"
	"k8s.io/client-go/dynamic"

	"github.com/bulwark-platform/bulwark/components/meshpolicy"
	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/policy"
	"github.com/bulwark-platform/bulwark/internal/harness/localcluster"
	"github.com/bulwark-platform/bulwark/internal/harness/paths"
	"github.com/bulwark-platform/bulwark/internal/harness/stackrun"
)

// stackOutputs is the contract between the program and its checks.
type stackOutputs struct {
	Environment string   `json:"environment"`
	Namespaces  []string `json:"namespaces"`
	Services    []struct {
		Name                         string `json:"name"`
		Namespace                    string `json:"namespace"`
		ServiceAccount               string `json:"serviceAccount"`
		AutomountServiceAccountToken bool   `json:"automountServiceAccountToken"`
		Port                         int    `json:"port"`
	} `json:"services"`
	Workloads struct {
		Replicas                      int32  `json:"replicas"`
		MinReplicas                   int32  `json:"minReplicas"`
		MaxReplicas                   int32  `json:"maxReplicas"`
		VPAMode                       string `json:"vpaMode"`
		TerminationGracePeriodSeconds int64  `json:"terminationGracePeriodSeconds"`
		PreStopSleepSeconds           int64  `json:"preStopSleepSeconds"`
	} `json:"workloads"`
}

var (
	vpaGVR = schema.GroupVersionResource{Group: "autoscaling.k8s.io", Version: "v1", Resource: "verticalpodautoscalers"}
	paGVR  = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}
	apGVR  = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"}
)

func TestCIStackOnLocalCluster(t *testing.T) {
	if os.Getenv("BULWARK_INTEGRATION") != "1" {
		t.Skip("stack check: set BULWARK_INTEGRATION=1 (make test does) after `make tools`")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	require.NoError(t, paths.PrependPath())

	state := t.TempDir()
	clusterOpts := localcluster.Options{
		StateDir: filepath.Join(state, "cluster"), BinDir: paths.BinDir(), StagesDir: paths.StagesDir(),
		// The VPA and Istio CRDs of the pinned modules, and Istio's
		// namespaces: the ci stack adopts Istio (install: false).
		CRDDir: paths.CRDDir(), Namespaces: paths.AddonNamespaces,
		Log: t.Logf,
	}
	// Cleanup is registered before anything starts, so a failure midway
	// still stops every process.
	t.Cleanup(func() {
		if t.Failed() {
			for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kwok"} {
				raw, _ := os.ReadFile(filepath.Join(clusterOpts.StateDir, "logs", c+".log"))
				lines := strings.Split(string(raw), "\n")
				t.Logf("--- tail of %s.log ---\n%s", c, strings.Join(lines[max(0, len(lines)-15):], "\n"))
			}
		}
		_ = localcluster.Down(clusterOpts.StateDir)
	})
	cluster, err := localcluster.Up(ctx, clusterOpts)
	require.NoError(t, err)
	kubectl := k8s.NewKubectlOptions("", cluster.Kubeconfig, "")
	restCfg, err := k8s.LoadApiClientConfigE(cluster.Kubeconfig, "")
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(restCfg)
	require.NoError(t, err)

	project := copyProject(t, filepath.Join(state, "project"))
	runner := &stackrun.Runner{
		ProjectDir: project, StateDir: filepath.Join(state, "pulumi"), Stack: "ci",
		Kubeconfig: cluster.Kubeconfig, Out: testWriter{t}, Log: t.Logf,
	}
	// Registered before up: whatever happens, the stack is destroyed.
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			_ = runner.Destroy(context.Background())
		}
	})

	res, err := runner.Up(ctx)
	require.NoError(t, err, "pulumi up of the ci stack")
	for _, c := range stackrun.Posture(res.Resources) {
		assert.True(t, c.OK(), "posture %q: %d/%d, offenders %v", c.Name, c.Pass, c.Of, c.Offenders)
	}

	var out stackOutputs
	raw, err := json.Marshal(map[string]any{
		"environment": res.Up.Outputs["environment"].Value, "namespaces": res.Up.Outputs["namespaces"].Value,
		"services": res.Up.Outputs["services"].Value, "workloads": res.Up.Outputs["workloads"].Value,
	})
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &out))
	require.Equal(t, "ci", out.Environment)
	require.NotEmpty(t, out.Services)

	t.Run("namespaces enforce Pod Security restricted", func(t *testing.T) {
		require.NotEmpty(t, out.Namespaces)
		for _, name := range out.Namespaces {
			ns, err := k8s.GetNamespaceE(t, kubectl, name)
			require.NoError(t, err)
			for _, mode := range []string{"enforce", "audit", "warn"} {
				assert.Equal(t, "restricted", ns.Labels["pod-security.kubernetes.io/"+mode], "%s %s", name, mode)
			}
		}
	})

	t.Run("the API server refuses a pod that may run as root in an application namespace", func(t *testing.T) {
		cs, err := k8s.GetKubernetesClientFromOptionsE(t, kubectl)
		require.NoError(t, err)
		// Not privileged (the API server's --allow-privileged=false would
		// refuse that first): only Pod Security "restricted" refuses this.
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "psa-probe"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}
		_, err = cs.CoreV1().Pods(out.Namespaces[0]).Create(ctx, pod, metav1.CreateOptions{})
		require.Error(t, err, "a privileged pod was admitted")
		assert.Contains(t, err.Error(), "violates PodSecurity")
	})

	for _, svc := range out.Services {
		t.Run("service "+svc.Name, func(t *testing.T) {
			opts := k8s.NewKubectlOptions("", cluster.Kubeconfig, svc.Namespace)
			cs, err := k8s.GetKubernetesClientFromOptionsE(t, opts)
			require.NoError(t, err)

			sa, err := k8s.GetServiceAccountE(t, opts, svc.ServiceAccount)
			require.NoError(t, err)
			require.NotNil(t, sa.AutomountServiceAccountToken)
			assert.Equal(t, svc.AutomountServiceAccountToken, *sa.AutomountServiceAccountToken)

			d, err := k8s.GetDeploymentE(t, opts, svc.Name)
			require.NoError(t, err)
			assert.True(t, k8s.IsDeploymentAvailable(d), "deployment not available")
			assert.Equal(t, out.Workloads.Replicas, *d.Spec.Replicas)
			assert.Equal(t, out.Workloads.Replicas, d.Status.ReadyReplicas, "ready replicas")
			pod := d.Spec.Template.Spec
			assert.Equal(t, svc.ServiceAccount, pod.ServiceAccountName)
			assert.Equal(t, out.Workloads.TerminationGracePeriodSeconds, *pod.TerminationGracePeriodSeconds)
			require.NotNil(t, pod.SecurityContext)
			assert.True(t, *pod.SecurityContext.RunAsNonRoot)
			assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, pod.SecurityContext.SeccompProfile.Type)
			require.Len(t, pod.Containers, 1)
			c := pod.Containers[0]
			for name, p := range map[string]*corev1.Probe{"/health/live": c.LivenessProbe, "/health/ready": c.ReadinessProbe, "/health/startup": c.StartupProbe} {
				require.NotNil(t, p, "probe %s", name)
				assert.Equal(t, name, p.HTTPGet.Path)
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				limit, request := c.Resources.Limits[r], c.Resources.Requests[r]
				assert.False(t, limit.IsZero(), "limit %s", r)
				assert.False(t, request.IsZero(), "request %s", r)
			}
			sc := c.SecurityContext
			require.NotNil(t, sc)
			assert.True(t, *sc.ReadOnlyRootFilesystem)
			assert.False(t, *sc.AllowPrivilegeEscalation)
			assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
			require.NotNil(t, c.Lifecycle.PreStop.Sleep)
			assert.Equal(t, out.Workloads.PreStopSleepSeconds, c.Lifecycle.PreStop.Sleep.Seconds)

			pods, err := k8s.ListPodsE(t, opts, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + svc.Name})
			require.NoError(t, err)
			running := 0
			for _, p := range pods {
				if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
					running++
				}
			}
			assert.Equal(t, int(out.Workloads.Replicas), running, "running pods")

			s, err := k8s.GetServiceE(t, opts, svc.Name)
			require.NoError(t, err)
			assert.Equal(t, int32(svc.Port), s.Spec.Ports[0].Port)
			slices, err := cs.DiscoveryV1().EndpointSlices(svc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + svc.Name})
			require.NoError(t, err)
			ready := 0
			for _, sl := range slices.Items {
				for _, e := range sl.Endpoints {
					if e.Conditions.Ready != nil && *e.Conditions.Ready {
						ready++
					}
				}
			}
			assert.Equal(t, int(out.Workloads.Replicas), ready, "ready endpoints of the Service")

			pdb, err := cs.PolicyV1().PodDisruptionBudgets(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
			require.NoError(t, err)
			if out.Workloads.Replicas >= 2 {
				require.NotNil(t, pdb.Spec.MinAvailable)
				assert.Equal(t, int(out.Workloads.Replicas-1), pdb.Spec.MinAvailable.IntValue())
			} else {
				require.NotNil(t, pdb.Spec.MaxUnavailable)
			}
			assert.Equal(t, d.Spec.Selector.MatchLabels, pdb.Spec.Selector.MatchLabels)

			hpa, err := cs.AutoscalingV2().HorizontalPodAutoscalers(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
			require.NoError(t, err)
			assert.Equal(t, out.Workloads.MinReplicas, *hpa.Spec.MinReplicas)
			assert.Equal(t, out.Workloads.MaxReplicas, hpa.Spec.MaxReplicas)
			assert.Equal(t, svc.Name, hpa.Spec.ScaleTargetRef.Name)

			u, err := dyn.Resource(vpaGVR).Namespace(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
			require.NoError(t, err)
			var vpa vpav1.VerticalPodAutoscaler
			require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &vpa))
			assert.Equal(t, svc.Name, vpa.Spec.TargetRef.Name)
			require.NotNil(t, vpa.Spec.UpdatePolicy)
			assert.Equal(t, out.Workloads.VPAMode, string(*vpa.Spec.UpdatePolicy.UpdateMode))
		})
	}

	t.Run("the live mesh and network policy permit exactly the graph", func(t *testing.T) {
		values, err := config.ReadStackFile(filepath.Join(project, "stacks", "Pulumi.ci.yaml"))
		require.NoError(t, err)
		cfg, err := config.Load(config.MapGetter(values), config.Keys(values))
		require.NoError(t, err)
		cs, err := k8s.GetKubernetesClientFromOptionsE(t, kubectl)
		require.NoError(t, err)
		var nps []networkingv1.NetworkPolicy
		var pas, aps []unstructured.Unstructured
		for _, ns := range append(out.Namespaces, cfg.Mesh.RootNamespace) {
			list, err := cs.NetworkingV1().NetworkPolicies(ns).List(ctx, metav1.ListOptions{})
			require.NoError(t, err)
			nps = append(nps, list.Items...)
			for gvr, into := range map[schema.GroupVersionResource]*[]unstructured.Unstructured{paGVR: &pas, apGVR: &aps} {
				l, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
				require.NoError(t, err)
				*into = append(*into, l.Items...)
			}
		}
		live, err := policy.FromLive(nps, pas, aps)
		require.NoError(t, err)
		compiled := policy.Compile(&cfg.Graph, cfg.Mesh)
		assert.Len(t, live.NetworkPolicies, len(compiled.NetworkPolicies), "NetworkPolicies in the cluster")
		assert.Len(t, live.PeerAuthentications, len(compiled.PeerAuthentications), "PeerAuthentications in the cluster")
		assert.Len(t, live.AuthorizationPolicies, len(compiled.AuthorizationPolicies), "AuthorizationPolicies in the cluster")
		for _, ns := range out.Namespaces {
			assert.True(t, slices.ContainsFunc(live.NetworkPolicies, func(np networkingv1.NetworkPolicy) bool {
				return np.Namespace == ns && np.Name == "default-deny" && len(np.Spec.PodSelector.MatchLabels) == 0 && len(np.Spec.Ingress)+len(np.Spec.Egress) == 0 && len(np.Spec.PolicyTypes) == 2
			}), "namespace %s lacks a default-deny NetworkPolicy", ns)
		}
		for _, ns := range append(out.Namespaces, cfg.Mesh.RootNamespace) {
			assert.True(t, slices.ContainsFunc(live.PeerAuthentications, func(pa meshpolicy.Resource[*securityv1beta1.PeerAuthentication]) bool {
				return pa.Namespace == ns && pa.Spec.GetSelector() == nil && pa.Spec.GetMtls().GetMode() == securityv1beta1.PeerAuthentication_MutualTLS_STRICT
			}), "namespace %s lacks STRICT mTLS", ns)
		}
		sources, dests := policy.Parties(&cfg.Graph, cfg.Mesh)
		report := policy.Evaluate(live, sources, dests, cfg.Mesh.TrustDomain, cfg.Mesh.RootNamespace)
		assert.Empty(t, report.Findings)
		want := policy.Report{Rows: policy.GraphFlows(&cfg.Graph, cfg.Mesh)}
		assert.Empty(t, policy.Diff(want, report), "live policy report differs from the graph")
	})

	t.Run("the edge and the CA chain as the API server holds them", func(t *testing.T) {
		values, err := config.ReadStackFile(filepath.Join(project, "stacks", "Pulumi.ci.yaml"))
		require.NoError(t, err)
		cfg, err := config.Load(config.MapGetter(values), config.Keys(values))
		require.NoError(t, err)
		get := func(gvr schema.GroupVersionResource, ns, name string) map[string]any {
			t.Helper()
			var u *unstructured.Unstructured
			var err error
			if ns == "" {
				u, err = dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
			} else {
				u, err = dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
			}
			require.NoError(t, err, "%s %s/%s", gvr.Resource, ns, name)
			return u.Object
		}
		gwNS := cfg.Graph.Gateway.Namespace
		gw := get(gvr("networking.istio.io", "v1", "gateways"), gwNS, "bulwark-gateway")
		servers, _, _ := unstructured.NestedSlice(gw, "spec", "servers")
		require.Len(t, servers, 2)
		for _, srv := range servers {
			m := srv.(map[string]any)
			switch proto, _, _ := unstructured.NestedString(m, "port", "protocol"); proto {
			case "HTTP":
				redirect, _, _ := unstructured.NestedBool(m, "tls", "httpsRedirect")
				assert.True(t, redirect, "HTTP is not redirected to HTTPS")
			case "HTTPS":
				minTLS, _, _ := unstructured.NestedString(m, "tls", "minProtocolVersion")
				assert.Equal(t, "TLSV1_2", minTLS)
				secret, _, _ := unstructured.NestedString(m, "tls", "credentialName")
				assert.Equal(t, "bulwark-gateway-tls", secret)
			default:
				t.Errorf("unexpected server protocol %q", proto)
			}
		}
		filter := get(gvr("networking.istio.io", "v1alpha3", "envoyfilters"), gwNS, "bulwark-rate-limit")
		patches, _, _ := unstructured.NestedSlice(filter, "spec", "configPatches")
		limited := map[string]bool{}
		for _, p := range patches {
			if name, ok, _ := unstructured.NestedString(p.(map[string]any), "match", "routeConfiguration", "vhost", "route", "name"); ok {
				limited[name] = true
			}
		}
		for _, c := range cfg.Graph.Gateway.Calls {
			vs := get(gvr("networking.istio.io", "v1", "virtualservices"), gwNS, c.Target)
			routes, _, _ := unstructured.NestedSlice(vs, "spec", "http")
			require.Len(t, routes, 1)
			assert.True(t, limited[c.Target], "route %s has no rate limit", c.Target)
		}
		ra := get(gvr("security.istio.io", "v1", "requestauthentications"), gwNS, "bulwark-jwt")
		rules, _, _ := unstructured.NestedSlice(ra, "spec", "jwtRules")
		require.Len(t, rules, 1)
		assert.Equal(t, cfg.Edge.JWT.Issuer, rules[0].(map[string]any)["issuer"])

		get(gvr("cert-manager.io", "v1", "clusterissuers"), "", "bulwark-selfsigned")
		caIssuer := get(gvr("cert-manager.io", "v1", "clusterissuers"), "", "bulwark-ca")
		caSecret, _, _ := unstructured.NestedString(caIssuer, "spec", "ca", "secretName")
		assert.Equal(t, "bulwark-root-ca", caSecret)
		checkLifetime := func(cert map[string]any, want string) {
			t.Helper()
			d, _, _ := unstructured.NestedString(cert, "spec", "duration")
			rb, _, _ := unstructured.NestedString(cert, "spec", "renewBefore")
			life, err := time.ParseDuration(d)
			require.NoError(t, err)
			renew, err := time.ParseDuration(rb)
			require.NoError(t, err)
			wantLife, _ := time.ParseDuration(want)
			assert.Equal(t, wantLife, life)
			assert.Equal(t, life/3, renew, "renewBefore is not a third of the lifetime")
			alg, _, _ := unstructured.NestedString(cert, "spec", "privateKey", "algorithm")
			size, _, _ := unstructured.NestedInt64(cert, "spec", "privateKey", "size")
			assert.Equal(t, "ECDSA", alg)
			assert.EqualValues(t, 256, size)
		}
		root := get(gvr("cert-manager.io", "v1", "certificates"), "cert-manager", "bulwark-root-ca")
		isCA, _, _ := unstructured.NestedBool(root, "spec", "isCA")
		assert.True(t, isCA)
		checkLifetime(root, cfg.Certificates.RootCADuration)
		leaf := get(gvr("cert-manager.io", "v1", "certificates"), gwNS, "bulwark-gateway")
		checkLifetime(leaf, cfg.Certificates.LeafDuration)
		names, _, _ := unstructured.NestedStringSlice(leaf, "spec", "dnsNames")
		assert.Equal(t, cfg.Edge.Hosts, names)
		issuer, _, _ := unstructured.NestedString(leaf, "spec", "issuerRef", "name")
		assert.Equal(t, "bulwark-ca", issuer)
	})

	t.Run("a second preview shows no changes", func(t *testing.T) {
		_, err := runner.Preview(ctx, optpreview.ExpectNoChanges())
		require.NoError(t, err)
	})

	t.Run("a bad stack value fails the preview before registering anything", func(t *testing.T) {
		stackFile := filepath.Join(project, "stacks", "Pulumi.ci.yaml")
		orig, err := os.ReadFile(stackFile)
		require.NoError(t, err)
		t.Cleanup(func() { _ = os.WriteFile(stackFile, orig, 0o600) })
		bad := strings.Replace(string(orig), "config:\n", "config:\n  bulwark:workloads:\n    replicas: -1\n  bulwark:replicaCount: 3\n", 1)
		require.NotEqual(t, string(orig), bad, "stack file has no config section")
		require.NoError(t, os.WriteFile(stackFile, []byte(bad), 0o600))
		res, err := runner.Preview(ctx)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "bulwark:workloads.replicas: must be at least 1, got -1")
		assert.Contains(t, err.Error(), "bulwark:replicaCount: unknown configuration key")
		for op, n := range res.ChangeSummary {
			assert.Zero(t, n, "preview of a bad stack planned %d %s", n, op)
		}
	})

	t.Run("destroy leaves none of the stack's objects", func(t *testing.T) {
		require.NoError(t, runner.Destroy(ctx))
		destroyed = true
		cs, err := k8s.GetKubernetesClientFromOptionsE(t, kubectl)
		require.NoError(t, err)
		for _, name := range out.Namespaces {
			_, err := retry.DoWithRetryE(t, "namespace "+name+" deleted", 60, time.Second, func() (string, error) {
				_, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return "gone", nil
				}
				return "", fmt.Errorf("namespace %s still present (%v)", name, err)
			})
			require.NoError(t, err)
		}
		deps, err := cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=bulwark"})
		require.NoError(t, err)
		assert.Empty(t, deps.Items)
	})
}

func gvr(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

// copyProject copies Pulumi.yaml and the stack files into dir, so that
// the passphrase salt Pulumi writes into a new stack's file stays out of
// the checkout.
func copyProject(t *testing.T, dir string) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	// Pulumi.yaml's main (infra/) must exist even though the inline
	// program never reads it.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "stacks"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "infra"), 0o755))
	files, err := filepath.Glob(filepath.Join(root, "stacks", "Pulumi.*.yaml"))
	require.NoError(t, err)
	for _, f := range append(files, filepath.Join(root, "Pulumi.yaml")) {
		rel, err := filepath.Rel(root, f)
		require.NoError(t, err)
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, rel), raw, 0o644))
	}
	return dir
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = testWriter{}
