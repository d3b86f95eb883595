// Package localcluster runs a real Kubernetes control plane as local
// processes: etcd, kube-apiserver, kube-controller-manager, kube-scheduler
// and kwok, whose fake nodes run pods "Ready" without containers. The API,
// its admission, validation, garbage collection, namespace finalisation,
// Deployment rollouts and Service endpoints are the real upstream code; only
// the kubelet is simulated. Processes outlive the command that starts them
// (make up, then make destroy later) and are tracked by pid files in the
// state folder. The cert-manager and External Secrets controllers run
// beside the control plane when built; the data stores, PostgreSQL and
// Redis (package localstores), and OpenBao (package localvault) start
// after it and stop before it.
package localcluster

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	cmconfig "github.com/cert-manager/cert-manager/pkg/apis/config/controller/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/bulwark-platform/bulwark/internal/harness/localstores"
	"github.com/bulwark-platform/bulwark/internal/harness/localvault"
	"github.com/bulwark-platform/bulwark/internal/harness/proc"
)

// Options locate the tools and the state folder.
type Options struct {
	// StateDir holds PKI, etcd data, logs, pid files and kubeconfigs.
	StateDir string
	// BinDir holds etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler and kwok, and when built cert-manager-controller,
	// external-secrets and bao.
	BinDir string
	// StagesDir holds kwok's stage definitions.
	StagesDir string
	// CRDDir holds CRDs that a real cluster would have from its add-ons
	// (the VerticalPodAutoscaler's, Istio's); every *.yaml in it is installed.
	CRDDir string
	// Namespaces are created at start: those of add-ons an adopting stack
	// (install: false) expects to exist, such as Istio's root namespace.
	Namespaces []string
	// Nodes is the number of fake nodes, spread over as many zones; default 3.
	Nodes int
	// NoStores leaves the data stores off. By default PostgreSQL and Redis
	// run beside the control plane (package localstores) when their
	// binaries are installed; when they are not, the cluster starts
	// without them and says so.
	NoStores bool
	// NoVault leaves OpenBao off. By default it runs beside the control
	// plane (package localvault) when `make tools` could build bao; when
	// it could not, the cluster starts without it and says so.
	NoVault bool
	// Log receives progress lines; nil discards them.
	Log func(format string, args ...any)
}

// Cluster is a running local cluster.
type Cluster struct {
	// Kubeconfig is the admin kubeconfig path.
	Kubeconfig string
	// Server is the API server URL.
	Server string
	// Stores are the data stores (PostgreSQL and Redis on loopback, their
	// credentials files in the state folder); nil when they are off.
	Stores *localstores.Stores
	// StoresOff says why Stores is nil.
	StoresOff string
	// Vault is the local OpenBao server (HTTP on loopback, root token and
	// unseal key in files of the state folder); nil when it is off.
	Vault *localvault.Vault
	// VaultOff says why Vault is nil.
	VaultOff string
	// ExternalSecretsOff says why the External Secrets controller does
	// not run; empty when it runs.
	ExternalSecretsOff string
}

// components in start order; each is stopped in reverse.
var components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// CertManager is the cert-manager controller: it runs beside the control
// plane, out of cluster, when `make tools` could build it, and issues the
// stack's Certificates for real. Stopped before the core components.
const CertManager = "cert-manager-controller"

// controllerComponents run beside the control plane, in start order.
var controllerComponents = []string{CertManager, ExternalSecrets}

// KubeconfigPath is where the admin kubeconfig of the cluster in stateDir is written.
func KubeconfigPath(stateDir string) string { return filepath.Join(stateDir, "kubeconfig") }

// CAPath is the cluster CA's certificate (PEM), which signs the API
// server's serving certificate: what Vault's Kubernetes auth method needs
// as kubernetes_ca_cert to call the TokenReview API.
func CAPath(stateDir string) string { return filepath.Join(stateDir, "pki", "ca.crt") }

