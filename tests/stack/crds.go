package stack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// moduleDir is where the Go module cache holds a dependency of this module,
// at the version go.mod pins: CRDs are read from there, never copied into
// the repository.
func moduleDir(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	require.NoError(t, err, "go list -m %s", module)
	dir := strings.TrimSpace(string(out))
	require.NotEmpty(t, dir, "module %s is not in the module cache (go mod download)", module)
	return dir
}

// installVPACRD installs the VerticalPodAutoscaler CRDs of the pinned VPA
// module: the cluster has no VPA, but the stack's VPA objects must pass
// the real schema.
func installVPACRD(t *testing.T, ctx context.Context, dyn dynamic.Interface) {
	t.Helper()
	applyCRDs(t, ctx, dyn, filepath.Join(moduleDir(t, "k8s.io/autoscaler/vertical-pod-autoscaler"), "deploy", "vpa-v1-crd-gen.yaml"))
}

func applyCRDs(t *testing.T, ctx context.Context, dyn dynamic.Interface, file string) {
	t.Helper()
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	var names []string
	for _, doc := range bytes.Split(raw, []byte("\n---")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var obj map[string]any
		require.NoError(t, yaml.Unmarshal(doc, &obj), file)
		if obj == nil || obj["kind"] != "CustomResourceDefinition" {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		_, err := dyn.Resource(crdGVR).Create(ctx, u, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			require.NoError(t, err, "creating CRD %s", u.GetName())
		}
		names = append(names, u.GetName())
	}
	require.NotEmpty(t, names, "no CRDs in %s", file)
	deadline := time.Now().Add(time.Minute)
	for _, name := range names {
		for {
			u, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			require.NoError(t, err)
			if established(u) {
				break
			}
			require.True(t, time.Now().Before(deadline), fmt.Sprintf("CRD %s not established", name))
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func established(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
