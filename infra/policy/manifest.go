package policy

import (
	"bytes"
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"
)

// Manifests renders the set as Kubernetes YAML documents, in a stable
// order: the form golden files and reviewers read.
func (s Set) Manifests() ([]byte, error) {
	var buf bytes.Buffer
	write := func(apiVersion, kind, name, ns string, labels map[string]string, spec any) error {
		raw, err := json.Marshal(spec)
		if err != nil {
			return fmt.Errorf("%s %s/%s: %w", kind, ns, name, err)
		}
		obj := map[string]any{
			"apiVersion": apiVersion, "kind": kind,
			"metadata": map[string]any{"name": name, "namespace": ns, "labels": labels},
			"spec":     json.RawMessage(raw),
		}
		j, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		y, err := yaml.JSONToYAML(j)
		if err != nil {
			return err
		}
		buf.WriteString("---\n")
		buf.Write(y)
		return nil
	}
	for _, p := range s.PeerAuthentications {
		if err := write("security.istio.io/v1", "PeerAuthentication", p.Name, p.Namespace, p.Labels, p.Spec); err != nil {
			return nil, err
		}
	}
	for _, a := range s.AuthorizationPolicies {
		if err := write("security.istio.io/v1", "AuthorizationPolicy", a.Name, a.Namespace, a.Labels, a.Spec); err != nil {
			return nil, err
		}
	}
	for _, n := range s.NetworkPolicies {
		if err := write("networking.k8s.io/v1", "NetworkPolicy", n.Name, n.Namespace, n.Labels, n.Spec); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}
