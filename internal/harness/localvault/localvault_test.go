package localvault

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-platform/bulwark/internal/harness/paths"
	"github.com/bulwark-platform/bulwark/internal/harness/proc"
)

// The server listens on loopback only, over HTTP, keeps its data in raft
// storage in the state folder and audits to a path relative to it.
func TestServerConfig(t *testing.T) {
	conf := serverConfig("/state/vault", 8211, 8212)
	for _, want := range []string{
		`address         = "127.0.0.1:8211"`, `cluster_address = "127.0.0.1:8212"`, "tls_disable     = true",
		`api_addr = "http://127.0.0.1:8211"`, `cluster_addr = "https://127.0.0.1:8212"`,
		`storage "raft" {`, `path    = "/state/vault/raft"`,
		`audit "file" "file" {`, `file_path = "audit.log"`,
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config.hcl lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "0.0.0.0") || strings.Contains(conf, "unsafe_allow_api_audit_creation") {
		t.Errorf("config.hcl listens beyond loopback or allows API-created audit devices:\n%s", conf)
	}
}

// The configuration file is the whole truth: the caller's BAO_* and
// VAULT_* variables don't reach the server.
func TestServerEnv(t *testing.T) {
	got := serverEnv([]string{"PATH=/bin", "BAO_ADDR=http://x", "VAULT_TOKEN=t", "HOME=/h", "XBAO_Y=1"})
	if strings.Join(got, " ") != "PATH=/bin HOME=/h XBAO_Y=1" {
		t.Errorf("server environment %q", got)
	}
}

// A resumed server keeps its port when it is free, takes another when it
// is not, and never the API's port for the cluster's.
func TestPortIsKeptWhenFree(t *testing.T) {
	free, err := proc.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := port(free[0], 0); err != nil || p != free[0] {
		t.Errorf("free previous port %d: got %d %v", free[0], p, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	if p, err := port(busy, 0); err != nil || p == busy || p == 0 {
		t.Errorf("busy previous port %d: got %d %v", busy, p, err)
	}
	if p, err := port(free[0], free[0]); err != nil || p == free[0] {
		t.Errorf("previous port equal to the one to avoid: got %d %v", p, err)
	}
}

func TestAPIErrorNamesTheCall(t *testing.T) {
	e := &APIError{Method: "GET", Path: "kv/data/x", StatusCode: 403, Errors: []string{"permission denied"}}
	if got, want := e.Error(), "GET /v1/kv/data/x: 403 Forbidden: permission denied"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

// The real server: it starts initialised and unsealed, serves KV v2,
// refuses a wrong token, audits, and a restart keeps its data, port and
// root token.
func TestLocalOpenBao(t *testing.T) {
	if os.Getenv("BULWARK_INTEGRATION") != "1" {
		t.Skip("local OpenBao check: set BULWARK_INTEGRATION=1 (make test does)")
	}
	bao := filepath.Join(paths.BinDir(), Binary)
	if _, err := os.Stat(bao); err != nil {
		t.Skipf("local OpenBao check: %s is not built (`make tools`)", bao)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	state := t.TempDir()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- tail of %s ---\n%s", proc.LogPath(state, Process), proc.LogTail(proc.LogPath(state, Process), 30))
		}
		if err := Down(state); err != nil {
			t.Error(err)
		}
	})
	opts := Options{StateDir: state, Bao: bao, Log: t.Logf}
	start := time.Now()
	v, err := Up(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first start (initialise, unseal) took %s", time.Since(start).Round(time.Millisecond))
	for _, f := range []string{v.TokenFile, v.UnsealKeyFile} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, fi.Mode(), err)
		}
	}
	if !strings.HasPrefix(v.Address, "http://127.0.0.1:") || v.Token() == "" {
		t.Fatalf("address %q, token of %d characters", v.Address, len(v.Token()))
	}

	root := v.Token()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(v.Request(ctx, root, http.MethodPost, "sys/mounts/kv", map[string]any{"type": "kv", "options": map[string]string{"version": "2"}}, nil))
	must(v.Request(ctx, root, http.MethodPost, "kv/data/app/db", map[string]any{"data": map[string]string{"password": "s3cret"}}, nil))
	read := func(v *Vault, token string) (string, error) {
		var out struct {
			Data struct {
				Data map[string]string `json:"data"`
			} `json:"data"`
		}
		err := v.Request(ctx, token, http.MethodGet, "kv/data/app/db", nil, &out)
		return out.Data.Data["password"], err
	}
	if got, err := read(v, root); err != nil || got != "s3cret" {
		t.Fatalf("KV v2 read: %q %v", got, err)
	}

	t.Run("a wrong token is refused with 403", func(t *testing.T) {
		_, err := read(v, "s.not-a-token")
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden {
			t.Errorf("read with a wrong token: %v, want 403", err)
		}
	})

	t.Run("requests are audited", func(t *testing.T) {
		raw, err := os.ReadFile(v.AuditLog)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), `"path":"kv/data/app/db"`) || strings.Contains(string(raw), "s3cret") {
			t.Errorf("%s lacks the KV request or holds the secret in clear:\n%s", v.AuditLog, raw)
		}
	})

	t.Run("an Up of a running server returns it", func(t *testing.T) {
		pid, _ := proc.Pid(state, Process)
		again, err := Up(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if now, _ := proc.Pid(state, Process); now != pid || again.Address != v.Address || again.Token() != root {
			t.Errorf("second Up: pid %d→%d, %s→%s", pid, now, v.Address, again.Address)
		}
		cur, err := Current(state)
		if err != nil || cur.Address != v.Address || cur.Token() != root {
			t.Errorf("Current: %+v %v", cur, err)
		}
	})

	t.Run("a restart keeps the data, the port and the root token", func(t *testing.T) {
		must(Down(state))
		if _, err := Current(state); err == nil {
			t.Error("Current found a stopped server")
		}
		start := time.Now()
		again, err := Up(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("restart (unseal) took %s", time.Since(start).Round(time.Millisecond))
		if again.Address != v.Address || again.Token() != root {
			t.Errorf("restart moved %s → %s or changed the root token", v.Address, again.Address)
		}
		if got, err := read(again, root); err != nil || got != "s3cret" {
			t.Errorf("KV v2 read after restart: %q %v", got, err)
		}
	})

	t.Run("a restart on a taken port moves and still serves", func(t *testing.T) {
		must(Down(state))
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(v.Port())))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		moved, err := Up(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if moved.Address == v.Address {
			t.Errorf("took the busy port %s", v.Address)
		}
		if got, err := read(moved, root); err != nil || got != "s3cret" {
			t.Errorf("KV v2 read after moving: %q %v", got, err)
		}
	})
}
