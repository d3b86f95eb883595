package datastore

import (
	"fmt"
	"strings"

	barmanapi "github.com/cloudnative-pg/barman-cloud/pkg/api"
	cnpgv1 "github.com/cloudnative-pg/cloudnative-pg/api/v1"
	machineryapi "github.com/cloudnative-pg/machinery/pkg/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// Typed objects of the set.
type (
	Cluster         = kinds.Object[cnpgv1.ClusterSpec]
	PostgresDB      = kinds.Object[cnpgv1.DatabaseSpec]
	ScheduledBackup = kinds.Object[cnpgv1.ScheduledBackupSpec]
)

// Set is the data stores of one environment.
type Set struct {
	// Databases is the data model: who owns which database, whatever runs it.
	Databases []Database
	// ManagementRole is the role Vault's database engine logs in as.
	ManagementRole string
	// Postgres holds the CloudNativePG objects when PostgreSQL is installed.
	Postgres *InstalledPostgres
	// Redis holds the Valkey release when Redis is installed.
	Redis *InstalledRedis
	// Certificates are the stores' server certificates, issued by the
	// private CA.
	Certificates []Certificate
	// Secrets hold passwords generated at the first `up` (until the
	// secrets issue syncs them from Vault).
	Secrets []GeneratedSecret
}

// InstalledPostgres is the CNPG objects of the installed PostgreSQL.
type InstalledPostgres struct {
	Namespace        string
	Clusters         []Cluster
	Databases        []PostgresDB
	ScheduledBackups []ScheduledBackup
}

// InstalledRedis is the Valkey chart's release and its values.
type InstalledRedis struct {
	Namespace, Release string
	Values             ValkeyValues
}

// Certificate is a server certificate a store needs.
type Certificate struct {
	Name       string   `json:"name"`
	Namespace  string   `json:"namespace"`
	SecretName string   `json:"secretName"`
	DNSNames   []string `json:"dnsNames"`
}

// GeneratedSecret is a Secret whose Generated keys get random passwords
// once, and whose Fixed keys hold the given values.
type GeneratedSecret struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Type      corev1.SecretType `json:"type"`
	Fixed     map[string]string `json:"fixed,omitempty"`
	Generated []string          `json:"generated"`
	// Copies hold the same data in other namespaces, always the
	// original's (a copy follows the original, never a draw of its own).
	Copies []SecretCopy `json:"copies,omitempty"`
}

// Compile turns the graph and the data configuration into the stores.
// platform are databases of installed platform parts (Keycloak's), which
// only an installed PostgreSQL holds; the caller checks that it is.
func Compile(g *graph.Graph, d config.Data, platform ...Database) (Set, error) {
	s := Set{Databases: append(Databases(g), platform...), ManagementRole: d.Postgres.ManagementRole}
	if d.Postgres.Install {
		pg, certs, secrets, err := compilePostgres(s.Databases, d.Postgres)
		if err != nil {
			return Set{}, err
		}
		s.Postgres = pg
		s.Certificates = append(s.Certificates, certs...)
		s.Secrets = append(s.Secrets, secrets...)
	}
	if d.Redis.Install {
		r, cert, secret := compileRedis(d.Redis)
		s.Redis = r
		s.Certificates = append(s.Certificates, cert)
		s.Secrets = append(s.Secrets, secret)
	}
	return s, nil
}

// serverDNSNames are the names a CNPG cluster's services answer to.
func serverDNSNames(cluster, ns string) []string {
	var out []string
	for _, svc := range []string{"-rw", "-r", "-ro"} {
		base := cluster + svc
		out = append(out, base, base+"."+ns, base+"."+ns+".svc", base+"."+ns+".svc.cluster.local")
	}
	return out
}

