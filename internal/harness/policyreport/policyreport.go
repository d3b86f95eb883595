// Package policyreport prints who may talk to whom, on which ports,
// methods and paths, as derived from the compiled NetworkPolicies and
// AuthorizationPolicies of a stack, with the OAuth client and scopes that
// authorize each call (from the identity model), and the difference
// against the same stack at another commit: the core of a pull request's
// preview.
package policyreport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/identity"
	"github.com/bulwark-platform/bulwark/infra/peers"
	"github.com/bulwark-platform/bulwark/infra/policy"
	"github.com/bulwark-platform/bulwark/infra/policyeval"
)

// Compile evaluates the compiled policy of stack in the checkout at root.
func Compile(root, stack string) (policyeval.Report, *config.Config, error) {
	cfg, err := config.LoadStack(root, stack)
	if err != nil {
		return policyeval.Report{}, nil, err
	}
	model, err := identity.Compile(cfg)
	if err != nil {
		return policyeval.Report{}, nil, err
	}
	set := policy.Compile(&cfg.Graph, cfg.Mesh, peers.Of(cfg))
	sources, dests := policyeval.Parties(&cfg.Graph, cfg.Mesh, peers.Of(cfg))
	r := policyeval.Evaluate(set, sources, dests, cfg.Mesh.TrustDomain, cfg.Mesh.RootNamespace)
	// Beside the mesh and network allows, the identity layer: the client
	// and scopes that authorize each call.
	policyeval.Authorize(&r, &cfg.Graph, model)
	return r, cfg, nil
}

// Options select the report.
type Options struct {
	Root, Stack string
	// Base, when set, is a git revision to diff against.
	Base string
	// JSON prints the report as JSON (what a Base run reads).
	JSON bool
}

// Run prints the report, or with Base the difference.
func Run(ctx context.Context, o Options, w io.Writer) error {
	head, cfg, err := Compile(o.Root, o.Stack)
	if err != nil {
		return err
	}
	if o.JSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(head)
	}
	if o.Base != "" {
		base, err := AtRevision(ctx, o.Root, o.Base, o.Stack)
		if err != nil {
			return err
		}
		diff := policyeval.DiffAuthorized(base, head)
		fmt.Fprintf(w, "Policy change for stack %s against %s: %d added, %d removed\n", o.Stack, o.Base, count(diff, "+"), count(diff, "-"))
		for _, d := range diff {
			fmt.Fprintln(w, d)
		}
		return nil
	}
	fmt.Fprintf(w, "Permitted flows of stack %s, derived from its compiled NetworkPolicies and AuthorizationPolicies:\n\n", o.Stack)
	if err := head.Write(w); err != nil {
		return err
	}
	if d := policyeval.Diff(policyeval.Report{Rows: policyeval.GraphFlows(&cfg.Graph, cfg.Mesh, peers.Of(cfg))}, head); len(d) > 0 || len(head.Findings) > 0 {
		fmt.Fprintln(w, "\nThe compiled policy does NOT match the service graph (- only in the graph, + only in the policy):")
		for _, line := range d {
			fmt.Fprintln(w, line)
		}
		return errors.New("compiled policy and service graph disagree")
	}
	fmt.Fprintln(w, "\nThe compiled policy permits exactly the service graph's edges and the platform paths, nothing more.")
	return nil
}

func count(diff []string, sign string) int {
	n := 0
	for _, d := range diff {
		if strings.HasPrefix(d, sign) {
			n++
		}
	}
	return n
}

// AtRevision computes the report of stack as the checkout at rev would,
// with rev's own compiler: it checks rev out into a temporary worktree and
// runs its policy report there.
func AtRevision(ctx context.Context, root, rev, stack string) (policyeval.Report, error) {
	tmp, err := os.MkdirTemp("", "bulwark-base-")
	if err != nil {
		return policyeval.Report{}, err
	}
	defer os.RemoveAll(tmp)
	wt := filepath.Join(tmp, "tree")
	if out, err := exec.CommandContext(ctx, "git", "-C", root, "worktree", "add", "--detach", "--quiet", wt, rev).CombinedOutput(); err != nil {
		return policyeval.Report{}, fmt.Errorf("checking out %s: %v: %s", rev, err, out)
	}
	defer func() {
		_ = exec.Command("git", "-C", root, "worktree", "remove", "--force", wt).Run()
	}()
	cmd := exec.CommandContext(ctx, "go", "run", "./cmd/bulwark", "policy-report", "-stack", stack, "-json")
	cmd.Dir = wt
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return policyeval.Report{}, fmt.Errorf("policy report of stack %s at %s: %w", stack, rev, err)
	}
	var r policyeval.Report
	if err := json.Unmarshal(out, &r); err != nil {
		return policyeval.Report{}, fmt.Errorf("policy report of stack %s at %s: %w", stack, rev, err)
	}
	return r, nil
}
