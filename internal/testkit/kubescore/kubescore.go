// Package kubescore runs kube-score (the pinned binary `make tools`
// builds) over Kubernetes objects and holds its critical findings against
// the project's one list of accepted ones, each with its reason.
package kubescore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Ignore is one kube-score check the project accepts, and why.
type Ignore struct {
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

// LoadIgnores reads the ignore file; every entry must name a check and
// give a reason.
func LoadIgnores(path string) ([]Ignore, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Ignores []Ignore `json:"ignores"`
	}
	if err := yaml.UnmarshalStrict(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, ig := range doc.Ignores {
		if ig.Check == "" || strings.TrimSpace(ig.Reason) == "" {
			return nil, fmt.Errorf("%s: ignores[%d]: a check and its reason are both required", path, i)
		}
	}
	return doc.Ignores, nil
}

// Finding is one critical grade of one check on one object.
type Finding struct {
	Object, Check, Summary string
}

func (f Finding) String() string { return f.Object + ": " + f.Check + ": " + f.Summary }

// gradeCritical is kube-score's scorecard.GradeCritical.
const gradeCritical = 1

// Criticals scores the YAML documents with kube-score at bin and returns
// every critical finding.
func Criticals(ctx context.Context, bin string, manifests []byte) ([]Finding, error) {
	cmd := exec.CommandContext(ctx, bin, "score", "--output-format", "json", "-")
	cmd.Stdin = bytes.NewReader(manifests)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	// kube-score exits 1 when it finds a critical: that is a result, not a failure.
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1 && stdout.Len() > 0) {
		return nil, fmt.Errorf("kube-score: %w: %s", err, stderr.String())
	}
	var objs []struct {
		ObjectName string `json:"object_name"`
		Checks     []struct {
			Check struct {
				ID string `json:"id"`
			} `json:"check"`
			Grade    int  `json:"grade"`
			Skipped  bool `json:"skipped"`
			Comments []struct {
				Path    string `json:"path"`
				Summary string `json:"summary"`
			} `json:"comments"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &objs); err != nil {
		return nil, fmt.Errorf("reading kube-score's output: %w", err)
	}
	var out []Finding
	for _, o := range objs {
		for _, c := range o.Checks {
			if c.Skipped || c.Grade != gradeCritical {
				continue
			}
			var summaries []string
			for _, cm := range c.Comments {
				summaries = append(summaries, strings.TrimSpace(cm.Path+" "+cm.Summary))
			}
			out = append(out, Finding{Object: o.ObjectName, Check: c.Check.ID, Summary: strings.Join(summaries, "; ")})
		}
	}
	slices.SortFunc(out, func(a, b Finding) int { return strings.Compare(a.String(), b.String()) })
	return out, nil
}

// Judge splits findings into those no ignore explains, and reports the
// ignores that explained nothing (a stale entry hides nothing, but says
// something untrue about the objects).
func Judge(findings []Finding, ignores []Ignore) (unexplained []Finding, unused []Ignore) {
	used := map[string]bool{}
	for _, f := range findings {
		if slices.ContainsFunc(ignores, func(ig Ignore) bool { return ig.Check == f.Check }) {
			used[f.Check] = true
			continue
		}
		unexplained = append(unexplained, f)
	}
	for _, ig := range ignores {
		if !used[ig.Check] {
			unused = append(unused, ig)
		}
	}
	return unexplained, unused
}
