package testsvc

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// OpenBao is a throwaway OpenBao server in dev mode (in memory, unsealed,
// a root token of the test's choosing): the binary `make tools` builds,
// which the local cluster runs as its Vault and whose agent renders the
// services' credential files.
type OpenBao struct {
	// Addr is the API's URL, http://127.0.0.1:PORT; Port is its port.
	Addr string
	Port int
	// RootToken is the dev server's root token.
	RootToken string
	bin       string
	t         testing.TB
}

// BaoBinary is the bao binary of the project's tools:
// $BULWARK_TOOLS_DIR/bin/bao, by default ~/.cache/bulwark/tools/bin/bao.
// ok is false when it is not built.
func BaoBinary() (path string, ok bool) {
	dir := os.Getenv("BULWARK_TOOLS_DIR")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", false
		}
		dir = filepath.Join(home, ".cache", "bulwark", "tools")
	}
	path = filepath.Join(dir, "bin", "bao")
	_, err := os.Stat(path)
	return path, err == nil
}

// baoEnv is the environment without the caller's BAO_* and VAULT_*
// variables, so an operator's shell can't point a test's server or agent
// elsewhere; HOME is home, so nothing lands in the caller's.
func baoEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "BAO_") || strings.HasPrefix(kv, "VAULT_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home)
}

// background is a process whose output is kept, stopped with the test.
type background struct {
	name   string
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	exited chan struct{}
	err    error
}

func (b *background) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.Write(p)
}

func (b *background) logs() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

func startBackground(t testing.TB, name string, cmd *exec.Cmd) *background {
	t.Helper()
	b := &background{name: name, cmd: cmd, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = b, b
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { b.err = cmd.Wait(); close(b.exited) }()
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			t.Logf("--- %s log ---\n%s", name, b.logs())
		}
	})
	return b
}

func (b *background) stop() {
	select {
	case <-b.exited:
	default:
		_ = b.cmd.Process.Kill()
		<-b.exited
	}
}

func (b *background) running() bool {
	select {
	case <-b.exited:
		return false
	default:
		return true
	}
}

// StartOpenBao runs `bao server -dev` on a free loopback port and waits
// until it is active; it stops with the test. The test is skipped when
// bao is not built.
func StartOpenBao(t testing.TB) *OpenBao {
	t.Helper()
	bin, ok := BaoBinary()
	if !ok {
		t.Skipf("OpenBao is not built: no %s (make tools builds it; or set BULWARK_TOOLS_DIR)", bin)
	}
	o := &OpenBao{RootToken: "root-" + rand.Text(), bin: bin, t: t}
	// The dev server also listens on the next port for its cluster; if that
	// one was taken, it exits at once and another port is tried.
	for attempt := 1; ; attempt++ {
		o.Port = FreePort(t)
		o.Addr = "http://127.0.0.1:" + strconv.Itoa(o.Port)
		cmd := exec.Command(bin, "server", "-dev", "-dev-no-store-token",
			"-dev-root-token-id="+o.RootToken, "-dev-listen-address=127.0.0.1:"+strconv.Itoa(o.Port))
		cmd.Env = baoEnv(t.TempDir())
		proc := startBackground(t, "bao server", cmd)
		err := o.waitActive(proc)
		if err == nil {
			return o
		}
		proc.stop()
		if attempt == 3 {
			t.Fatalf("OpenBao never became active: %v\n%s", err, proc.logs())
		}
	}
}

func (o *OpenBao) waitActive(proc *background) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if !proc.running() {
			return errors.New("the server exited")
		}
		resp, err := http.Get(o.Addr + "/v1/sys/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("health %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Call sends one API request as token (LIST included) and returns the
// status and body; a transport error fails the test.
func (o *OpenBao) Call(method, path, token string, body any) (int, []byte) {
	o.t.Helper()
	var in io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			o.t.Fatal(err)
		}
		in = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, o.Addr+"/v1/"+strings.TrimPrefix(path, "/"), in)
	if err != nil {
		o.t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// Write sends body to path as root (POST) and returns the response's
// JSON (nil when empty); anything but 2xx fails the test naming the call.
func (o *OpenBao) Write(path string, body any) map[string]any {
	o.t.Helper()
	code, raw := o.Call(http.MethodPost, path, o.RootToken, body)
	if code/100 != 2 {
		o.t.Fatalf("POST /v1/%s: %d %s", path, code, raw)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			o.t.Fatalf("POST /v1/%s: %v", path, err)
		}
	}
	return out
}

// List lists path's keys as root (none for a 404).
func (o *OpenBao) List(path string) []string {
	o.t.Helper()
	code, raw := o.Call("LIST", path, o.RootToken, nil)
	if code == http.StatusNotFound {
		return nil
	}
	var out struct {
		Data struct {
			Keys []string `json:"keys"`
		} `json:"data"`
	}
	if code != http.StatusOK || json.Unmarshal(raw, &out) != nil {
		o.t.Fatalf("LIST /v1/%s: %d %s", path, code, raw)
	}
	return out.Data.Keys
}

// Token creates a token with exactly policies (and the default policy,
// which lets its holder look itself up and renew itself) and returns it.
func (o *OpenBao) Token(policies []string, ttl time.Duration) string {
	o.t.Helper()
	out := o.Write("auth/token/create", map[string]any{"policies": policies, "ttl": ttl.String(), "renewable": true})
	auth, _ := out["auth"].(map[string]any)
	tok, _ := auth["client_token"].(string)
	if tok == "" {
		o.t.Fatalf("auth/token/create answered no token: %v", out)
	}
	return tok
}

// AgentTemplate is one template stanza of the agent's configuration.
type AgentTemplate struct {
	// Contents is the template; Destination the file it renders to, with
	// Perms (e.g. "0400"; the agent's default when empty).
	Contents, Destination, Perms string
}

// Agent is a running `bao agent`.
type Agent struct{ proc *background }

// Logs is everything the agent wrote so far.
func (a *Agent) Logs() string { return a.proc.logs() }

// Running says whether the agent is still up (it exits when a template
// can't be rendered after its retries).
func (a *Agent) Running() bool { return a.proc.running() }

// StartAgent runs `bao agent` against the server: auto-auth with token
// (the token_file method), the templates rendered and kept fresh as their
// leases end, and exit_on_retry_failure as the platform's injector sets
// it. It stops with the test.
func (o *OpenBao) StartAgent(t testing.TB, token string, templates ...AgentTemplate) *Agent {
	t.Helper()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "vault {\n  address = %s\n}\n\n", strconv.Quote(o.Addr))
	fmt.Fprintf(&conf, "auto_auth {\n  method \"token_file\" {\n    config = {\n      token_file_path = %s\n    }\n  }\n}\n\n", strconv.Quote(tokenFile))
	conf.WriteString("template_config {\n  exit_on_retry_failure = true\n}\n")
	for _, tp := range templates {
		fmt.Fprintf(&conf, "\ntemplate {\n  contents    = %s\n  destination = %s\n", strconv.Quote(tp.Contents), strconv.Quote(tp.Destination))
		if tp.Perms != "" {
			fmt.Fprintf(&conf, "  perms       = %s\n", strconv.Quote(tp.Perms))
		}
		conf.WriteString("}\n")
	}
	confFile := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(confFile, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(o.bin, "agent", "-config="+confFile)
	cmd.Env = baoEnv(dir)
	return &Agent{proc: startBackground(t, "bao agent", cmd)}
}
