// Package localvault runs OpenBao (the `bao` binary `make tools` builds) as
// a detached process beside the local cluster: the local and ci stacks'
// external Vault, as the local PostgreSQL and Redis are their external
// stores. It listens on one loopback port over plain HTTP (nothing leaves
// 127.0.0.1) and keeps its data, log and pid file with the cluster's.
//
// It is a real server, not `bao server -dev`: a dev server holds
// everything in memory and mints a new root token at each start, so a
// `cluster down` / `cluster up` would drop every mount, policy and role
// while the Vault layer's Pulumi state still lists them. Here the data is
// integrated (raft) storage under <stateDir>/vault, the same storage the
// installed Vault runs with, on one node. The harness initialises it once
// (one key share, threshold one), keeps the unseal key and root token in
// 0600 files beside the data, and unseals it at every start. Keeping the
// key next to the data defeats the seal, which is fine for a throwaway
// local server and is exactly what dev mode does in memory.
//
// A stopped server comes back on its previous port when it is still free,
// so a restart changes neither the address the stacks were given nor the
// egress policies compiled from it.
//
// Every request is audited to <stateDir>/vault/audit.log by a file audit
// device declared in the server's configuration: OpenBao 2.x refuses to
// create audit devices through the API unless the configuration sets
// unsafe_allow_api_audit_creation, and creates declared ones itself at
// unseal.
package localvault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bulwark-platform/bulwark/internal/harness/proc"
)

// Binary is the OpenBao server's program name in the tools' bin folder.
const Binary = "bao"

// Process names the server's pid file and log in the state folder.
const Process = "openbao"

// auditLogName is the audit log, relative to the server's working
// directory <stateDir>/vault: OpenBao refuses to start when a declared
// audit device's options differ from the ones it stored at creation, so
// an absolute path would break a state folder that moved.
const auditLogName = "audit.log"

