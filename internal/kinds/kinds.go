// Package kinds is the one registry of the object kinds Bulwark creates
// beyond the Kubernetes SDK's own resources: each kind's group, version,
// kind, resource and Go spec type (the upstream module's: istio.io/api,
// cert-manager, the VPA, k8s.io/api) is defined once here and used by the
// components that register objects, the manifest renderer behind golden
// files and reports, and the decoder that reads live objects back.
package kinds

import (
	"encoding/json"
	"fmt"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cnpgv1 "github.com/cloudnative-pg/cloudnative-pg/api/v1"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	securityv1beta1 "istio.io/api/security/v1beta1"
	telemetryv1alpha1 "istio.io/api/telemetry/v1alpha1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	vpav1 "k8s.io/autoscaler/vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1"
	"sigs.k8s.io/yaml"

	"github.com/bulwark-platform/bulwark/internal/esoapi"
	"github.com/bulwark-platform/bulwark/internal/keycloakapi"
)

// Kind is one object kind with its spec's Go type S.
type Kind[S any] struct {
	Group, Version, Kind string
	// Resource is the plural the API serves the kind under.
	Resource string
	// ClusterScoped kinds have no namespace.
	ClusterScoped bool
}

// The kinds. Istio's are served at v1 (GA since 1.22) except EnvoyFilter;
// their specs are the v1beta1/v1alpha3 protos, which v1 shares.
var (
	PeerAuthentication    = Kind[*securityv1beta1.PeerAuthentication]{"security.istio.io", "v1", "PeerAuthentication", "peerauthentications", false}
	AuthorizationPolicy   = Kind[*securityv1beta1.AuthorizationPolicy]{"security.istio.io", "v1", "AuthorizationPolicy", "authorizationpolicies", false}
	RequestAuthentication = Kind[*securityv1beta1.RequestAuthentication]{"security.istio.io", "v1", "RequestAuthentication", "requestauthentications", false}
	Gateway               = Kind[*networkingv1alpha3.Gateway]{"networking.istio.io", "v1", "Gateway", "gateways", false}
	VirtualService        = Kind[*networkingv1alpha3.VirtualService]{"networking.istio.io", "v1", "VirtualService", "virtualservices", false}
	EnvoyFilter           = Kind[*networkingv1alpha3.EnvoyFilter]{"networking.istio.io", "v1alpha3", "EnvoyFilter", "envoyfilters", false}
	ServiceEntry          = Kind[*networkingv1alpha3.ServiceEntry]{"networking.istio.io", "v1", "ServiceEntry", "serviceentries", false}
	DestinationRule       = Kind[*networkingv1alpha3.DestinationRule]{"networking.istio.io", "v1", "DestinationRule", "destinationrules", false}
	Telemetry             = Kind[*telemetryv1alpha1.Telemetry]{"telemetry.istio.io", "v1", "Telemetry", "telemetries", false}
	Certificate           = Kind[cmv1.CertificateSpec]{"cert-manager.io", "v1", "Certificate", "certificates", false}
	ClusterIssuer         = Kind[cmv1.IssuerSpec]{"cert-manager.io", "v1", "ClusterIssuer", "clusterissuers", true}
	VerticalPodAutoscaler = Kind[vpav1.VerticalPodAutoscalerSpec]{"autoscaling.k8s.io", "v1", "VerticalPodAutoscaler", "verticalpodautoscalers", false}
	// CloudNativePG's, for the installed PostgreSQL.
	PostgresCluster  = Kind[cnpgv1.ClusterSpec]{"postgresql.cnpg.io", "v1", "Cluster", "clusters", false}
	PostgresDatabase = Kind[cnpgv1.DatabaseSpec]{"postgresql.cnpg.io", "v1", "Database", "databases", false}
	ScheduledBackup  = Kind[cnpgv1.ScheduledBackupSpec]{"postgresql.cnpg.io", "v1", "ScheduledBackup", "scheduledbackups", false}
	// The External Secrets Operator's (package esoapi says why its types
	// are a mirror of upstream's).
	SecretStore    = Kind[esoapi.SecretStoreSpec]{"external-secrets.io", "v1", "SecretStore", "secretstores", false}
	ExternalSecret = Kind[esoapi.ExternalSecretSpec]{"external-secrets.io", "v1", "ExternalSecret", "externalsecrets", false}
	// The Keycloak operator's (package keycloakapi says why its types are
	// a mirror; the realm is gocloak's RealmRepresentation).
	Keycloak            = Kind[keycloakapi.KeycloakSpec]{"k8s.keycloak.org", "v2alpha1", "Keycloak", "keycloaks", false}
	KeycloakRealmImport = Kind[keycloakapi.RealmImportSpec]{"k8s.keycloak.org", "v2alpha1", "KeycloakRealmImport", "keycloakrealmimports", false}
	// NetworkPolicy is built in (the components register it through the
	// SDK's typed resource); it is here for rendering and decoding.
	NetworkPolicy = Kind[networkingv1.NetworkPolicySpec]{"networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", false}
)