func compilePostgres(dbs []Database, p config.Postgres) (*InstalledPostgres, []Certificate, []GeneratedSecret, error) {
	pg := &InstalledPostgres{Namespace: p.Namespace}
	var certs []Certificate
	var secrets []GeneratedSecret
	// Which databases each cluster holds.
	byCluster := map[string][]Database{}
	var clusters []string
	for _, db := range dbs {
		c := ClusterName(db.Service, p.Topology)
		if _, ok := byCluster[c]; !ok {
			clusters = append(clusters, c)
		}
		byCluster[c] = append(byCluster[c], db)
	}
	resources, err := requirements(p.Resources)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("bulwark:data.postgres.resources: %w", err)
	}
	for _, name := range clusters {
		tls := name + "-server-tls"
		certs = append(certs, Certificate{Name: tls, Namespace: p.Namespace, SecretName: tls, DNSNames: serverDNSNames(name, p.Namespace)})
		roles := []cnpgv1.RoleConfiguration{{
			Name: p.ManagementRole, Ensure: cnpgv1.EnsurePresent, Login: true, CreateRole: true,
			// Administers the owner roles without their privileges.
			Inherit: ptr(false),
			// pg_signal_backend: the revocation statements end a lapsed
			// role's sessions before dropping it (infra/secrets).
			InRoles:        []string{"pg_signal_backend"},
			Comment:        "Vault's database engine: creates and revokes the services' short-lived roles",
			PasswordSecret: &cnpgv1.LocalObjectReference{Name: RoleSecret(name, p.ManagementRole)},
		}}
		secrets = append(secrets, roleSecret(name, p.Namespace, p.ManagementRole))
		for _, db := range byCluster[name] {
			roles = append(roles, cnpgv1.RoleConfiguration{
				Name: db.Owner, Ensure: cnpgv1.EnsurePresent, Login: true,
				Comment:        "owns the " + db.Name + " database and its tables; migrations log in as it",
				PasswordSecret: &cnpgv1.LocalObjectReference{Name: RoleSecret(name, db.Owner)},
			})
			sec := roleSecret(name, p.Namespace, db.Owner)
			if db.CredentialsCopy != nil {
				sec.Copies = append(sec.Copies, *db.CredentialsCopy)
			}
			secrets = append(secrets, sec)
			pg.Databases = append(pg.Databases, kinds.PostgresDatabase.Of(name+"-"+db.Name, p.Namespace, originLabels(db.Service), cnpgv1.DatabaseSpec{
				ClusterRef: corev1.LocalObjectReference{Name: name},
				Name:       db.Name, Owner: db.Owner, Ensure: cnpgv1.EnsurePresent,
				// A database outlives its Database object: deleting data
				// takes a person, never a config change.
				ReclaimPolicy: cnpgv1.DatabaseReclaimRetain,
			}))
		}
		spec := cnpgv1.ClusterSpec{
			Instances: p.Instances,
			ImageName: p.ImageName,
			PostgresConfiguration: cnpgv1.PostgresConfiguration{
				Parameters: map[string]string{
					// Every connection is TLS; the services' pools stay small.
					"ssl_min_protocol_version":   "TLSv1.3",
					"max_connections":            "200",
					"log_min_duration_statement": "1000",
				},
			},
			Certificates:         &cnpgv1.CertificatesConfiguration{ServerTLSSecret: tls, ServerCASecret: tls},
			StorageConfiguration: cnpgv1.StorageConfiguration{Size: p.Storage.Size},
			Resources:            resources,
			// No superuser login from outside the pods: administration goes
			// through the management role.
			EnableSuperuserAccess: ptr(false),
			EnablePDB:             ptr(true),
			Affinity: cnpgv1.AffinityConfiguration{
				EnablePodAntiAffinity: ptr(true),
				TopologyKey:           "topology.kubernetes.io/zone",
				PodAntiAffinityType:   antiAffinity(p.Instances),
			},
			PrimaryUpdateStrategy: cnpgv1.PrimaryUpdateStrategyUnsupervised,
			PrimaryUpdateMethod:   cnpgv1.PrimaryUpdateMethodSwitchover,
			Managed:               &cnpgv1.ManagedConfiguration{Roles: roles},
			// The exporter on :9187 runs on every instance with the default
			// queries; the observability issue scrapes it.
			Monitoring: &cnpgv1.MonitoringConfiguration{DisableDefaultQueries: ptr(false)},
		}
		if p.Storage.StorageClass != "" {
			spec.StorageConfiguration.StorageClass = ptr(p.Storage.StorageClass)
		}
		if p.SynchronousReplicas > 0 {
			spec.PostgresConfiguration.Synchronous = &cnpgv1.SynchronousReplicaConfiguration{
				Method: cnpgv1.SynchronousReplicaConfigurationMethodAny, Number: p.SynchronousReplicas,
				// A commit waits for a standby even when none is left: no
				// silent downgrade to asynchronous.
				DataDurability: cnpgv1.DataDurabilityLevelRequired,
			}
		}
		if p.Backup.Enabled() {
			spec.Backup = backup(p.Backup, name)
			pg.ScheduledBackups = append(pg.ScheduledBackups, kinds.ScheduledBackup.Of(name+"-daily", p.Namespace, nil, cnpgv1.ScheduledBackupSpec{
				Schedule: p.Backup.Schedule, Cluster: cnpgv1.LocalObjectReference{Name: name},
				Method: cnpgv1.BackupMethodBarmanObjectStore, BackupOwnerReference: "self", Immediate: ptr(true),
			}))
		}
		pg.Clusters = append(pg.Clusters, kinds.PostgresCluster.Of(name, p.Namespace, nil, spec))
	}
	return pg, certs, secrets, nil
}

