package kubescore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestJudgeExplainsOnlyListedChecksAndReportsStaleOnes(t *testing.T) {
	findings := []Finding{
		{Object: "a", Check: "container-ephemeral-storage-request-and-limit"},
		{Object: "b", Check: "deployment-targeted-by-hpa-does-not-have-replicas-configured"},
	}
	ignores := []Ignore{
		{Check: "deployment-targeted-by-hpa-does-not-have-replicas-configured", Reason: "r"},
		{Check: "pod-probes", Reason: "r"},
	}
	unexplained, unused := Judge(findings, ignores)
	if len(unexplained) != 1 || unexplained[0].Object != "a" {
		t.Errorf("unexplained %v", unexplained)
	}
	if len(unused) != 1 || unused[0].Check != "pod-probes" {
		t.Errorf("unused %v", unused)
	}
}

func TestIgnoresNeedAReason(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ignores.yaml")
	if err := os.WriteFile(path, []byte("ignores:\n- check: pod-probes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIgnores(path); err == nil || !strings.Contains(err.Error(), "ignores[0]") {
		t.Errorf("an ignore without a reason was accepted: %v", err)
	}
	if err := os.WriteFile(path, []byte("ignores:\n- check: pod-probes\n  reason: because\n  typo: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIgnores(path); err == nil {
		t.Error("an unknown key was accepted")
	}
}

// The project's ignore file is well formed.
func TestProjectIgnoresLoad(t *testing.T) {
	igs, err := LoadIgnores(filepath.Join("..", "..", "..", "tests", "stack", "kube-score-ignores.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(igs) > 5 {
		t.Errorf("%d ignores: the list is meant to stay short", len(igs))
	}
}
