// Package policyreport checks `make policy-report BASE=<rev>` end to end:
// a clone of this repository, one graph edge changed in a stack file, and
// the report run against HEAD with HEAD's own compiler in a worktree: the
// change shows as that call with the client and scopes that authorized it.
// It needs git and the Go toolchain and runs when BULWARK_INTEGRATION=1.
package policyreport

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-platform/bulwark/internal/harness/policyreport"
)

// prodGraph is the default graph written out, minus the order -> user edge.
const prodGraph = `  bulwark:graph:
    gateway:
      namespace: istio-ingress
      serviceAccount: istio-ingressgateway
      podLabels: {istio: ingressgateway}
      calls:
        - {target: order, methods: [GET], paths: [/api/v1/orders, /api/v1/orders/*], scopes: [orders:read]}
        - {target: order, methods: [POST], paths: [/api/v1/orders], scopes: [orders:write]}
        - {target: user, methods: [GET], paths: [/api/v1/users, /api/v1/users/*], scopes: [users:read]}
        - {target: user, methods: [POST], paths: [/api/v1/users], scopes: [users:write]}
        - {target: user, methods: [PUT, DELETE], paths: [/api/v1/users/*], scopes: [users:write]}
    services:
      - name: order
        namespace: shop
        serviceAccount: order
        port: 8080
        metricsPort: 9090
        image: ghcr.io/bulwark-platform/order:0.1.0
        redis: true
        postgres: true
        calls:
          - {target: payment, methods: [POST], paths: [/api/v1/payments], scopes: [payments:write]}
      - {name: payment, namespace: payments, serviceAccount: payment, port: 8080, metricsPort: 9090, image: ghcr.io/bulwark-platform/payment:0.1.0, postgres: true}
      - {name: user, namespace: shop, serviceAccount: user, port: 8080, metricsPort: 9090, image: ghcr.io/bulwark-platform/user:0.1.0, redis: true, postgres: true}
`

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
}

func TestChangingOneEdgeShowsExactlyThatEdge(t *testing.T) {
	if os.Getenv("BULWARK_INTEGRATION") != "1" {
		t.Skip("integration tier: set BULWARK_INTEGRATION=1 (make test does)")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	clone := filepath.Join(t.TempDir(), "repo")
	git(t, root, "clone", "--quiet", root, clone)
	// The clone holds what is committed; bring this tree's compiler over so
	// the test judges the code under test, then commit it as the base.
	for _, dir := range []string{"infra", "components", "internal", "cmd", "services", "go.mod", "go.sum"} {
		out, err := exec.Command("cp", "-r", filepath.Join(root, dir), clone).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	git(t, clone, "add", "-A")
	git(t, clone, "-c", "user.email=t@example.com", "-c", "user.name=test", "commit", "--quiet", "--allow-empty", "-m", "base")

	stackFile := filepath.Join(clone, "stacks", "Pulumi.prod.yaml")
	orig, err := os.ReadFile(stackFile)
	require.NoError(t, err)
	changed := strings.Replace(string(orig), "config:\n", "config:\n"+prodGraph, 1)
	require.NotEqual(t, string(orig), changed)
	require.NoError(t, os.WriteFile(stackFile, []byte(changed), 0o644))

	var out bytes.Buffer
	require.NoError(t, policyreport.Run(t.Context(), policyreport.Options{Root: clone, Stack: "prod", Base: "HEAD"}, &out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Equal(t, []string{
		"Policy change for stack prod against HEAD: 0 added, 1 removed",
		// The call, and the client and scope that authorized it: order's
		// client no longer holds users:read.
		"- order.shop -> user.shop :8080 GET /api/v1/users/* client order scopes users:read",
	}, lines)
}
