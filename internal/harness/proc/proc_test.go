package proc

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStartAliveStop(t *testing.T) {
	dir := t.TempDir()
	if Alive(dir, "sleeper") {
		t.Fatal("alive before start")
	}
	if err := Start(dir, Spec{Name: "sleeper", Path: "/bin/sh", Args: []string{"-c", "echo started; exec sleep 60"}, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	pid, ok := Pid(dir, "sleeper")
	if !ok {
		t.Fatal("not alive after start")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(LogTail(LogPath(dir, "sleeper"), 5), "started") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := LogTail(LogPath(dir, "sleeper"), 5); got != "started" {
		t.Errorf("log %q", got)
	}
	if err := Stop(dir, "sleeper", syscall.SIGTERM, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if alive(pid) || Alive(dir, "sleeper") {
		t.Error("alive after stop")
	}
	if err := Stop(dir, "sleeper", syscall.SIGTERM, time.Second); err != nil {
		t.Errorf("stopping what is not running: %v", err)
	}
}

func TestFreePortsAreDistinct(t *testing.T) {
	ports, err := FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p == 0 || seen[p] {
			t.Errorf("ports %v", ports)
		}
		seen[p] = true
	}
}
