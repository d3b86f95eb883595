package localcluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Client returns a clientset for the admin kubeconfig.
func Client(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	return kubernetes.NewForConfig(cfg)
}

// waitReady polls the API server's /readyz as the admin user.
func waitReady(ctx context.Context, stateDir, server string, timeout time.Duration) error {
	cs, err := Client(KubeconfigPath(stateDir))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s/readyz: %w (last: %v)", server, ctx.Err(), last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// ensureNodes registers n fake nodes, one per zone, for kwok to manage and
// waits until all of them report Ready.
func ensureNodes(ctx context.Context, kubeconfig string, n int, timeout time.Duration) error {
	cs, err := Client(kubeconfig)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	names := make([]string, n)
	for i := range n {
		name := fmt.Sprintf("kwok-node-%d", i)
		names[i] = name
		// Ephemeral storage too: every container requests it, and a node
		// without it schedules nothing.
		capacity := corev1.ResourceList{
			corev1.ResourceCPU:              resource.MustParse("16"),
			corev1.ResourceMemory:           resource.MustParse("64Gi"),
			corev1.ResourcePods:             resource.MustParse("110"),
			corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
		}
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name: name,
				Annotations: map[string]string{
					"kwok.x-k8s.io/node":           "fake",
					"node.alpha.kubernetes.io/ttl": "0",
				},
				Labels: map[string]string{
					"type":                          "kwok",
					"kubernetes.io/hostname":        name,
					"kubernetes.io/os":              "linux",
					"kubernetes.io/arch":            "amd64",
					"topology.kubernetes.io/region": "local",
					"topology.kubernetes.io/zone":   fmt.Sprintf("local-%c", 'a'+i%26),
				},
			},
			Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
		}
		_, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			err = ensureCapacity(ctx, cs, name, capacity)
		}
		if err != nil {
			return fmt.Errorf("creating node %s: %w", name, err)
		}
	}
	for {
		notReady := ""
		for _, name := range names {
			node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil || !nodeReady(node) {
				notReady = name
				break
			}
		}
		if notReady == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s not Ready: %w", notReady, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// ensureCapacity gives a node made by an older version the resources it
// lacks (a resumed cluster keeps its nodes).
func ensureCapacity(ctx context.Context, cs kubernetes.Interface, name string, capacity corev1.ResourceList) error {
	node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	changed := false
	for res, q := range capacity {
		if _, ok := node.Status.Capacity[res]; !ok {
			if node.Status.Capacity == nil {
				node.Status.Capacity, node.Status.Allocatable = corev1.ResourceList{}, corev1.ResourceList{}
			}
			node.Status.Capacity[res], node.Status.Allocatable[res] = q, q
			changed = true
		}
	}
	if !changed {
		return nil
	}
	_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
	return err
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func ensureNamespaces(ctx context.Context, kubeconfig string, names []string) error {
	if len(names) == 0 {
		return nil
	}
	cs, err := Client(kubeconfig)
	if err != nil {
		return err
	}
	for _, name := range names {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", name, err)
		}
	}
	return nil
}
