package localcluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// CRDHashAnnotation holds the SHA-256 of the YAML document a CRD was
// installed from, so an unchanged document is recognised without parsing it.
const CRDHashAnnotation = "bulwark.dev/crd-sha256"

// CRDResult says what InstallCRDs did.
type CRDResult struct {
	// Unchanged CRDs were installed already at the same content.
	Unchanged int
	// Applied were created or updated.
	Applied []string
}

// InstallCRDs makes the API server serve every CustomResourceDefinition
// in the YAML files (multi-document) at the files' content, and waits
// until it serves each one it applied. A document already installed at
// the same content (by its hash annotation) costs one hash and nothing
// else: every `make up`, `preview` and `destroy` runs this, and parsing
// and re-sending megabytes of CRDs each time took seconds.
func InstallCRDs(ctx context.Context, kubeconfig string, files ...string) (CRDResult, error) {
	var res CRDResult
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return res, fmt.Errorf("loading kubeconfig %s: %w", kubeconfig, err)
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return res, err
	}
	installed, err := meta.Resource(crdGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return res, fmt.Errorf("listing CRDs: %w", err)
	}
	hashes := map[string]bool{}
	for _, crd := range installed.Items {
		if h := crd.Annotations[CRDHashAnnotation]; h != "" {
			hashes[h] = true
		}
	}
	var dyn dynamic.Interface // only needed when something changed
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			return res, err
		}
		for i, doc := range bytes.Split(raw, []byte("\n---")) {
			if !bytes.Contains(doc, []byte("CustomResourceDefinition")) {
				continue
			}
			sum := sha256.Sum256(doc)
			hash := hex.EncodeToString(sum[:])
			if hashes[hash] {
				res.Unchanged++
				continue
			}
			var obj map[string]any
			if err := yaml.Unmarshal(doc, &obj); err != nil {
				return res, fmt.Errorf("%s: document %d: %w", file, i, err)
			}
			if obj == nil || obj["kind"] != "CustomResourceDefinition" {
				continue
			}
			if dyn == nil {
				if dyn, err = dynamic.NewForConfig(cfg); err != nil {
					return res, err
				}
			}
			u := &unstructured.Unstructured{Object: obj}
			annotations := u.GetAnnotations()
			if annotations == nil {
				annotations = map[string]string{}
			}
			annotations[CRDHashAnnotation] = hash
			u.SetAnnotations(annotations)
			if err := apply(ctx, dyn, u); err != nil {
				return res, fmt.Errorf("CRD %s from %s: %w", u.GetName(), filepath.Base(file), err)
			}
			res.Applied = append(res.Applied, u.GetName())
		}
	}
	if len(res.Applied) == 0 {
		return res, nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, name := range res.Applied {
		for {
			u, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if err == nil && established(u) {
				break
			}
			select {
			case <-ctx.Done():
				return res, fmt.Errorf("CRD %s not established: %w", name, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return res, nil
}

// apply creates the CRD, or replaces an existing one's definition (an
// older version of the same add-on, or one installed before hashes were).
func apply(ctx context.Context, dyn dynamic.Interface, u *unstructured.Unstructured) error {
	_, err := dyn.Resource(crdGVR).Create(ctx, u, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	current, err := dyn.Resource(crdGVR).Get(ctx, u.GetName(), metav1.GetOptions{})
	if err != nil {
		return err
	}
	u.SetResourceVersion(current.GetResourceVersion())
	_, err = dyn.Resource(crdGVR).Update(ctx, u, metav1.UpdateOptions{})
	return err
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
