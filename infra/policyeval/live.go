package policyeval

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bulwark-platform/bulwark/infra/policy"
	"github.com/bulwark-platform/bulwark/internal/kinds"
)

// FromLive builds a Set from objects read back from a cluster, so the
// report can judge what the API server holds rather than what was meant.
func FromLive(networkPolicies, peerAuthentications, authorizationPolicies []unstructured.Unstructured) (policy.Set, error) {
	nps, err := kinds.DecodeAll(kinds.NetworkPolicy, networkPolicies)
	if err != nil {
		return policy.Set{}, err
	}
	pas, err := kinds.DecodeAll(kinds.PeerAuthentication, peerAuthentications)
	if err != nil {
		return policy.Set{}, err
	}
	aps, err := kinds.DecodeAll(kinds.AuthorizationPolicy, authorizationPolicies)
	if err != nil {
		return policy.Set{}, err
	}
	return policy.Set{NetworkPolicies: nps, PeerAuthentications: pas, AuthorizationPolicies: aps}, nil
}