// ServiceAccountIssuer is the `iss` of the cluster's service-account
// tokens (a real cluster's default).
const ServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// Up starts the cluster in o.StateDir, or returns the one already running
// there. It waits until the API answers and every fake node is Ready.
func Up(ctx context.Context, o Options) (*Cluster, error) {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	for _, c := range components {
		if _, err := os.Stat(filepath.Join(o.BinDir, c)); err != nil {
			return nil, fmt.Errorf("local cluster: %s not found in %s (run `make tools`): %w", c, o.BinDir, err)
		}
	}
	pki := filepath.Join(o.StateDir, "pki")
	newIdentities, err := ensurePKI(pki)
	if err != nil {
		return nil, fmt.Errorf("local cluster PKI: %w", err)
	}
	if Running(o.StateDir) {
		cl := &Cluster{Kubeconfig: KubeconfigPath(o.StateDir)}
		if server, err := readServer(o.StateDir); err == nil && !newIdentities {
			cl.Server = server
			if err := waitReady(ctx, o.StateDir, server, 30*time.Second); err == nil {
				if err := o.addons(ctx, cl.Kubeconfig); err != nil {
					return nil, err
				}
				if err := o.controllers(ctx, cl); err != nil {
					return nil, err
				}
				if err := o.stores(ctx, cl); err != nil {
					return nil, err
				}
				if err := o.vault(ctx, cl); err != nil {
					return nil, err
				}
				o.logf("local cluster already running at %s", server)
				return cl, nil
			}
		}
		// A cluster whose API server predates an identity (a component
		// added since) must restart to read the new token.
		o.logf("local cluster in %s is unhealthy or outdated; restarting it", o.StateDir)
		if err := Down(o.StateDir); err != nil {
			return nil, err
		}
	}
	if err := Down(o.StateDir); err != nil { // clear leftovers of a crash
		return nil, err
	}
	ports, err := proc.FreePorts(6)
	if err != nil {
		return nil, fmt.Errorf("local cluster: finding free ports: %w", err)
	}
	etcdClient, etcdPeer, apiPort, kwokPort := ports[0], ports[1], ports[2], ports[3]
	// A resumed cluster keeps its API server's address when it is free:
	// what was configured with it (Vault's Kubernetes auth method calls
	// the TokenReview API there) stays valid across a restart.
	if prev, err := readServer(o.StateDir); err == nil {
		if p := previousPort(prev, ports); p != 0 {
			apiPort = p
		}
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	tokens, err := readTokens(filepath.Join(pki, "tokens.csv"))
	if err != nil {
		return nil, err
	}
	for _, id := range identities {
		if err := writeKubeconfig(filepath.Join(o.StateDir, "kubeconfig-"+id.name), server, filepath.Join(pki, "ca.crt"), id.user, tokens[id.user]); err != nil {
			return nil, err
		}
	}
	admin := KubeconfigPath(o.StateDir)
	if err := writeKubeconfig(admin, server, filepath.Join(pki, "ca.crt"), "bulwark-admin", tokens["bulwark-admin"]); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.StateDir, "server"), []byte(server), 0o600); err != nil {
		return nil, err
	}

	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	kc := func(name string) string { return filepath.Join(o.StateDir, "kubeconfig-"+name) }
	o.logf("starting etcd on 127.0.0.1:%d", etcdClient)
	if err := o.start("etcd",
		"--name=bulwark-local",
		"--data-dir="+filepath.Join(o.StateDir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", etcdPeer),
		fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", etcdPeer),
		fmt.Sprintf("--initial-cluster=bulwark-local=http://127.0.0.1:%d", etcdPeer),
		"--listen-metrics-urls=", "--quota-backend-bytes=2147483648",
	); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, etcdURL+"/health", 60*time.Second); err != nil {
		return nil, o.fail("etcd", err)
	}
	o.logf("starting kube-apiserver on %s", server)
	if err := o.start("kube-apiserver",
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", apiPort),
		"--tls-cert-file="+filepath.Join(pki, "apiserver.crt"),
		"--tls-private-key-file="+filepath.Join(pki, "apiserver.key"),
		"--client-ca-file="+filepath.Join(pki, "ca.crt"),
		"--token-auth-file="+filepath.Join(pki, "tokens.csv"),
		"--service-account-key-file="+filepath.Join(pki, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(pki, "sa.key"),
		"--service-account-issuer="+ServiceAccountIssuer,
		"--authorization-mode=Node,RBAC",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--allow-privileged=false",
		"--enable-admission-plugins=NodeRestriction",
		"--profiling=false",
		// The API server listens on loopback, which an Endpoints object may
		// not hold: don't publish it as the kubernetes Service's endpoint.
		"--endpoint-reconciler-type=none",
	); err != nil {
		return nil, err
	}
	if err := waitReady(ctx, o.StateDir, server, 90*time.Second); err != nil {
		return nil, o.fail("kube-apiserver", err)
	}
	o.logf("starting kube-controller-manager, kube-scheduler and kwok")
	if err := o.start("kube-controller-manager",
		"--kubeconfig="+kc("controller-manager"),
		"--leader-elect=false", "--secure-port=0",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+filepath.Join(pki, "sa.key"),
		"--root-ca-file="+filepath.Join(pki, "ca.crt"),
		"--controllers=*",
		"--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
	); err != nil {
		return nil, err
	}
	if err := o.start("kube-scheduler",
		"--kubeconfig="+kc("scheduler"),
		"--leader-elect=false", "--secure-port=0",
	); err != nil {
		return nil, err
	}
	kwokArgs := []string{
		"--kubeconfig=" + kc("kwok"),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-ip=10.0.0.1", "--cidr=10.0.0.1/24",
		fmt.Sprintf("--server-address=127.0.0.1:%d", kwokPort),
	}
	stages, err := filepath.Glob(filepath.Join(o.StagesDir, "*.yaml"))
	if err != nil || len(stages) == 0 {
		return nil, fmt.Errorf("local cluster: no kwok stage definitions in %s (run `make tools`)", o.StagesDir)
	}
	for _, s := range stages {
		kwokArgs = append(kwokArgs, "--config="+s)
	}
	if err := o.start("kwok", kwokArgs...); err != nil {
		return nil, err
	}
	if err := ensureNodes(ctx, admin, o.Nodes, 120*time.Second); err != nil {
		return nil, o.fail("kwok", err)
	}
	if err := o.addons(ctx, admin); err != nil {
		return nil, o.fail("kube-apiserver", err)
	}
	cl := &Cluster{Kubeconfig: admin, Server: server}
	if err := o.controllers(ctx, cl); err != nil {
		return nil, err
	}
	if err := o.stores(ctx, cl); err != nil {
		return nil, err
	}
	if err := o.vault(ctx, cl); err != nil {
		return nil, err
	}
	o.logf("local cluster ready: %d nodes; kubeconfig %s", o.Nodes, admin)
	return cl, nil
}

