package policy

import (
	"github.com/bulwark-platform/bulwark/internal/kinds"
)

// Manifests renders the set as Kubernetes YAML documents, in a stable
// order: the form golden files and reviewers read.
func (s Set) Manifests() ([]byte, error) {
	var out []byte
	for _, part := range []func() ([]byte, error){
		func() ([]byte, error) { return kinds.YAML(kinds.PeerAuthentication, s.PeerAuthentications) },
		func() ([]byte, error) { return kinds.YAML(kinds.AuthorizationPolicy, s.AuthorizationPolicies) },
		func() ([]byte, error) { return kinds.YAML(kinds.NetworkPolicy, s.NetworkPolicies) },
	} {
		y, err := part()
		if err != nil {
			return nil, err
		}
		out = append(out, y...)
	}
	return out, nil
}
