// Package datastore provides DataStores: the services' PostgreSQL
// (the CloudNativePG operator from its pinned chart, then the clusters,
// databases and scheduled backups infra/datastore compiled) and Redis
// (the Valkey chart with the compiled values), with the passwords they
// need generated once and kept in Secrets.
package datastore

import (
	"crypto/rand"
	"fmt"
	"maps"
	"slices"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bulwark-platform/bulwark/components/component"
	"github.com/bulwark-platform/bulwark/components/kobject"
	compiled "github.com/bulwark-platform/bulwark/infra/datastore"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// Token is the component's type token.
const Token = "bulwark:datastore:DataStores"

// The CloudNativePG operator chart, pinned once. Its CRDs are those of the
// Go module github.com/cloudnative-pg/cloudnative-pg at OperatorVersion
// (go.mod pins it; the local cluster installs them from the module cache).
const (
	ChartRepo       = "https://cloudnative-pg.github.io/charts"
	ChartName       = "cloudnative-pg"
	ChartVersion    = "0.28.0"
	OperatorVersion = "v1.29.0"
)

// Args configures DataStores.
type Args struct {
	// Stores is what infra/datastore compiled; at least one store installed.
	Stores compiled.Set
	// OperatorNamespace runs the CloudNativePG operator; default cnpg-system.
	OperatorNamespace string
	// Replicas of the operator; default 1.
	Replicas int
	// DependsOn: the stores' namespaces and certificates.
	DependsOn []pulumi.Resource
	Provider  pulumi.ProviderResource
}

// DataStores is the installed data stores.
type DataStores struct {
	pulumi.ResourceState
	// Clusters are the CNPG clusters' names; Redis the Valkey release's.
	Clusters pulumi.StringArrayOutput
	Redis    pulumi.StringOutput
}

func (a *Args) withDefaults() *Args {
	out := *a
	if out.OperatorNamespace == "" {
		out.OperatorNamespace = "cnpg-system"
	}
	if out.Replicas == 0 {
		out.Replicas = 1
	}
	return &out
}

func (a *Args) validate() error {
	var l fielderr.List
	s := a.Stores
	if s.Postgres == nil && s.Redis == nil {
		l.Add(fielderr.ErrRequired, "stores", "no store is installed: nothing to register (external stores need no component)")
	}
	if len(validation.IsDNS1123Label(a.OperatorNamespace)) > 0 {
		l.Add(fielderr.ErrInvalid, "operatorNamespace", "%q is not a DNS-1123 label", a.OperatorNamespace)
	}
	if a.Replicas < 1 {
		l.Add(fielderr.ErrOutOfRange, "replicas", "must be at least 1, got %d", a.Replicas)
	}
	if s.Postgres != nil {
		if len(s.Postgres.Clusters) == 0 {
			l.Add(fielderr.ErrRequired, "stores.postgres.clusters", "PostgreSQL is installed but no service uses it")
		}
		for i, c := range s.Postgres.Clusters {
			if c.Spec.Instances < 1 {
				l.Add(fielderr.ErrOutOfRange, fmt.Sprintf("stores.postgres.clusters[%d].instances", i), "must be at least 1, got %d", c.Spec.Instances)
			}
			if c.Spec.EnableSuperuserAccess == nil || *c.Spec.EnableSuperuserAccess {
				l.Add(fielderr.ErrForbidden, fmt.Sprintf("stores.postgres.clusters[%d].enableSuperuserAccess", i), "the superuser may not log in from outside its pods")
			}
			if c.Spec.Certificates == nil || c.Spec.Certificates.ServerTLSSecret == "" {
				l.Add(fielderr.ErrRequired, fmt.Sprintf("stores.postgres.clusters[%d].certificates", i), "a server certificate of the private CA is required")
			}
		}
	}
	if r := s.Redis; r != nil && (!r.Values.Auth.Enabled || !r.Values.TLS.Enabled) {
		l.Add(fielderr.ErrForbidden, "stores.redis", "Redis without authentication or TLS")
	}
	seen := map[string]bool{}
	for i, sec := range s.Secrets {
		if len(sec.Generated) == 0 || seen[sec.Namespace+"/"+sec.Name] {
			l.Add(fielderr.ErrInvalid, fmt.Sprintf("stores.secrets[%d]", i), "%s/%s: a secret with no generated key, or twice", sec.Namespace, sec.Name)
		}
		seen[sec.Namespace+"/"+sec.Name] = true
		for j, cp := range sec.Copies {
			if cp.Namespace == "" || cp.Name == "" || seen[cp.Namespace+"/"+cp.Name] {
				l.Add(fielderr.ErrInvalid, fmt.Sprintf("stores.secrets[%d].copies[%d]", i, j), "%s/%s: a copy without a name, or of a secret that exists", cp.Namespace, cp.Name)
			}
			seen[cp.Namespace+"/"+cp.Name] = true
		}
	}
	component.RequireProvider(&l, a.Provider)
	return l.Err()
}

// New registers DataStores.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*DataStores, error) {
	c := &DataStores{}
	a, err := component.Begin(ctx, c, Token, name, args, (*Args).withDefaults, (*Args).validate, opts...)
	if err != nil {
		return nil, err
	}
	base := component.Children(c, a.Provider)
	deps := slices.Clone(a.DependsOn)
	secrets := map[string]pulumi.Resource{}
	for _, s := range a.Stores.Secrets {
		sec, err := generatedSecret(ctx, name, s, component.With(base, pulumi.DependsOn(a.DependsOn)))
		if err != nil {
			return nil, fmt.Errorf("datastore %s: secret %s: %w", name, s.Name, err)
		}
		secrets[s.Namespace+"/"+s.Name] = sec
		for _, cp := range s.Copies {
			// The copy takes the original's live data, so it holds the
			// password the role has, even when created long after it.
			c, err := corev1.NewSecret(ctx, name+"-secret-"+cp.Namespace+"-"+cp.Name, &corev1.SecretArgs{
				Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(cp.Name), Namespace: pulumi.String(cp.Namespace),
					Labels: pulumi.StringMap{naming.PartOfLabel: pulumi.String(naming.PartOf)}},
				Type: pulumi.String(string(s.Type)),
				Data: sec.Data,
			}, component.With(base, pulumi.DependsOn(a.DependsOn), pulumi.AdditionalSecretOutputs([]string{"data"}))...)
			if err != nil {
				return nil, fmt.Errorf("datastore %s: copy of secret %s: %w", name, s.Name, err)
			}
			secrets[cp.Namespace+"/"+cp.Name] = c
		}
	}
	deps = append(deps, slices.Collect(maps.Values(secrets))...)
	var clusterNames []string
	if pg := a.Stores.Postgres; pg != nil {
		var v operatorValues
		v.ReplicaCount = a.Replicas
		v.CRDs.Create = true
		v.Monitoring.PodMonitorEnabled = false // the observability issue scrapes the instances
		chart, err := kobject.InstallChart(ctx, name+"-cnpg", kobject.Chart{Repo: ChartRepo, Name: ChartName, Version: ChartVersion, Release: "cnpg"},
			a.OperatorNamespace, v, component.With(base, pulumi.DependsOn(a.DependsOn))...)
		if err != nil {
			return nil, fmt.Errorf("datastore %s: %w", name, err)
		}
		// Clusters after the operator (its CRDs and webhook) and the
		// secrets and certificates they name.
		after := component.With(base, pulumi.DependsOn(append(slices.Clone(deps), chart)))
		clusters := map[string]pulumi.Resource{}
		for _, cl := range pg.Clusters {
			r, err := kobject.Register(ctx, name+"-cluster-"+cl.Name, kinds.PostgresCluster, cl, after...)
			if err != nil {
				return nil, err
			}
			clusters[cl.Name] = r
			clusterNames = append(clusterNames, cl.Name)
		}
		for _, db := range pg.Databases {
			if _, err := kobject.Register(ctx, name+"-database-"+db.Name, kinds.PostgresDatabase, db,
				component.With(base, pulumi.DependsOn([]pulumi.Resource{clusters[db.Spec.ClusterRef.Name]}))...); err != nil {
				return nil, err
			}
		}
		for _, b := range pg.ScheduledBackups {
			if _, err := kobject.Register(ctx, name+"-backup-"+b.Name, kinds.ScheduledBackup, b,
				component.With(base, pulumi.DependsOn([]pulumi.Resource{clusters[b.Spec.Cluster.Name]}))...); err != nil {
				return nil, err
			}
		}
	}
	redisRelease := ""
	if r := a.Stores.Redis; r != nil {
		if _, err := kobject.InstallChart(ctx, name+"-redis", kobject.Chart{Repo: compiled.ValkeyChartRepo, Name: compiled.ValkeyChartName, Version: compiled.ValkeyChartVersion, Release: r.Release},
			r.Namespace, r.Values, component.With(base, pulumi.DependsOn(deps))...); err != nil {
			return nil, fmt.Errorf("datastore %s: %w", name, err)
		}
		redisRelease = r.Namespace + "/" + r.Release
	}
	c.Clusters = pulumi.ToStringArray(clusterNames).ToStringArrayOutput()
	c.Redis = pulumi.String(redisRelease).ToStringOutput()
	if err := component.Finish(ctx, c, pulumi.Map{"clusters": c.Clusters, "redis": c.Redis}); err != nil {
		return nil, err
	}
	return c, nil
}