// Options locate the server.
type Options struct {
	// StateDir is the local cluster's state folder: data in vault/, logs
	// in logs/, pid files in pids/.
	StateDir string
	// Bao is the path of the bao binary.
	Bao string
	// Log receives progress lines; nil discards them.
	Log func(format string, args ...any)
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// Vault is a running local OpenBao server.
type Vault struct {
	// Address is its API's URL, http://127.0.0.1:PORT.
	Address string `json:"address"`
	// ClusterPort is raft's and request forwarding's port (loopback).
	ClusterPort int `json:"clusterPort"`
	// TokenFile holds the root token (0600); UnsealKeyFile the only key
	// share.
	TokenFile     string `json:"-"`
	UnsealKeyFile string `json:"-"`
	// AuditLog is the file audit device's log: one JSON line per request
	// and response, secrets HMAC'd.
	AuditLog string `json:"-"`

	token string
}

// Token is the root token.
func (v *Vault) Token() string { return v.token }

// Port is the API's port.
func (v *Vault) Port() int {
	_, p, _ := net.SplitHostPort(strings.TrimPrefix(v.Address, "http://"))
	n, _ := strconv.Atoi(p)
	return n
}

// paths in the state folder.
func dir(stateDir string) string { return filepath.Join(stateDir, "vault") }

func newVault(stateDir string) *Vault {
	d := dir(stateDir)
	return &Vault{
		TokenFile:     filepath.Join(d, "root-token"),
		UnsealKeyFile: filepath.Join(d, "unseal-key"),
		AuditLog:      filepath.Join(d, auditLogName),
	}
}

func endpointFile(stateDir string) string { return filepath.Join(dir(stateDir), "endpoint.json") }

// Up starts the OpenBao server of the cluster in o.StateDir (initialising
// it the first time) and unseals it, or returns it when it already runs
// unsealed. It returns once the server is active and answers with its
// root token.
func Up(ctx context.Context, o Options) (*Vault, error) {
	v := newVault(o.StateDir)
	prev, _ := readEndpoint(o.StateDir)
	if prev != nil && proc.Alive(o.StateDir, Process) {
		v.Address, v.ClusterPort = prev.Address, prev.ClusterPort
		// A server left sealed (a start interrupted before its unseal) is
		// unsealed here rather than restarted.
		err := v.ready(ctx, o.StateDir, 30*time.Second)
		if err == nil {
			return v, nil
		}
		o.logf("OpenBao in %s is not ready; restarting it: %v", dir(o.StateDir), err)
	}
	if err := Down(o.StateDir); err != nil { // clear leftovers of a crash
		return nil, err
	}
	if _, err := os.Stat(o.Bao); err != nil {
		return nil, fmt.Errorf("OpenBao: %s not found (run `make tools`): %w", o.Bao, err)
	}
	d := dir(o.StateDir)
	if err := os.MkdirAll(filepath.Join(d, "raft"), 0o700); err != nil {
		return nil, fmt.Errorf("OpenBao: %w", err)
	}
	var was Vault
	if prev != nil {
		was = *prev
	}
	apiPort, err := port(was.Port(), 0)
	if err != nil {
		return nil, fmt.Errorf("OpenBao: finding a free port: %w", err)
	}
	clusterPort, err := port(was.ClusterPort, apiPort)
	if err != nil {
		return nil, fmt.Errorf("OpenBao: finding a free port: %w", err)
	}
	v.Address = fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	v.ClusterPort = clusterPort
	conf := filepath.Join(d, "config.hcl")
	if err := proc.WriteFile(conf, serverConfig(d, apiPort, clusterPort), 0o600); err != nil {
		return nil, fmt.Errorf("OpenBao: %w", err)
	}
	o.logf("starting OpenBao on %s", v.Address)
	if err := proc.Start(o.StateDir, proc.Spec{
		Name: Process, Path: o.Bao, Args: []string{"server", "-config=" + conf},
		Dir: d, Env: serverEnv(os.Environ()),
	}); err != nil {
		return nil, fmt.Errorf("OpenBao: %w", err)
	}
	if err := v.ready(ctx, o.StateDir, 60*time.Second); err != nil {
		return nil, err
	}
	if err := proc.WriteFile(endpointFile(o.StateDir), v, 0o600); err != nil {
		return nil, fmt.Errorf("OpenBao: %w", err)
	}
	return v, nil
}

// Current returns the OpenBao server running unsealed in stateDir, or an
// error saying it doesn't.
func Current(stateDir string) (*Vault, error) {
	v := newVault(stateDir)
	prev, err := readEndpoint(stateDir)
	if err != nil || !proc.Alive(stateDir, Process) {
		return nil, fmt.Errorf("OpenBao in %s is not running", dir(stateDir))
	}
	v.Address, v.ClusterPort = prev.Address, prev.ClusterPort
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, err := v.health(ctx)
	if err != nil {
		return nil, fmt.Errorf("OpenBao at %s: %w", v.Address, err)
	}
	if !h.active() {
		return nil, fmt.Errorf("OpenBao at %s is %s", v.Address, h)
	}
	if v.token, err = readSecret(v.TokenFile); err != nil {
		return nil, fmt.Errorf("OpenBao: %w", err)
	}
	return v, nil
}

// Down stops the OpenBao server of the cluster in stateDir; its data,
// keys and audit log stay.
func Down(stateDir string) error {
	// SIGTERM: OpenBao seals, steps down and closes its storage.
	if err := proc.Stop(stateDir, Process, syscall.SIGTERM, 30*time.Second); err != nil {
		return fmt.Errorf("stopping OpenBao: %w", err)
	}
	return nil
}

// Running reports whether the OpenBao process of the cluster in stateDir
// runs.
func Running(stateDir string) bool { return proc.Alive(stateDir, Process) }

// serverConfig is the server's whole configuration, written at each start
// (its ports may change). tls_disable: it listens on loopback only, and
// the local stacks reach it from processes on this machine; the installed
// Vault has TLS from the private CA.
//
// OpenBao adds and removes declared audit devices at unseal but refuses
// to unseal when a declared device's options differ from the ones it
// stored: a changed audit block needs a new device path ("file" here).
func serverConfig(dataDir string, apiPort, clusterPort int) string {
	return fmt.Sprintf(`# Written by Bulwark's local cluster (internal/harness/localvault) at each start.
ui = false
log_level = "info"
api_addr = "http://127.0.0.1:%[1]d"
cluster_addr = "https://127.0.0.1:%[2]d"

listener "tcp" {
  address         = "127.0.0.1:%[1]d"
  cluster_address = "127.0.0.1:%[2]d"
  tls_disable     = true
}

storage "raft" {
  path    = %[3]s
  node_id = "bulwark-local"
  # Elections at the fastest timing: one node on loopback.
  performance_multiplier = 1
}

# Every request and response, secrets HMAC'd, mode 0600 (the default).
audit "file" "file" {
  options {
    file_path = %[4]q
  }
}
`, apiPort, clusterPort, strconv.Quote(filepath.Join(dataDir, "raft")), auditLogName)
}

// serverEnv is env without BAO_* and VAULT_* variables, which the server
// would read over its configuration file (BAO_API_ADDR, BAO_LOG_LEVEL...).
func serverEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.HasPrefix(kv, "BAO_") || strings.HasPrefix(kv, "VAULT_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// ready brings the started server to active: initialise it the first time
// (writing its key and root token before anything else can fail), unseal
// it, and wait until it is the active node.
func (v *Vault) ready(ctx context.Context, stateDir string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	h, err := v.waitHealth(ctx, stateDir, func(h health) bool { return true })
	if err != nil {
		return err
	}
	if !h.Initialized {
		if err := v.initialise(ctx); err != nil {
			return err
		}
	}
	key, err := readSecret(v.UnsealKeyFile)
	if err != nil {
		return fmt.Errorf("OpenBao in %s is initialised but its unseal key is unreadable (remove the folder to start afresh; `make clean-state` removes all local state): %w", dir(stateDir), err)
	}
	if v.token, err = readSecret(v.TokenFile); err != nil {
		return fmt.Errorf("OpenBao in %s is initialised but its root token is unreadable (remove the folder to start afresh): %w", dir(stateDir), err)
	}
	if h.Sealed || !h.Initialized {
		var st struct {
			Sealed bool `json:"sealed"`
		}
		if err := v.Request(ctx, "", http.MethodPut, "sys/unseal", map[string]string{"key": key}, &st); err != nil {
			return fmt.Errorf("OpenBao: unsealing: %w", err)
		}
		if st.Sealed {
			return errors.New("OpenBao: still sealed after its only key share: the unseal key file does not belong to this data")
		}
	}
	// Unsealed, it answers 429 (standby) until raft has elected it.
	if _, err := v.waitHealth(ctx, stateDir, health.active); err != nil {
		return err
	}
	// The root token must work: a token file from another initialisation
	// would fail every later step with less clear words.
	if err := v.Request(ctx, v.token, http.MethodGet, "auth/token/lookup-self", nil, nil); err != nil {
		return fmt.Errorf("OpenBao: the root token in %s: %w", v.TokenFile, err)
	}
	return nil
}

// initialise initialises the server with one key share and stores the key
// and root token.
func (v *Vault) initialise(ctx context.Context) error {
	var res struct {
		Keys      []string `json:"keys"`
		RootToken string   `json:"root_token"`
	}
	if err := v.Request(ctx, "", http.MethodPut, "sys/init", map[string]int{"secret_shares": 1, "secret_threshold": 1}, &res); err != nil {
		return fmt.Errorf("OpenBao: initialising: %w", err)
	}
	if len(res.Keys) != 1 || res.RootToken == "" {
		return fmt.Errorf("OpenBao: initialising returned %d key shares and a root token of %d characters", len(res.Keys), len(res.RootToken))
	}
	if err := proc.WriteFile(v.UnsealKeyFile, res.Keys[0], 0o600); err != nil {
		return fmt.Errorf("OpenBao: storing the unseal key: %w", err)
	}
	if err := proc.WriteFile(v.TokenFile, res.RootToken, 0o600); err != nil {
		return fmt.Errorf("OpenBao: storing the root token: %w", err)
	}
	return nil
}

// health is sys/health's answer.
type health struct {
	Initialized bool `json:"initialized"`
	Sealed      bool `json:"sealed"`
	Standby     bool `json:"standby"`
}

func (h health) active() bool { return h.Initialized && !h.Sealed && !h.Standby }

func (h health) String() string {
	switch {
	case !h.Initialized:
		return "not initialised"
	case h.Sealed:
		return "sealed"
	case h.Standby:
		return "a standby"
	}
	return "active"
}

// health reads sys/health; its status code encodes the state (200 active,
// 429 standby, 501 not initialised, 503 sealed) and its body says it too.
func (v *Vault) health(ctx context.Context) (health, error) {
	var h health
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.Address+"/v1/sys/health", nil)
	if err != nil {
		return h, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return h, fmt.Errorf("sys/health answered %s: %w", resp.Status, err)
	}
	return h, nil
}

// waitHealth polls sys/health until ok holds, the process exits or ctx
// ends; the errors carry the log's tail.
func (v *Vault) waitHealth(ctx context.Context, stateDir string, ok func(health) bool) (health, error) {
	var last error
	for {
		if !proc.Alive(stateDir, Process) {
			return health{}, fmt.Errorf("OpenBao exited (last check: %v)\n--- last lines of %s ---\n%s", last,
				proc.LogPath(stateDir, Process), proc.LogTail(proc.LogPath(stateDir, Process), 20))
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		h, err := v.health(cctx)
		cancel()
		if err == nil && ok(h) {
			return h, nil
		}
		if err == nil {
			err = fmt.Errorf("it is %s", h)
		}
		last = err
		select {
		case <-ctx.Done():
			return health{}, fmt.Errorf("OpenBao at %s not ready: %w (last: %v)\n--- last lines of %s ---\n%s", v.Address, ctx.Err(), last,
				proc.LogPath(stateDir, Process), proc.LogTail(proc.LogPath(stateDir, Process), 20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// APIError is an answer of the OpenBao API with an error status.
type APIError struct {
	Method, Path string
	StatusCode   int
	Errors       []string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s /v1/%s: %d %s: %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode), strings.Join(e.Errors, "; "))
}

// Request calls the API at path (below /v1/) with token (none when
// empty), in as its JSON body when not nil, and decodes the answer into
// out when not nil. An error status is an *APIError.
func (v *Vault) Request(ctx context.Context, token, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, v.Address+"/v1/"+strings.TrimPrefix(path, "/"), body)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		e := &APIError{Method: method, Path: strings.TrimPrefix(path, "/"), StatusCode: resp.StatusCode}
		var b struct {
			Errors []string `json:"errors"`
		}
		if json.Unmarshal(raw, &b) == nil {
			e.Errors = b.Errors
		}
		return e
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s /v1/%s: decoding the answer: %w", method, path, err)
		}
	}
	return nil
}

// port is the port to listen on: the previous one if it is still free (so
// a resumed server keeps its address), else a free one other than avoid.
func port(previous, avoid int) (int, error) {
	if previous > 0 && previous != avoid {
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(previous))); err == nil {
			l.Close()
			return previous, nil
		}
	}
	for {
		ports, err := proc.FreePorts(1)
		if err != nil {
			return 0, err
		}
		if ports[0] != avoid {
			return ports[0], nil
		}
	}
}

func readEndpoint(stateDir string) (*Vault, error) {
	raw, err := os.ReadFile(endpointFile(stateDir))
	if err != nil {
		return nil, err
	}
	var v Vault
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", endpointFile(stateDir), err)
	}
	return &v, nil
}

func readSecret(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}
