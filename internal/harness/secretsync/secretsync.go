// Package secretsync reads what the External Secrets controller made of
// the stack's ExternalSecrets: whether each is Ready with its Secret
// written. `make up` reports it in the secrets posture and the stack
// check asserts it.
package secretsync

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/objpath"
)

// Wait polls the ExternalSecrets named "namespace/name" until all are
// Ready or timeout passes, and returns why each one that is not Ready
// isn't (its Ready condition's reason and message, or that it is
// missing). An error is returned only when the cluster cannot be read.
func Wait(ctx context.Context, kubeconfig string, names []string, timeout time.Duration) (map[string]string, error) {
	if len(names) == 0 {
		return map[string]string{}, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w", kubeconfig, err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	for {
		pending, err := State(ctx, dc, names)
		if err != nil || len(pending) == 0 || time.Now().After(deadline) {
			return pending, err
		}
		select {
		case <-ctx.Done():
			return pending, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// State returns the ExternalSecrets of names that are not Ready, each
// with the reason.
func State(ctx context.Context, dc dynamic.Interface, names []string) (map[string]string, error) {
	pending := map[string]string{}
	for _, n := range names {
		ns, name, ok := strings.Cut(n, "/")
		if !ok {
			return nil, fmt.Errorf("ExternalSecret %q: want namespace/name", n)
		}
		u, err := dc.Resource(kinds.ExternalSecret.GVR()).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			pending[n] = err.Error()
			continue
		}
		if why := notReady(u.Object); why != "" {
			pending[n] = why
		}
	}
	return pending, nil
}

// notReady is empty when the object's Ready condition is True, else why.
func notReady(obj map[string]any) string {
	conds, _ := objpath.Get(obj, "status", "conditions").([]any)
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if objpath.String(m, "type") != "Ready" {
			continue
		}
		if objpath.String(m, "status") == "True" {
			return ""
		}
		return objpath.String(m, "reason") + ": " + objpath.String(m, "message")
	}
	return "no Ready condition yet"
}
