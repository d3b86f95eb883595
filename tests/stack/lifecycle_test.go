package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bulwark-platform/bulwark/internal/naming"
)

func (s *stack) previewIsEmpty(t *testing.T) {
	_, err := s.runner.Preview(s.ctx, optpreview.ExpectNoChanges())
	require.NoError(t, err, "platform layer")
	_, err = s.vault.Preview(s.ctx, optpreview.ExpectNoChanges())
	require.NoError(t, err, "Vault layer")
}

func (s *stack) badValueFailsPreview(t *testing.T) {
	stackFile := filepath.Join(s.project, "stacks", "Pulumi.ci.yaml")
	orig, err := os.ReadFile(stackFile)
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.WriteFile(stackFile, orig, 0o600) })
	bad := strings.Replace(string(orig), "config:\n", "config:\n  bulwark:workloads:\n    replicas: -1\n  bulwark:replicaCount: 3\n", 1)
	require.NotEqual(t, string(orig), bad, "stack file has no config section")
	require.NoError(t, os.WriteFile(stackFile, []byte(bad), 0o600))
	res, err := s.runner.Preview(s.ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bulwark:workloads.replicas: must be at least 1, got -1")
	assert.Contains(t, err.Error(), "bulwark:replicaCount: unknown configuration key")
	for op, n := range res.ChangeSummary {
		assert.Zero(t, n, "preview of a bad stack planned %d %s", n, op)
	}
}

func (s *stack) destroyLeavesNothing(t *testing.T) {
	// In reverse: the Vault layer configures the platform's accounts.
	require.NoError(t, s.vault.Destroy(s.ctx))
	t.Run("OpenBao holds none of the Vault layer's mounts, auth methods or policies", s.vaultLayerLeavesNothing)
	require.NoError(t, s.runner.Destroy(s.ctx))
	s.destroyed = true
	for _, name := range s.out.Namespaces {
		_, err := retry.DoWithRetryE(t, "namespace "+name+" deleted", 60, time.Second, func() (string, error) {
			_, err := s.cs.CoreV1().Namespaces().Get(s.ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return "gone", nil
			}
			return "", fmt.Errorf("namespace %s still present (%v)", name, err)
		})
		require.NoError(t, err)
	}
	deps, err := s.cs.AppsV1().Deployments("").List(s.ctx, metav1.ListOptions{LabelSelector: naming.PartOfLabel + "=" + naming.PartOf})
	require.NoError(t, err)
	assert.Empty(t, deps.Items)
	// Issued secrets go with their certificates (owner references), in
	// the adopted namespaces too.
	_, err = retry.DoWithRetryE(t, "the root CA secret collected", 60, time.Second, func() (string, error) {
		_, err := s.cs.CoreV1().Secrets("cert-manager").Get(s.ctx, naming.RootCASecret, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "gone", nil
		}
		return "", fmt.Errorf("secret %s still present (%v)", naming.RootCASecret, err)
	})
	require.NoError(t, err)
}
