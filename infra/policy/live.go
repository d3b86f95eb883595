package policy

import (
	"encoding/json"
	"fmt"

	securityv1beta1 "istio.io/api/security/v1beta1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bulwark-platform/bulwark/components/meshpolicy"
)

// FromLive builds a Set from objects read back from a cluster, so the
// report can judge what the API server holds rather than what was meant.
func FromLive(nps []networkingv1.NetworkPolicy, peerAuthentications, authorizationPolicies []unstructured.Unstructured) (Set, error) {
	pas, err := fromUnstructured(peerAuthentications, func() *securityv1beta1.PeerAuthentication { return &securityv1beta1.PeerAuthentication{} })
	if err != nil {
		return Set{}, err
	}
	aps, err := fromUnstructured(authorizationPolicies, func() *securityv1beta1.AuthorizationPolicy { return &securityv1beta1.AuthorizationPolicy{} })
	if err != nil {
		return Set{}, err
	}
	return Set{NetworkPolicies: nps, PeerAuthentications: pas, AuthorizationPolicies: aps}, nil
}

// fromUnstructured decodes each object's spec into a fresh T.
func fromUnstructured[T json.Unmarshaler](us []unstructured.Unstructured, newSpec func() T) ([]meshpolicy.Resource[T], error) {
	var out []meshpolicy.Resource[T]
	for _, u := range us {
		spec := newSpec()
		if err := decodeSpec(u, spec); err != nil {
			return nil, err
		}
		out = append(out, meshpolicy.Resource[T]{Name: u.GetName(), Namespace: u.GetNamespace(), Labels: u.GetLabels(), Spec: spec})
	}
	return out, nil
}

func decodeSpec(u unstructured.Unstructured, into json.Unmarshaler) error {
	spec, _, err := unstructured.NestedMap(u.Object, "spec")
	if err != nil {
		return fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	if spec == nil {
		spec = map[string]any{}
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if err := into.UnmarshalJSON(raw); err != nil {
		return fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return nil
}