// stores starts the data stores unless they run (or are off) and puts
// them on cl. Missing binaries turn them off with a word; a store that
// fails to start fails Up (the control plane keeps running).
func (o *Options) stores(ctx context.Context, cl *Cluster) error {
	if o.NoStores {
		cl.StoresOff = "turned off (Options.NoStores)"
		return nil
	}
	bins, err := localstores.FindBinaries()
	if err != nil {
		cl.StoresOff = err.Error()
		o.logf("data stores off: %s", cl.StoresOff)
		return nil
	}
	st, err := localstores.Up(ctx, localstores.Options{StateDir: o.StateDir, Binaries: &bins, Log: o.Log})
	if err != nil {
		return fmt.Errorf("local cluster: data stores: %w", err)
	}
	cl.Stores = st
	return nil
}

// vault starts OpenBao unless it runs (or is off) and puts it on cl. A
// missing bao turns it off with a word; a server that fails to start
// fails Up (the control plane keeps running).
func (o *Options) vault(ctx context.Context, cl *Cluster) error {
	if o.NoVault {
		cl.VaultOff = "turned off (Options.NoVault)"
		return nil
	}
	bao := filepath.Join(o.BinDir, localvault.Binary)
	if _, err := os.Stat(bao); err != nil {
		cl.VaultOff = fmt.Sprintf("not built (%s is missing: `make tools` builds it from ../shared/vendor, or install an OpenBao release there)", bao)
		o.logf("OpenBao off: %s", cl.VaultOff)
		return nil
	}
	v, err := localvault.Up(ctx, localvault.Options{StateDir: o.StateDir, Bao: bao, Log: o.Log})
	if err != nil {
		return fmt.Errorf("local cluster: %w", err)
	}
	cl.Vault = v
	return nil
}

