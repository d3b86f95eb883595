package stack

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/bulwark-platform/bulwark/internal/harness/paths"
	"github.com/bulwark-platform/bulwark/internal/naming"
	"github.com/bulwark-platform/bulwark/internal/testkit/kubescore"
)

// The kinds kube-score judges, read live from the stack's namespaces.
var scoredKinds = []schema.GroupVersionResource{
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Version: "v1", Resource: "services"},
	{Version: "v1", Resource: "serviceaccounts"},
	{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"},
	{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"},
	{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"},
}

// kube-score over the objects the stack created, as the API server holds
// them: every critical must be explained in kube-score-ignores.yaml, and
// every entry there must still explain one.
func (s *stack) kubeScoreIsClean(t *testing.T) {
	ignores, err := kubescore.LoadIgnores("kube-score-ignores.yaml")
	require.NoError(t, err)
	var docs []byte
	objects := 0
	for _, gvr := range scoredKinds {
		for _, u := range s.list(t, gvr, s.out.Namespaces...) {
			if u.GetLabels()[naming.PartOfLabel] != naming.PartOf && gvr.Resource != "networkpolicies" {
				continue // the namespace's default service account, say
			}
			u.SetManagedFields(nil)
			u.SetResourceVersion("")
			u.SetUID("")
			u.SetCreationTimestamp(metav1.Time{})
			y, err := yaml.Marshal(u.Object)
			require.NoError(t, err)
			docs = append(append(docs, "---\n"...), y...)
			objects++
		}
	}
	require.Greater(t, objects, 10, "too few objects to score")
	findings, err := kubescore.Criticals(s.ctx, filepath.Join(paths.BinDir(), "kube-score"), docs)
	require.NoError(t, err)
	unexplained, unused := kubescore.Judge(findings, ignores)
	t.Logf("kube-score: %d objects, %d criticals, %d explained by %d ignores", objects, len(findings), len(findings)-len(unexplained), len(ignores))
	assert.Empty(t, unexplained, "criticals kube-score-ignores.yaml does not explain")
	assert.Empty(t, unused, "ignores that explain no finding: remove them")
}