// backup: base backups and continuous WAL archiving to the object store
// (point-in-time recovery), compressed, kept RetentionPolicy long.
func backup(b config.Backup, cluster string) *cnpgv1.BackupConfiguration {
	ref := func(key string) machineryapi.SecretKeySelector {
		return machineryapi.SecretKeySelector{LocalObjectReference: machineryapi.LocalObjectReference{Name: b.CredentialsSecret}, Key: key}
	}
	store := &barmanapi.BarmanObjectStoreConfiguration{
		DestinationPath: strings.TrimSuffix(b.DestinationPath, "/") + "/" + cluster,
		EndpointURL:     b.EndpointURL,
		Wal:             &barmanapi.WalBackupConfiguration{Compression: barmanapi.CompressionTypeGzip, MaxParallel: 2},
		Data:            &barmanapi.DataBackupConfiguration{Compression: barmanapi.CompressionTypeGzip},
	}
	switch {
	case strings.HasPrefix(b.DestinationPath, "s3://"):
		store.AWS = &barmanapi.S3Credentials{AccessKeyIDReference: ptr(ref("ACCESS_KEY_ID")), SecretAccessKeyReference: ptr(ref("ACCESS_SECRET_KEY"))}
	case strings.HasPrefix(b.DestinationPath, "gs://"):
		store.Google = &barmanapi.GoogleCredentials{ApplicationCredentials: ptr(ref("APPLICATION_CREDENTIALS"))}
	default:
		store.Azure = &barmanapi.AzureCredentials{ConnectionString: ptr(ref("AZURE_CONNECTION_STRING"))}
	}
	return &cnpgv1.BackupConfiguration{BarmanObjectStore: store, RetentionPolicy: b.RetentionPolicy, Target: cnpgv1.BackupTargetStandby}
}

// antiAffinity spreads instances over zones: required from three up,
// preferred below (one or two instances must still schedule on a small
// cluster).
func antiAffinity(instances int) string {
	if instances >= 3 {
		return "required"
	}
	return "preferred"
}

// RoleSecret is the Secret holding a managed role's password.
func RoleSecret(cluster, role string) string {
	return cluster + "-" + strings.ReplaceAll(role, "_", "-")
}

func roleSecret(cluster, ns, role string) GeneratedSecret {
	return GeneratedSecret{Name: RoleSecret(cluster, role), Namespace: ns, Type: corev1.SecretTypeBasicAuth,
		Fixed: map[string]string{corev1.BasicAuthUsernameKey: role}, Generated: []string{corev1.BasicAuthPasswordKey}}
}

func originLabels(service string) map[string]string {
	return map[string]string{naming.PartOfLabel: naming.PartOf, naming.ServiceLabel: service}
}

func requirements(r config.Resources) (corev1.ResourceRequirements, error) {
	out := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	for _, q := range []struct {
		list corev1.ResourceList
		name corev1.ResourceName
		v    string
	}{
		{out.Requests, corev1.ResourceCPU, r.Requests.CPU}, {out.Requests, corev1.ResourceMemory, r.Requests.Memory},
		{out.Limits, corev1.ResourceCPU, r.Limits.CPU}, {out.Limits, corev1.ResourceMemory, r.Limits.Memory},
	} {
		parsed, err := resource.ParseQuantity(q.v)
		if err != nil {
			return out, fmt.Errorf("%s %q: %w", q.name, q.v, err)
		}
		q.list[q.name] = parsed
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }
