package vaultlayer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bulwark-platform/bulwark/internal/harness/paths"
	"github.com/bulwark-platform/bulwark/internal/harness/proc"
)

// bao is a dev-mode OpenBao started for one test.
type bao struct {
	addr, token string
}

func (b *bao) get(t *testing.T, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.addr+"/v1/"+path, nil)
	req.Header.Set("X-Vault-Token", b.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
	return res.StatusCode
}

func startBao(t *testing.T) *bao {
	t.Helper()
	ports, err := proc.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	b := &bao{addr: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), token: "bulwark-it-root"}
	log, err := os.Create(filepath.Join(t.TempDir(), "bao.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(paths.BinDir(), "bao"), "server", "-dev",
		"-dev-root-token-id="+b.token, fmt.Sprintf("-dev-listen-address=127.0.0.1:%d", ports[0]))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; {
		res, err := http.Get(b.addr + "/v1/sys/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return b
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("OpenBao did not start: %v (log %s)", err, log.Name())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The layer against a real OpenBao through the Automation API: up, every
// mount, policy, role and static secret there; a second up keeps the
// generated values; a no-change preview; destroy leaves nothing.
func TestLayerAgainstOpenBao(t *testing.T) {
	if os.Getenv("BULWARK_INTEGRATION") != "1" {
		t.Skip("BULWARK_INTEGRATION=1 runs the integration tier")
	}
	for _, tool := range []string{"bao", "pulumi", "pulumi-resource-vault"} {
		if _, err := os.Stat(filepath.Join(paths.BinDir(), tool)); err != nil {
			t.Skipf("%s is not in %s (make tools)", tool, paths.BinDir())
		}
	}
	b := startBao(t)
	// The ci plan without the database engine (no PostgreSQL here). The
	// auth method's configuration is only stored at write time, so a host
	// nobody serves will do; the reviewer's token and the cluster's CA,
	// which the layer reads from the cluster (covered by the mock tests),
	// are given as the layer would hand them to the component.
	p := plan(t, "ci")
	p.Address, p.Database = b.addr, nil
	p.Kubernetes.Host = "https://kubernetes.invalid:6443"
	ca := selfSignedPEM(t)
	program := func(ctx *pulumi.Context) error {
		in := &inputs{address: b.addr, token: b.token, kubernetesHost: p.Kubernetes.Host, redis: &value{given: "redis-pw"}}
		return applyWith(ctx, p, in, &reviewer{jwt: "reviewer.jwt", caCert: ca})
	}

	dir := t.TempDir()
	for _, d := range []string{"backend", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", paths.BinDir()+string(os.PathListSeparator)+os.Getenv("PATH"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s, err := auto.UpsertStackInlineSource(ctx, "organization/"+Project+"/it", Project, program,
		auto.EnvVars(map[string]string{
			"PULUMI_BACKEND_URL": "file://" + filepath.Join(dir, "backend"), "PULUMI_HOME": filepath.Join(dir, "home"),
			"PULUMI_CONFIG_PASSPHRASE": "bulwark-it", "PULUMI_SKIP_UPDATE_CHECK": "true",
			"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		}), auto.SecretsProvider("passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			_, _ = s.Destroy(context.Background())
		}
	})
	up, err := s.Up(ctx, optup.ProgressStreams(testWriter{t}))
	if err != nil {
		t.Fatal(err)
	}
	if got := up.Outputs["policies"].Value.([]any); len(got) != len(p.Policies) {
		t.Errorf("policies output %v", got)
	}

	var mounts map[string]any
	b.get(t, "sys/mounts", &mounts)
	if kv, ok := mounts["data"].(map[string]any)[p.Mounts.KV+"/"].(map[string]any); !ok || kv["type"] != "kv" ||
		kv["options"].(map[string]any)["version"] != "2" {
		t.Errorf("KV mount %v", mounts["data"])
	}
	var auths map[string]any
	b.get(t, "sys/auth", &auths)
	if a, ok := auths["data"].(map[string]any)[p.Mounts.Kubernetes+"/"].(map[string]any); !ok || a["type"] != "kubernetes" {
		t.Errorf("auth methods %v", auths["data"])
	}
	var cfg struct{ Data map[string]any }
	b.get(t, "auth/"+p.Mounts.Kubernetes+"/config", &cfg)
	if cfg.Data["kubernetes_host"] != p.Kubernetes.Host || cfg.Data["issuer"] != p.Kubernetes.Issuer || cfg.Data["disable_iss_validation"] != false {
		t.Errorf("auth config %v", cfg.Data)
	}
	for _, pol := range p.Policies {
		var got struct{ Data struct{ Policy string } }
		if b.get(t, "sys/policies/acl/"+pol.Name, &got); got.Data.Policy != pol.HCL() {
			t.Errorf("policy %s in OpenBao:\n%s\nwant\n%s", pol.Name, got.Data.Policy, pol.HCL())
		}
	}
	for _, r := range p.Roles {
		var got struct{ Data map[string]any }
		b.get(t, "auth/"+p.Mounts.Kubernetes+"/role/"+r.Name, &got)
		if fmt.Sprint(got.Data["bound_service_account_names"]) != "["+r.ServiceAccount+"]" ||
			fmt.Sprint(got.Data["bound_service_account_namespaces"]) != "["+r.Namespace+"]" || got.Data["audience"] != r.Audience {
			t.Errorf("role %s in OpenBao: %v", r.Name, got.Data)
		}
	}
	read := func(path string) map[string]any {
		var got struct{ Data struct{ Data map[string]any } }
		b.get(t, p.Mounts.KV+"/data/"+path, &got)
		return got.Data.Data
	}
	first := map[string]map[string]any{}
	for _, st := range p.Static {
		data := read(st.Path)
		for _, k := range st.Keys {
			if v, _ := data[k].(string); v == "" {
				t.Errorf("static %s has no %s: %v", st.Path, k, data)
			}
		}
		first[st.Path] = data
	}

	// A second run draws new values for the generated keys: ignored.
	if _, err := s.Up(ctx, optup.ProgressStreams(testWriter{t})); err != nil {
		t.Fatal(err)
	}
	for _, st := range p.Static {
		if again := read(st.Path); fmt.Sprint(again) != fmt.Sprint(first[st.Path]) {
			t.Errorf("static %s changed on a second up: %v -> %v", st.Path, first[st.Path], again)
		}
	}
	if _, err := s.Preview(ctx, optpreview.ExpectNoChanges(), optpreview.ProgressStreams(testWriter{t})); err != nil {
		t.Errorf("preview after up is not empty: %v", err)
	}

	if _, err := s.Destroy(ctx, optdestroy.ProgressStreams(testWriter{t})); err != nil {
		t.Fatal(err)
	}
	destroyed = true
	b.get(t, "sys/mounts", &mounts)
	b.get(t, "sys/auth", &auths)
	for _, m := range []string{p.Mounts.KV + "/"} {
		if _, left := mounts["data"].(map[string]any)[m]; left {
			t.Errorf("mount %s left after destroy", m)
		}
	}
	if _, left := auths["data"].(map[string]any)[p.Mounts.Kubernetes+"/"]; left {
		t.Error("auth method left after destroy")
	}
	var list struct{ Data struct{ Keys []string } }
	b.get(t, "sys/policies/acl?list=true", &list)
	for _, pol := range p.Policies {
		if slices.Contains(list.Data.Keys, pol.Name) {
			t.Errorf("policy %s left after destroy", pol.Name)
		}
	}
}

func selfSignedPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes-ca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// testWriter streams the engine's progress into the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