// addons installs the add-on CRDs and namespaces; both steps leave what
// already exists alone, so a resumed cluster gets what was added since.
func (o *Options) addons(ctx context.Context, kubeconfig string) error {
	if o.CRDDir != "" {
		crds, err := filepath.Glob(filepath.Join(o.CRDDir, "*.yaml"))
		if err != nil {
			return err
		}
		res, err := InstallCRDs(ctx, kubeconfig, crds...)
		if err != nil {
			return err
		}
		if len(res.Applied) > 0 {
			o.logf("add-on CRDs: %d applied, %d unchanged", len(res.Applied), res.Unchanged)
		}
	}
	return ensureNamespaces(ctx, kubeconfig, o.Namespaces)
}

// controllers starts the controllers that run beside the control plane
// (cert-manager's and External Secrets', when built) unless they already
// run. They need the add-ons' CRDs, so they start after them.
func (o *Options) controllers(ctx context.Context, cl *Cluster) error {
	if err := o.certManager(); err != nil {
		return err
	}
	off, err := o.externalSecrets(ctx, cl.Kubeconfig)
	if err != nil {
		return err
	}
	if cl.ExternalSecretsOff = off; off != "" {
		o.logf("External Secrets controller off: %s", off)
	}
	return nil
}

// certManager starts the cert-manager controller unless it runs or is not
// built.
func (o *Options) certManager() error {
	bin := filepath.Join(o.BinDir, CertManager)
	if _, err := os.Stat(bin); err != nil {
		return nil // not built: Certificates stay unissued, as the README says
	}
	if proc.Alive(o.StateDir, CertManager) {
		return nil
	}
	ports, err := proc.FreePorts(2)
	if err != nil {
		return fmt.Errorf("local cluster: finding free ports: %w", err)
	}
	// The health endpoint's address is set only by a configuration file;
	// its default (:9403) would collide between two local clusters.
	cfg, err := yaml.Marshal(&cmconfig.ControllerConfiguration{
		TypeMeta:             metav1.TypeMeta{APIVersion: "controller.config.cert-manager.io/v1alpha1", Kind: "ControllerConfiguration"},
		HealthzListenAddress: fmt.Sprintf("127.0.0.1:%d", ports[1]),
	})
	if err != nil {
		return err
	}
	cfgFile := filepath.Join(o.StateDir, "cert-manager.yaml")
	if err := os.WriteFile(cfgFile, cfg, 0o600); err != nil {
		return err
	}
	o.logf("starting the cert-manager controller")
	if err := o.start(CertManager,
		"--config="+cfgFile,
		"--kubeconfig="+filepath.Join(o.StateDir, "kubeconfig-cert-manager"),
		"--leader-elect=false",
		// The root CA's secret lives in cert-manager's namespace.
		"--cluster-resource-namespace=cert-manager",
		// Issued Secrets go with their Certificate (destroy leaves none).
		"--enable-certificate-owner-ref=true",
		fmt.Sprintf("--metrics-listen-address=127.0.0.1:%d", ports[0]),
	); err != nil {
		return err
	}
	// It fails fast on a bad flag or configuration: say so now rather
	// than leave Certificates unissued without a word.
	if err := waitHTTP(context.Background(), fmt.Sprintf("http://127.0.0.1:%d/livez", ports[1]), 30*time.Second); err != nil {
		return o.controllerFailed(CertManager, err)
	}
	return nil
}

