package secretsync

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/bulwark-platform/bulwark/internal/kinds"
)

func externalSecret(name string, conds ...map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": kinds.ExternalSecret.APIVersion(), "kind": "ExternalSecret",
		"metadata": map[string]any{"name": name, "namespace": "shop"},
	}}
	if len(conds) > 0 {
		list := make([]any, len(conds))
		for i, c := range conds {
			list[i] = c
		}
		u.Object["status"] = map[string]any{"conditions": list}
	}
	return u
}

// Only a Ready=True condition counts; everything else is reported with
// its reason, and a missing object is pending, not an error.
func TestStateReportsWhyEachSecretIsNotSynced(t *testing.T) {
	gvr := kinds.ExternalSecret.GVR()
	dc := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{gvr: "ExternalSecretList"},
		externalSecret("ok", map[string]any{"type": "Ready", "status": "True"}),
		externalSecret("denied", map[string]any{"type": "Ready", "status": "False", "reason": "SecretSyncedError", "message": "403 permission denied"}),
		externalSecret("new"),
	)
	got, err := State(context.Background(), dc, []string{"shop/ok", "shop/denied", "shop/new", "shop/gone"})
	if err != nil {
		t.Fatal(err)
	}
	if _, bad := got["shop/ok"]; bad || len(got) != 3 {
		t.Fatalf("pending %v", got)
	}
	if !strings.Contains(got["shop/denied"], "403 permission denied") || got["shop/new"] != "no Ready condition yet" ||
		!strings.Contains(got["shop/gone"], "not found") {
		t.Fatalf("reasons %v", got)
	}
	if _, err := State(context.Background(), dc, []string{"no-namespace"}); err == nil {
		t.Fatal("a name without namespace accepted")
	}
}
