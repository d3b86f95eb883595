// Package bench holds the benchmarks that need the local cluster: the
// cost of a no-change preview of the local stack, end to end as a user
// runs it, against a raw Pulumi preview of as many resources on the same
// cluster. `make bench` runs it (BULWARK_BENCH=1) and prints one line.
package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/internal/harness/localcluster"
	"github.com/bulwark-platform/bulwark/internal/harness/localstores"
	"github.com/bulwark-platform/bulwark/internal/harness/paths"
	"github.com/bulwark-platform/bulwark/internal/harness/stackrun"
)

const rounds = 5

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func TestNoChangePreviewAgainstRawPulumi(t *testing.T) {
	if os.Getenv("BULWARK_BENCH") != "1" {
		t.Skip("benchmark: make bench runs it (BULWARK_BENCH=1), after make tools")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.NoError(t, paths.PrependPath())
	state := t.TempDir()
	makeCmd := func(target string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "make", "-s", target, "STACK=local")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "BULWARK_STATE_DIR="+state)
		return cmd
	}
	t.Cleanup(func() {
		_ = makeCmd("destroy").Run()
		_ = localcluster.Down(filepath.Join(state, "cluster"))
	})
	if out, err := makeCmd("up").CombinedOutput(); err != nil {
		t.Fatalf("make up: %v\n%s", err, out)
	}

	// What the user runs: make preview, from the make process to its exit.
	var ours []time.Duration
	for range rounds {
		start := time.Now()
		out, err := makeCmd("preview").CombinedOutput()
		require.NoError(t, err, "%s", out)
		ours = append(ours, time.Since(start))
	}

	// The same stack through the runner alone, to count its resources.
	kubeconfig := localcluster.KubeconfigPath(filepath.Join(state, "cluster"))
	cfg, err := config.LoadStack(root, "local")
	require.NoError(t, err)
	running, err := localstores.Current(filepath.Join(state, "cluster"))
	require.NoError(t, err)
	stores, err := running.HandOver(ctx, cfg)
	require.NoError(t, err)
	local := &stackrun.Runner{ProjectDir: root, StateDir: state, Stack: "local", Kubeconfig: kubeconfig, Stores: stores}
	res, err := local.Preview(ctx, optpreview.ExpectNoChanges())
	require.NoError(t, err)
	resources := res.ChangeSummary["same"]
	require.Greater(t, resources, 10)

	// A raw program of as many resources (a provider, a namespace and
	// ConfigMaps) on the same cluster, previewed the same way.
	rawDir := filepath.Join(state, "raw")
	require.NoError(t, os.MkdirAll(filepath.Join(rawDir, "project", "stacks"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(rawDir, "project", "Pulumi.yaml"), []byte("name: bulwark\nruntime: go\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(rawDir, "project", "stacks", "Pulumi.local.yaml"), []byte("config: {}\n"), 0o644))
	raw := &stackrun.Runner{ProjectDir: filepath.Join(rawDir, "project"), StateDir: rawDir, Stack: "local", Program: rawProgram(kubeconfig, resources-3)}
	t.Cleanup(func() { _ = raw.Destroy(context.Background()) })
	_, err = raw.Up(ctx)
	require.NoError(t, err)
	var theirs []time.Duration
	for range rounds {
		start := time.Now()
		res, err := raw.Preview(ctx, optpreview.ExpectNoChanges())
		require.NoError(t, err)
		theirs = append(theirs, time.Since(start))
		require.Equal(t, resources, res.ChangeSummary["same"], "the raw stack must have as many resources")
	}
	m, r := median(ours), median(theirs)
	fmt.Printf("BENCH no-change preview of local (%d resources): make preview %.2f s end to end = %.2f× a raw Pulumi preview of as many resources (%.2f s); median of %d\n",
		resources, m.Seconds(), float64(m)/float64(r), r.Seconds(), rounds)
}

// rawProgram registers a provider, a namespace and n ConfigMaps: the stack
// and the provider make n+3 resources, like Bulwark's stack of as many.
func rawProgram(kubeconfig string, n int) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		p, err := kubernetes.NewProvider(ctx, "k8s", &kubernetes.ProviderArgs{Kubeconfig: pulumi.String(kubeconfig)})
		if err != nil {
			return err
		}
		ns, err := corev1.NewNamespace(ctx, "bench", &corev1.NamespaceArgs{Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("bench-raw")}}, pulumi.Provider(p))
		if err != nil {
			return err
		}
		for i := range n {
			if _, err := corev1.NewConfigMap(ctx, fmt.Sprintf("cm-%d", i), &corev1.ConfigMapArgs{
				Metadata: &metav1.ObjectMetaArgs{Name: pulumi.Sprintf("cm-%d", i), Namespace: ns.Metadata.Name().Elem()},
				Data:     pulumi.StringMap{"k": pulumi.String("v")},
			}, pulumi.Provider(p)); err != nil {
				return err
			}
		}
		return nil
	}
}