// operatorValues is the part of the CloudNativePG chart's values Bulwark sets.
type operatorValues struct {
	ReplicaCount int `json:"replicaCount"`
	CRDs         struct {
		Create bool `json:"create"`
	} `json:"crds"`
	Monitoring struct {
		PodMonitorEnabled bool `json:"podMonitorEnabled"`
	} `json:"monitoring"`
}

// generatedSecret creates the Secret with a random password in each
// generated key, once: later updates ignore the (newly drawn) values, so
// the password Pulumi keeps, encrypted, in the stack's state stays.
func generatedSecret(ctx *pulumi.Context, prefix string, s compiled.GeneratedSecret, opts []pulumi.ResourceOption) (*corev1.Secret, error) {
	data := pulumi.StringMap{}
	for k, v := range s.Fixed {
		data[k] = pulumi.String(v)
	}
	for _, k := range s.Generated {
		data[k] = pulumi.ToSecret(pulumi.String(password()).ToStringOutput()).(pulumi.StringOutput)
	}
	return corev1.NewSecret(ctx, prefix+"-secret-"+s.Namespace+"-"+s.Name, &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(s.Name), Namespace: pulumi.String(s.Namespace),
			Labels: pulumi.StringMap{naming.PartOfLabel: pulumi.String(naming.PartOf)}},
		Type:       pulumi.String(string(s.Type)),
		StringData: data,
	}, component.With(opts, pulumi.IgnoreChanges([]string{"stringData"}), pulumi.AdditionalSecretOutputs([]string{"data", "stringData"}))...)
}

// password is two crypto/rand.Text draws: 52 base32 characters, 260 bits.
func password() string { return rand.Text() + rand.Text() }
