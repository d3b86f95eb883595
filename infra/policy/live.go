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
	s := Set{NetworkPolicies: nps}
	for _, u := range peerAuthentications {
		spec := &securityv1beta1.PeerAuthentication{}
		if err := decodeSpec(u, spec); err != nil {
			return Set{}, err
		}
		s.PeerAuthentications = append(s.PeerAuthentications, meshpolicy.Resource[*securityv1beta1.PeerAuthentication]{
			Name: u.GetName(), Namespace: u.GetNamespace(), Labels: u.GetLabels(), Spec: spec,
		})
	}
	for _, u := range authorizationPolicies {
		spec := &securityv1beta1.AuthorizationPolicy{}
		if err := decodeSpec(u, spec); err != nil {
			return Set{}, err
		}
		s.AuthorizationPolicies = append(s.AuthorizationPolicies, meshpolicy.Resource[*securityv1beta1.AuthorizationPolicy]{
			Name: u.GetName(), Namespace: u.GetNamespace(), Labels: u.GetLabels(), Spec: spec,
		})
	}
	return s, nil
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
