// Package paths finds the project root, the pinned tool folder that
// hack/tools.sh fills and the git-ignored state folder.
package paths

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ToolsDir is $BULWARK_TOOLS_DIR, else ~/.cache/bulwark/tools: outside the
// checkout, so fresh clones (and CI) reuse tools built once per version.
func ToolsDir() string {
	if d := os.Getenv("BULWARK_TOOLS_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "bulwark", "tools")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "bulwark-tools")
	}
	return filepath.Join(home, ".cache", "bulwark", "tools")
}

// BinDir holds the pinned binaries.
func BinDir() string { return filepath.Join(ToolsDir(), "bin") }

// StagesDir holds kwok's stage definitions.
func StagesDir() string { return filepath.Join(ToolsDir(), "kwok-stages") }

// CRDDir holds the add-on CRDs the local cluster installs.
func CRDDir() string { return filepath.Join(ToolsDir(), "crds") }

// AddonNamespaces are the namespaces of the add-ons the local cluster
// stands in for: Istio's control plane and ingress gateway, cert-manager.
// Their CRDs come from CRDDir; no add-on runs (kwok nodes can't serve
// webhooks), so the local and ci stacks adopt them (install: false).
var AddonNamespaces = []string{"istio-system", "istio-ingress", "cert-manager"}

// ProjectRoot walks up from the working directory to the folder holding
// Pulumi.yaml.
func ProjectRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "Pulumi.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no Pulumi.yaml in this folder or any parent: run from the Bulwark checkout")
		}
		dir = parent
	}
}

// StateDir is the git-ignored folder for the local cluster and the Pulumi
// file backend: $BULWARK_STATE_DIR or <root>/.state.
func StateDir(root string) string {
	if d := os.Getenv("BULWARK_STATE_DIR"); d != "" {
		return d
	}
	return filepath.Join(root, ".state")
}

// PrependPath puts the tool folder first on PATH so that the Automation
// API finds the pinned pulumi and the engine finds the provider plugin.
func PrependPath() error {
	if err := os.Setenv("PATH", BinDir()+string(os.PathListSeparator)+os.Getenv("PATH")); err != nil {
		return fmt.Errorf("setting PATH: %w", err)
	}
	return nil
}
