package testsvc

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build compiles the service package in dir into the test's temp folder.
func Build(t testing.TB, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(abs))
	if out, err := exec.Command("go", "build", "-o", bin, dir).CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", dir, err, out)
	}
	return bin
}

// Process is a service running as a real process.
type Process struct {
	bin, readyURL string
	env           []string
	t             testing.TB
	mu            sync.Mutex
	logs          strings.Builder
	cmd           *exec.Cmd
	exited        chan error
	running       bool
}

type lockedWriter struct{ p *Process }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.logs.Write(b)
}

// Logs is everything the process wrote so far.
func (p *Process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// StartProcess starts bin with env and waits until readyURL answers 200.
func StartProcess(t testing.TB, bin, readyURL string, env ...string) *Process {
	t.Helper()
	p := &Process{bin: bin, readyURL: readyURL, env: env, t: t}
	p.Start()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("--- %s log ---\n%s", filepath.Base(bin), p.Logs())
		}
	})
	return p
}

// Start (re)starts the process and waits for readiness.
func (p *Process) Start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{p}, lockedWriter{p}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan error, 1)
	p.running = true
	cmd := p.cmd
	go func() { p.exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(p.readyURL); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s never became ready\n%s", filepath.Base(p.bin), p.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Terminate sends SIGTERM and returns the exit error (nil for code 0).
// Safe to call from any goroutine.
func (p *Process) Terminate(timeout time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-p.exited:
		p.running = false
		return err
	case <-time.After(timeout):
		return fmt.Errorf("%s did not stop within %s of SIGTERM", filepath.Base(p.bin), timeout)
	}
}

// Kill stops the process at once (a crash).
func (p *Process) Kill() {
	if p.running {
		_ = p.cmd.Process.Kill()
		<-p.exited
		p.running = false
	}
}

// Integration skips t unless the integration tier runs (BULWARK_INTEGRATION=1,
// set by make test and make bench): its tests start real servers.
func Integration(t testing.TB) {
	t.Helper()
	if os.Getenv("BULWARK_INTEGRATION") != "1" {
		t.Skip("integration tier: set BULWARK_INTEGRATION=1 (make test and make bench do)")
	}
}