// APIVersion is group/version.
func (k Kind[S]) APIVersion() string { return k.Group + "/" + k.Version }

// GVR is the kind's group, version and resource, for dynamic clients.
func (k Kind[S]) GVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: k.Group, Version: k.Version, Resource: k.Resource}
}

// Object is one object of a kind: metadata Bulwark sets and the typed spec.
type Object[S any] struct {
	Name, Namespace string
	Labels          map[string]string
	Spec            S
}

// ID is namespace/name (name alone when cluster-scoped).
func (o Object[S]) ID() string {
	if o.Namespace == "" {
		return o.Name
	}
	return o.Namespace + "/" + o.Name
}

// Of builds an object of the kind.
func (k Kind[S]) Of(name, namespace string, labels map[string]string, spec S) Object[S] {
	return Object[S]{Name: name, Namespace: namespace, Labels: labels, Spec: spec}
}

// SpecMap is the object's spec as plain JSON data, the form Pulumi and
// unstructured objects take.
func (k Kind[S]) SpecMap(o Object[S]) (map[string]any, error) {
	raw, err := json.Marshal(o.Spec)
	if err != nil {
		return nil, fmt.Errorf("%s %s: encoding spec: %w", k.Kind, o.ID(), err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("%s %s: decoding spec: %w", k.Kind, o.ID(), err)
	}
	return out, nil
}

// Manifest is the whole object as a Kubernetes manifest.
func (k Kind[S]) Manifest(o Object[S]) (map[string]any, error) {
	spec, err := k.SpecMap(o)
	if err != nil {
		return nil, err
	}
	meta := map[string]any{"name": o.Name}
	if o.Namespace != "" && !k.ClusterScoped {
		meta["namespace"] = o.Namespace
	}
	if len(o.Labels) > 0 {
		labels := map[string]any{}
		for key, v := range o.Labels {
			labels[key] = v
		}
		meta["labels"] = labels
	}
	return map[string]any{"apiVersion": k.APIVersion(), "kind": k.Kind, "metadata": meta, "spec": spec}, nil
}

// YAML renders objects as one multi-document YAML stream, in the order given.
func YAML[S any](k Kind[S], objs []Object[S]) ([]byte, error) {
	var out []byte
	for _, o := range objs {
		m, err := k.Manifest(o)
		if err != nil {
			return nil, err
		}
		y, err := yaml.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", k.Kind, o.ID(), err)
		}
		out = append(out, "---\n"...)
		out = append(out, y...)
	}
	return out, nil
}

// Decode reads a live object (from a dynamic client) of the kind back.
func (k Kind[S]) Decode(u unstructured.Unstructured) (Object[S], error) {
	o := Object[S]{Name: u.GetName(), Namespace: u.GetNamespace(), Labels: u.GetLabels()}
	if got := u.GetObjectKind().GroupVersionKind(); got.Kind != "" && (got.Kind != k.Kind || got.Group != k.Group) {
		return o, fmt.Errorf("%s %s: is a %s, not a %s", got.Kind, o.ID(), got.GroupKind(), k.Kind)
	}
	spec, _, err := unstructured.NestedMap(u.Object, "spec")
	if err != nil {
		return o, fmt.Errorf("%s %s: %w", k.Kind, o.ID(), err)
	}
	if spec == nil {
		spec = map[string]any{}
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return o, fmt.Errorf("%s %s: %w", k.Kind, o.ID(), err)
	}
	if err := json.Unmarshal(raw, &o.Spec); err != nil {
		return o, fmt.Errorf("%s %s: decoding spec: %w", k.Kind, o.ID(), err)
	}
	return o, nil
}

// DecodeAll decodes each live object.
func DecodeAll[S any](k Kind[S], us []unstructured.Unstructured) ([]Object[S], error) {
	out := make([]Object[S], 0, len(us))
	for _, u := range us {
		o, err := k.Decode(u)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}
