// Package stack holds the stack checks: the ci stack deployed by the real
// Pulumi engine (Automation API, inline program) to a real Kubernetes
// control plane (etcd, kube-apiserver, controller-manager, scheduler) with
// kwok nodes and the real cert-manager controller, then checked with
// terratest and client-go, one named subtest per promise.
//
// What this proves and what it cannot: every object, field and default is
// accepted by a real API server (with Pod Security Admission enforcing
// "restricted"), Deployments roll out and Services get endpoints under
// Pulumi's normal await logic, cert-manager really issues the CA chain,
// kube-score finds nothing unexplained, a second preview is empty and
// destroy removes everything. No real containers run (kwok simulates the
// kubelet), so nothing inside a pod is exercised here: probes are never
// called and images are never pulled.
//
// It needs the pinned tools (`make tools`) and runs when BULWARK_INTEGRATION=1,
// as `make test` sets.
package stack

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gruntwork-io/terratest/modules/k8s"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/internal/harness/localcluster"
	"github.com/bulwark-platform/bulwark/internal/harness/localstack"
	"github.com/bulwark-platform/bulwark/internal/harness/localvault"
	"github.com/bulwark-platform/bulwark/internal/harness/paths"
	"github.com/bulwark-platform/bulwark/internal/harness/stackrun"
)

// stackOutputs is the contract between the program and its checks.
type stackOutputs struct {
	Environment string   `json:"environment"`
	Namespaces  []string `json:"namespaces"`
	Services    []struct {
		Name                         string `json:"name"`
		Namespace                    string `json:"namespace"`
		ServiceAccount               string `json:"serviceAccount"`
		AutomountServiceAccountToken bool   `json:"automountServiceAccountToken"`
		Port                         int    `json:"port"`
	} `json:"services"`
	Workloads struct {
		Replicas                      int32  `json:"replicas"`
		MinReplicas                   int32  `json:"minReplicas"`
		MaxReplicas                   int32  `json:"maxReplicas"`
		VPAMode                       string `json:"vpaMode"`
		TerminationGracePeriodSeconds int64  `json:"terminationGracePeriodSeconds"`
		PreStopSleepSeconds           int64  `json:"preStopSleepSeconds"`
		DisruptionBudget              struct {
			MinAvailable   int `json:"minAvailable"`
			MaxUnavailable int `json:"maxUnavailable"`
		} `json:"disruptionBudget"`
	} `json:"workloads"`
	Certificates struct {
		RootCADuration string `json:"rootCADuration"`
		LeafDuration   string `json:"leafDuration"`
	} `json:"certificates"`
}

// stack is what every promise check reads: the cluster, clients, the
// stack's configuration and outputs, and its runner.
type stack struct {
	ctx     context.Context
	cluster *localcluster.Cluster
	opts    localcluster.Options
	kubectl *k8s.KubectlOptions
	cs      kubernetes.Interface
	dyn     dynamic.Interface
	project string
	runner  *stackrun.Runner
	result  *stackrun.Result
	// vault is the Vault layer's runner; vaultResult its update.
	vault       *stackrun.Runner
	vaultResult *stackrun.Result
	cfg         *config.Config
	out         stackOutputs
	// destroyed is set once the destroy check ran, so cleanup skips it.
	destroyed bool
}

func TestCIStackOnLocalCluster(t *testing.T) {
	if os.Getenv("BULWARK_INTEGRATION") != "1" {
		t.Skip("stack check: set BULWARK_INTEGRATION=1 (make test does) after `make tools`")
	}
	s := setUp(t)
	t.Run("add-on CRDs are skipped when unchanged and updated when changed", s.crdsAreHashed)
	t.Run("the security posture of every object holds", s.posture)
	t.Run("namespaces enforce Pod Security restricted", s.namespacesEnforceRestricted)
	t.Run("the API server refuses a pod that may run as root in an application namespace", s.podSecurityRefusesRoot)
	for _, svc := range s.out.Services {
		t.Run("service "+svc.Name+" runs as its outputs promise", func(t *testing.T) {
			s.serviceRuns(t, svc.Name, svc.Namespace, svc.ServiceAccount, svc.AutomountServiceAccountToken, svc.Port)
		})
	}
	t.Run("the live mesh and network policy permit exactly the graph", s.livePolicyIsTheGraph)
	t.Run("the edge as the API server holds it", s.edgeHolds)
	t.Run("cert-manager issues the CA chain as configured", s.caChainIsIssued)
	t.Run("a certificate renews with a new key and serial", s.certificateRenews)
	t.Run("kube-score finds no unexplained critical", s.kubeScoreIsClean)
	t.Run("the installing stacks' data stores are accepted by the API server", s.dataStoresAreAccepted)
	t.Run("every stack's Keycloak and realm import are accepted against the operator's CRDs", s.keycloakObjectsAreAccepted)
	t.Run("Vault: each service's token reads exactly its own paths and credentials", s.leastPrivilegeOnTheRealServer)
	t.Run("every ExternalSecret is Ready and its Secret holds the OpenBao value", s.externalSecretsAreSynced)
	t.Run("a value rotated in OpenBao reaches its Secret within the refresh interval", s.rotationReachesTheSecret)
	t.Run("every live Deployment satisfies its service's config contract", s.liveConfigContractHolds)
	t.Run("a second preview of both layers shows no changes", s.previewIsEmpty)
	t.Run("a bad stack value fails the preview before registering anything", s.badValueFailsPreview)
	t.Run("destroy leaves none of the stack's objects", s.destroyLeavesNothing)
}

