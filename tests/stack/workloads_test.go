package stack

import (
	"testing"

	"github.com/gruntwork-io/terratest/modules/k8s"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	vpav1 "k8s.io/autoscaler/vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1"

	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

func (s *stack) namespacesEnforceRestricted(t *testing.T) {
	require.NotEmpty(t, s.out.Namespaces)
	for _, name := range s.out.Namespaces {
		ns, err := k8s.GetNamespaceE(t, s.kubectl, name)
		require.NoError(t, err)
		for _, mode := range []string{"enforce", "audit", "warn"} {
			assert.Equal(t, "restricted", ns.Labels["pod-security.kubernetes.io/"+mode], "%s %s", name, mode)
		}
	}
}

func (s *stack) podSecurityRefusesRoot(t *testing.T) {
	// Not privileged (the API server's --allow-privileged=false would
	// refuse that first): only Pod Security "restricted" refuses this.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "psa-probe"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	_, err := s.cs.CoreV1().Pods(s.out.Namespaces[0]).Create(s.ctx, pod, metav1.CreateOptions{})
	require.Error(t, err, "a pod that may run as root was admitted")
	assert.Contains(t, err.Error(), "violates PodSecurity")
}

func (s *stack) serviceRuns(t *testing.T, name, namespace, serviceAccount string, automount bool, port int) {
	opts := k8s.NewKubectlOptions("", s.cluster.Kubeconfig, namespace)
	w := s.out.Workloads
	sa, err := k8s.GetServiceAccountE(t, opts, serviceAccount)
	require.NoError(t, err)
	require.NotNil(t, sa.AutomountServiceAccountToken)
	assert.Equal(t, automount, *sa.AutomountServiceAccountToken)

	d, err := k8s.GetDeploymentE(t, opts, name)
	require.NoError(t, err)
	assert.True(t, k8s.IsDeploymentAvailable(d), "deployment not available")
	assert.Equal(t, w.Replicas, *d.Spec.Replicas)
	assert.Equal(t, w.Replicas, d.Status.ReadyReplicas, "ready replicas")
	pod := d.Spec.Template.Spec
	assert.Equal(t, serviceAccount, pod.ServiceAccountName)
	assert.Equal(t, w.TerminationGracePeriodSeconds, *pod.TerminationGracePeriodSeconds)
	require.NotNil(t, pod.SecurityContext)
	assert.True(t, *pod.SecurityContext.RunAsNonRoot)
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, pod.SecurityContext.SeccompProfile.Type)
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	for path, p := range map[string]*corev1.Probe{"/health/live": c.LivenessProbe, "/health/ready": c.ReadinessProbe, "/health/startup": c.StartupProbe} {
		require.NotNil(t, p, "probe %s", path)
		assert.Equal(t, path, p.HTTPGet.Path)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		limit, request := c.Resources.Limits[r], c.Resources.Requests[r]
		assert.False(t, limit.IsZero(), "limit %s", r)
		assert.False(t, request.IsZero(), "request %s", r)
	}
	for _, v := range pod.Volumes {
		if v.EmptyDir != nil {
			require.NotNil(t, v.EmptyDir.SizeLimit, "emptyDir %s without a size limit", v.Name)
			limit := c.Resources.Limits[corev1.ResourceEphemeralStorage]
			assert.Equal(t, 1, limit.Cmp(*v.EmptyDir.SizeLimit), "emptyDir %s is not below the ephemeral-storage limit", v.Name)
		}
	}
	assert.Equal(t, corev1.PullAlways, c.ImagePullPolicy, "tag-referenced image not pulled Always")
	sc := c.SecurityContext
	require.NotNil(t, sc)
	assert.True(t, *sc.ReadOnlyRootFilesystem)
	assert.False(t, *sc.AllowPrivilegeEscalation)
	assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	require.NotNil(t, c.Lifecycle.PreStop.Sleep)
	assert.Equal(t, w.PreStopSleepSeconds, c.Lifecycle.PreStop.Sleep.Seconds)

	pods, err := k8s.ListPodsE(t, opts, metav1.ListOptions{LabelSelector: naming.NameLabel + "=" + name})
	require.NoError(t, err)
	running := 0
	for _, p := range pods {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			running++
		}
	}
	assert.Equal(t, int(w.Replicas), running, "running pods")

	svc, err := k8s.GetServiceE(t, opts, name)
	require.NoError(t, err)
	assert.Equal(t, int32(port), svc.Spec.Ports[0].Port)
	slices, err := s.cs.DiscoveryV1().EndpointSlices(namespace).List(s.ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + name})
	require.NoError(t, err)
	ready := 0
	for _, sl := range slices.Items {
		for _, e := range sl.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready {
				ready++
			}
		}
	}
	assert.Equal(t, int(w.Replicas), ready, "ready endpoints of the Service")

	pdb, err := s.cs.PolicyV1().PodDisruptionBudgets(namespace).Get(s.ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	if want := w.DisruptionBudget.MinAvailable; want > 0 {
		require.NotNil(t, pdb.Spec.MinAvailable)
		assert.Equal(t, want, pdb.Spec.MinAvailable.IntValue())
		assert.Less(t, want, int(w.Replicas), "the PDB would block every drain")
	} else {
		require.NotNil(t, pdb.Spec.MaxUnavailable)
		assert.Equal(t, w.DisruptionBudget.MaxUnavailable, pdb.Spec.MaxUnavailable.IntValue())
	}
	assert.Equal(t, d.Spec.Selector.MatchLabels, pdb.Spec.Selector.MatchLabels)

	hpa, err := s.cs.AutoscalingV2().HorizontalPodAutoscalers(namespace).Get(s.ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, w.MinReplicas, *hpa.Spec.MinReplicas)
	assert.Equal(t, w.MaxReplicas, hpa.Spec.MaxReplicas)
	assert.Equal(t, name, hpa.Spec.ScaleTargetRef.Name)

	u, err := s.dyn.Resource(kinds.VerticalPodAutoscaler.GVR()).Namespace(namespace).Get(s.ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	var vpa vpav1.VerticalPodAutoscaler
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &vpa))
	assert.Equal(t, name, vpa.Spec.TargetRef.Name)
	require.NotNil(t, vpa.Spec.UpdatePolicy)
	assert.Equal(t, w.VPAMode, string(*vpa.Spec.UpdatePolicy.UpdateMode))
}