// controllerFailed stops a controller that did not come up, so that the
// next Up starts it afresh instead of taking the live process for a
// healthy one, and reports its log tail.
func (o *Options) controllerFailed(name string, err error) error {
	tail := proc.LogTail(proc.LogPath(o.StateDir, name), 20)
	_ = proc.Stop(o.StateDir, name, syscall.SIGTERM, 15*time.Second)
	return fmt.Errorf("local cluster: %s did not come up: %w\n--- last lines of %s.log ---\n%s", name, err, name, tail)
}

// start launches a component detached from the caller's session, with
// its output in logs/<name>.log and its pid in pids/<name>.
func (o *Options) start(name string, args ...string) error {
	err := proc.Start(o.StateDir, proc.Spec{
		Name: name, Path: filepath.Join(o.BinDir, name), Args: args,
		Dir: o.StateDir, Env: append(os.Environ(), "HOME="+o.StateDir),
	})
	if err != nil {
		return fmt.Errorf("local cluster: %w", err)
	}
	return nil
}

// fail stops what was started and reports the component's log tail.
func (o *Options) fail(name string, err error) error {
	tail := proc.LogTail(proc.LogPath(o.StateDir, name), 20)
	_ = Down(o.StateDir)
	return fmt.Errorf("local cluster: %s did not become ready: %w\n--- last lines of %s.log ---\n%s", name, err, name, tail)
}

// Down stops the controllers beside the control plane (External Secrets
// first: it calls OpenBao), OpenBao, the data stores, then every component
// of the cluster in stateDir, in reverse start order. Data, PKI and
// kubeconfigs stay, so a later Up resumes the same cluster.
func Down(stateDir string) error {
	var errs []error
	for i := len(controllerComponents) - 1; i >= 0; i-- {
		errs = append(errs, proc.Stop(stateDir, controllerComponents[i], syscall.SIGTERM, 15*time.Second))
	}
	errs = append(errs, localvault.Down(stateDir), localstores.Down(stateDir))
	for i := len(components) - 1; i >= 0; i-- {
		errs = append(errs, proc.Stop(stateDir, components[i], syscall.SIGTERM, 15*time.Second))
	}
	return errors.Join(errs...)
}

// Runs reports whether the component name (one of the control plane's, or
// CertManager, ExternalSecrets) of the cluster in stateDir runs.
func Runs(stateDir, name string) bool { return proc.Alive(stateDir, name) }

// Running reports whether any component of the cluster in stateDir runs.
func Running(stateDir string) bool {
	for _, c := range components {
		if proc.Alive(stateDir, c) {
			return true
		}
	}
	return false
}

func readTokens(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	out := map[string]string{}
	for _, row := range rows {
		if len(row) >= 2 {
			out[row[1]] = row[0]
		}
	}
	return out, nil
}

// previousPort is the port of the URL server when it is free and not one
// of taken, else 0.
func previousPort(server string, taken []int) int {
	u, err := url.Parse(server)
	if err != nil {
		return 0
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil || p <= 0 || slices.Contains(taken, p) {
		return 0
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", u.Port()))
	if err != nil {
		return 0
	}
	l.Close()
	return p
}

func readServer(stateDir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(stateDir, "server"))
	return strings.TrimSpace(string(raw)), err
}

func writeKubeconfig(path, server, caFile, user, token string) error {
	if token == "" {
		return fmt.Errorf("local cluster: no token for %s", user)
	}
	content := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: bulwark-local
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: %s
  user:
    token: %s
contexts:
- name: bulwark-local
  context:
    cluster: bulwark-local
    user: %s
current-context: bulwark-local
`, server, caFile, user, token, user)
	return os.WriteFile(path, []byte(content), 0o600)
}

func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s answered %s", url, resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
