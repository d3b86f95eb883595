// Package proc runs the local harness's long-lived processes (the local
// cluster's components, its data stores) detached from the command that
// starts them: each has a pid file in <stateDir>/pids/<name> and its
// output in <stateDir>/logs/<name>.log, so a later command finds, checks
// and stops it.
package proc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Spec is a process to start detached.
type Spec struct {
	// Name names its pid file and log.
	Name string
	// Path is the binary; Args its arguments.
	Path string
	Args []string
	// Dir is its working directory.
	Dir string
	// Env is its environment; nil inherits the caller's.
	Env []string
	// Credential, when set, runs it as that user (PostgreSQL refuses to
	// run as root).
	Credential *syscall.Credential
}

// LogPath is where the output of the process name in stateDir goes.
func LogPath(stateDir, name string) string { return filepath.Join(stateDir, "logs", name+".log") }

func pidPath(stateDir, name string) string { return filepath.Join(stateDir, "pids", name) }

// Start launches s in a session of its own (it outlives the caller and
// its terminal's signals), with its output in logs/<name>.log (truncated)
// and its pid in pids/<name>.
func Start(stateDir string, s Spec) error {
	for _, d := range []string{"logs", "pids"} {
		if err := os.MkdirAll(filepath.Join(stateDir, d), 0o700); err != nil {
			return err
		}
	}
	logf, err := os.OpenFile(LogPath(stateDir, s.Name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.Path, s.Args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = s.Dir
	cmd.Env = s.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: s.Credential}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.Name, err)
	}
	pid := cmd.Process.Pid
	// Reap the child if this process lives on (tests); a CLI exits and
	// leaves it to init.
	go func() { _ = cmd.Wait() }()
	return os.WriteFile(pidPath(stateDir, s.Name), []byte(strconv.Itoa(pid)), 0o600)
}

// Pid is the recorded pid of name in stateDir, if it runs.
func Pid(stateDir, name string) (int, bool) {
	raw, err := os.ReadFile(pidPath(stateDir, name))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || !alive(pid) {
		return 0, false
	}
	return pid, true
}

// Alive reports whether the recorded process of name in stateDir runs.
func Alive(stateDir, name string) bool {
	_, ok := Pid(stateDir, name)
	return ok
}

// Stop sends sig to the recorded process of name in stateDir, SIGKILL
// after grace if it still runs, and removes its pid file. A process that
// is not running (or was never started) is no error.
func Stop(stateDir, name string, sig syscall.Signal, grace time.Duration) error {
	raw, err := os.ReadFile(pidPath(stateDir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil {
		StopPid(pid, sig, grace)
	}
	if err := os.Remove(pidPath(stateDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// StopPid sends sig to pid and waits until it exits, sending SIGKILL
// after grace.
func StopPid(pid int, sig syscall.Signal, grace time.Duration) {
	if !alive(pid) {
		return
	}
	_ = syscall.Kill(pid, sig)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && alive(pid); i++ {
		time.Sleep(50 * time.Millisecond)
	}
}

func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie still answers signal 0: look at its state.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// FreePorts returns n distinct loopback ports free at the time of the
// call.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// LogTail is the last n lines of the file at path (or why it can't be
// read).
func LogTail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WriteFile writes v atomically with mode (a rename over the old file):
// a string as is, anything else as indented JSON. The harness keeps its
// state (endpoints, generated passwords, keys) in such files.
func WriteFile(path string, v any, mode fs.FileMode) error {
	var raw []byte
	if str, ok := v.(string); ok {
		raw = []byte(str)
	} else {
		var err error
		if raw, err = json.MarshalIndent(v, "", "  "); err != nil {
			return err
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
