package kinds

import (
	"strings"
	"testing"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	securityv1beta1 "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// What the renderer writes, the decoder reads back unchanged: the live
// objects the stack check reads go through the same kind definitions.
func TestManifestAndDecodeRoundTrip(t *testing.T) {
	ap := AuthorizationPolicy.Of("order-from-gateway", "shop", map[string]string{"bulwark.dev/edge": "e"}, &securityv1beta1.AuthorizationPolicy{
		Selector: &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": "order"}},
		Action:   securityv1beta1.AuthorizationPolicy_ALLOW,
		Rules: []*securityv1beta1.Rule{{From: []*securityv1beta1.Rule_From{{Source: &securityv1beta1.Source{
			Principals: []string{"cluster.local/ns/istio-ingress/sa/gw"}}}}}},
	})
	m, err := AuthorizationPolicy.Manifest(ap)
	if err != nil {
		t.Fatal(err)
	}
	if m["apiVersion"] != "security.istio.io/v1" || m["kind"] != "AuthorizationPolicy" {
		t.Fatalf("manifest header %v %v", m["apiVersion"], m["kind"])
	}
	back, err := AuthorizationPolicy.Decode(unstructured.Unstructured{Object: m})
	if err != nil {
		t.Fatal(err)
	}
	if back.ID() != "shop/order-from-gateway" || back.Labels["bulwark.dev/edge"] != "e" ||
		back.Spec.GetRules()[0].GetFrom()[0].GetSource().GetPrincipals()[0] != "cluster.local/ns/istio-ingress/sa/gw" ||
		back.Spec.GetAction() != securityv1beta1.AuthorizationPolicy_ALLOW {
		t.Errorf("decoded %+v", back)
	}
}

func TestClusterScopedKindsHaveNoNamespace(t *testing.T) {
	m, err := ClusterIssuer.Manifest(ClusterIssuer.Of("bulwark-ca", "ignored", nil, cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "root"}}}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m["metadata"].(map[string]any)["namespace"]; ok {
		t.Error("a cluster-scoped object got a namespace")
	}
	y, err := YAML(ClusterIssuer, []Object[cmv1.IssuerSpec]{ClusterIssuer.Of("bulwark-ca", "", nil, cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "root"}}})})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(strings.TrimPrefix(string(y), "---\n")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["spec"].(map[string]any)["ca"].(map[string]any)["secretName"] != "root" {
		t.Errorf("rendered %s", y)
	}
}

func TestDecodeRefusesAnotherKind(t *testing.T) {
	u := unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "security.istio.io", Version: "v1", Kind: "PeerAuthentication"})
	if _, err := AuthorizationPolicy.Decode(u); err == nil {
		t.Error("a PeerAuthentication decoded as an AuthorizationPolicy")
	}
}

func TestGVR(t *testing.T) {
	if g := VerticalPodAutoscaler.GVR(); g.Group != "autoscaling.k8s.io" || g.Version != "v1" || g.Resource != "verticalpodautoscalers" {
		t.Errorf("GVR %v", g)
	}
}