// setUp starts a private local cluster, deploys the ci stack and reads its
// outputs. Cleanup is registered before anything starts, so a failure
// midway still stops every process and destroys the stack.
func setUp(t *testing.T) *stack {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	t.Cleanup(cancel)
	require.NoError(t, paths.PrependPath())
	bin := paths.BinDir()
	_, err := os.Stat(filepath.Join(bin, localcluster.CertManager))
	require.NoError(t, err, "the cert-manager controller is not built: run `make tools` (it needs ../shared/vendor)")

	state := t.TempDir()
	s := &stack{ctx: ctx}
	s.opts = localcluster.Options{
		StateDir: filepath.Join(state, "cluster"), BinDir: bin, StagesDir: paths.StagesDir(),
		// The VPA, Istio and cert-manager CRDs of the pinned modules, and
		// the add-ons' namespaces: the ci stack adopts them (install: false).
		CRDDir: paths.CRDDir(), Namespaces: paths.AddonNamespaces,
		Log: t.Logf,
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kwok", localcluster.CertManager, localcluster.ExternalSecrets, localvault.Process} {
				raw, _ := os.ReadFile(filepath.Join(s.opts.StateDir, "logs", c+".log"))
				lines := strings.Split(string(raw), "\n")
				t.Logf("--- tail of %s.log ---\n%s", c, strings.Join(lines[max(0, len(lines)-15):], "\n"))
			}
		}
		_ = localcluster.Down(s.opts.StateDir)
	})
	s.cluster, err = localcluster.Up(ctx, s.opts)
	require.NoError(t, err)
	s.kubectl = k8s.NewKubectlOptions("", s.cluster.Kubeconfig, "")
	restCfg, err := k8s.LoadApiClientConfigE(s.cluster.Kubeconfig, "")
	require.NoError(t, err)
	s.dyn, err = dynamic.NewForConfig(restCfg)
	require.NoError(t, err)
	s.cs, err = kubernetes.NewForConfig(restCfg)
	require.NoError(t, err)

	s.project = copyProject(t, filepath.Join(state, "project"))
	s.cfg, err = config.LoadStack(s.project, "ci")
	require.NoError(t, err)
	// The ci stack's stores are the local cluster's PostgreSQL and Redis,
	// provisioned with its data model and handed over as `make up` does.
	require.NotNil(t, s.cluster.Stores, "the local cluster's data stores are off (%s): install postgresql and redis-server (.ci/run does)", s.cluster.StoresOff)
	require.NotNil(t, s.cluster.Vault, "the local cluster's OpenBao is off (%s): run `make tools`", s.cluster.VaultOff)
	require.Empty(t, s.cluster.ExternalSecretsOff, "the External Secrets controller is off: run `make tools`")
	stores, inputs, err := localstack.HandOver(ctx, s.project, "ci", s.cluster, false)
	require.NoError(t, err)
	require.NotNil(t, stores, "the ci stack does not use the local stores")
	s.runner = &stackrun.Runner{
		ProjectDir: s.project, StateDir: filepath.Join(state, "pulumi"), Stack: "ci",
		Kubeconfig: s.cluster.Kubeconfig, Stores: stores, Vault: inputs, Out: testWriter{t}, Log: t.Logf,
	}
	vault := *s.runner
	vault.Layer = stackrun.Vault
	s.vault = &vault
	t.Cleanup(func() {
		if !s.destroyed {
			_ = s.vault.Destroy(context.Background())
			_ = s.runner.Destroy(context.Background())
		}
	})
	s.result, err = s.runner.Up(ctx)
	require.NoError(t, err, "pulumi up of the ci stack")
	s.vaultResult, err = s.vault.Up(ctx)
	require.NoError(t, err, "pulumi up of the ci stack's Vault layer")
	raw, err := json.Marshal(map[string]any{
		"environment": s.result.Up.Outputs["environment"].Value, "namespaces": s.result.Up.Outputs["namespaces"].Value,
		"services": s.result.Up.Outputs["services"].Value, "workloads": s.result.Up.Outputs["workloads"].Value,
		"certificates": s.result.Up.Outputs["certificates"].Value,
	})
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &s.out))
	require.Equal(t, "ci", s.out.Environment)
	require.NotEmpty(t, s.out.Services)
	return s
}

func (s *stack) posture(t *testing.T) {
	for _, c := range stackrun.Posture(s.result.Resources) {
		assert.True(t, c.OK(), "posture %q: %d/%d, offenders %v", c.Name, c.Pass, c.Of, c.Offenders)
	}
}

// copyProject copies Pulumi.yaml and the stack files into dir, so that
// the passphrase salt Pulumi writes into a new stack's file stays out of
// the checkout.
func copyProject(t *testing.T, dir string) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	// Pulumi.yaml's main (infra/) must exist even though the inline
	// program never reads it.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "stacks"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "infra"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, stackrun.VaultDir, "stacks"), 0o755))
	files, err := filepath.Glob(filepath.Join(root, "stacks", "Pulumi.*.yaml"))
	require.NoError(t, err)
	vaultFiles, err := filepath.Glob(filepath.Join(root, stackrun.VaultDir, "stacks", "Pulumi.*.yaml"))
	require.NoError(t, err)
	files = append(files, vaultFiles...)
	for _, f := range append(files, filepath.Join(root, "Pulumi.yaml"), filepath.Join(root, stackrun.VaultDir, "Pulumi.yaml")) {
		rel, err := filepath.Rel(root, f)
		require.NoError(t, err)
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, rel), raw, 0o644))
	}
	return dir
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = testWriter{}
