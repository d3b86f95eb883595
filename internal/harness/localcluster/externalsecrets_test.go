package localcluster

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-platform/bulwark/internal/harness/proc"
)

// The controller is no cluster admin: its own user, outside
// system:masters, with the chart's rules bound to it.
func TestExternalSecretsIdentityIsNoAdmin(t *testing.T) {
	i := slices.IndexFunc(identities, func(id identity) bool { return id.user == externalSecretsUser })
	if i < 0 {
		t.Fatalf("no identity for %s", externalSecretsUser)
	}
	if identities[i].groups != "" {
		t.Errorf("%s is in groups %q", externalSecretsUser, identities[i].groups)
	}
}

// The rules grant what syncing from Vault needs (Secrets written, a token
// requested for the SecretStore's service account, statuses updated) and
// nothing cluster-wide beyond the chart's.
func TestExternalSecretsRules(t *testing.T) {
	allows := func(group, resource, verb string) bool {
		for _, r := range externalSecretsRules() {
			if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
				return true
			}
		}
		return false
	}
	for _, want := range [][3]string{
		{"", "secrets", "create"}, {"", "secrets", "update"}, {"", "serviceaccounts/token", "create"},
		{"external-secrets.io", "externalsecrets/status", "update"}, {"external-secrets.io", "secretstores/status", "patch"},
		{"external-secrets.io", "externalsecrets", "watch"}, {"", "events", "create"},
	} {
		if !allows(want[0], want[1], want[2]) {
			t.Errorf("the controller may not %s %q in %q", want[2], want[1], want[0])
		}
	}
	for _, r := range externalSecretsRules() {
		if slices.Contains(r.APIGroups, "*") || slices.Contains(r.Resources, "*") || slices.Contains(r.Verbs, "*") {
			t.Errorf("wildcard rule %+v", r)
		}
		if slices.Contains(r.Resources, "pods") || slices.Contains(r.APIGroups, "rbac.authorization.k8s.io") {
			t.Errorf("rule beyond the chart's %+v", r)
		}
	}
}

// Metrics on loopback only (its default binds every interface), no
// leader election.
func TestExternalSecretsArgs(t *testing.T) {
	args := strings.Join(externalSecretsArgs(9876), " ")
	for _, want := range []string{"--metrics-addr=127.0.0.1:9876", "--enable-leader-election=false"} {
		if !strings.Contains(args, want) {
			t.Errorf("flags %q lack %q", args, want)
		}
	}
}

// A restarted cluster keeps its API server's port when it is free and
// not handed to another component.
func TestPreviousPort(t *testing.T) {
	free, err := proc.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("https://127.0.0.1:%d", free[0])
	if got := previousPort(url, nil); got != free[0] {
		t.Errorf("free port: %d, want %d", got, free[0])
	}
	if got := previousPort(url, []int{free[0]}); got != 0 {
		t.Errorf("port taken by another component: %d", got)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := previousPort(fmt.Sprintf("https://127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port), nil); got != 0 {
		t.Errorf("busy port: %d", got)
	}
	for _, bad := range []string{"", "https://127.0.0.1", "::"} {
		if got := previousPort(bad, nil); got != 0 {
			t.Errorf("%q: %d", bad, got)
		}
	}
}
