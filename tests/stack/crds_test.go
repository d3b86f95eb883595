package stack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/bulwark-platform/bulwark/internal/harness/localcluster"
)

// The cluster installed every add-on CRD at start; doing it again skips
// each one by its hash annotation, and a changed document is applied.
func (s *stack) crdsAreHashed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(s.opts.CRDDir, "*.yaml"))
	require.NoError(t, err)
	res, err := localcluster.InstallCRDs(s.ctx, s.cluster.Kubeconfig, files...)
	require.NoError(t, err)
	assert.Empty(t, res.Applied, "unchanged CRDs applied again")
	assert.Greater(t, res.Unchanged, 20, "Istio, cert-manager and VPA CRDs")

	// One CRD document changed (a new description): only it is applied.
	raw, err := os.ReadFile(filepath.Join(s.opts.CRDDir, "vpa.yaml"))
	require.NoError(t, err)
	const marker = "VerticalPodAutoscaler is the configuration for a vertical pod"
	require.Contains(t, string(raw), marker)
	changed := filepath.Join(t.TempDir(), "vpa.yaml")
	require.NoError(t, os.WriteFile(changed, []byte(strings.Replace(string(raw), marker, marker+" (changed)", 1)), 0o600))
	res, err = localcluster.InstallCRDs(s.ctx, s.cluster.Kubeconfig, changed)
	require.NoError(t, err)
	assert.Equal(t, []string{"verticalpodautoscalers.autoscaling.k8s.io"}, res.Applied)
	crd, err := s.dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}).
		Get(s.ctx, "verticalpodautoscalers.autoscaling.k8s.io", metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotEmpty(t, crd.GetAnnotations()[localcluster.CRDHashAnnotation])
	// And back, so the stack's own check of the original file holds.
	res, err = localcluster.InstallCRDs(s.ctx, s.cluster.Kubeconfig, filepath.Join(s.opts.CRDDir, "vpa.yaml"))
	require.NoError(t, err)
	assert.Len(t, res.Applied, 1)
}
