package config

import (
	"time"

	"github.com/bulwark-platform/bulwark/infra/graph"
)

const day = 24 * time.Hour

// Defaults returns the configuration an environment gets when its stack
// file sets nothing else. Every decision that depends on the environment
// is made here and nowhere else: production gets the redundancy (3
// replicas, PDB minAvailable 2, room to scale to 12, 3 control-plane
// replicas), an outbound policy that admits only known services, TLS 1.3
// and 5 % trace sampling; local and ci get what a laptop or a kwok
// cluster can hold.
func Defaults(env Environment) *Config {
	c := &Config{
		Environment: env,
		Workloads: Workloads{
			Replicas: 2,
			Resources: Resources{
				Requests: Quantities{CPU: "100m", Memory: "128Mi", EphemeralStorage: "128Mi"},
				Limits:   Quantities{CPU: "500m", Memory: "256Mi", EphemeralStorage: "256Mi"},
			},
			Autoscaling:                   Autoscaling{MinReplicas: 2, MaxReplicas: 6, TargetCPUUtilization: 70, TargetMemoryUtilization: 80},
			VPAMode:                       "Off",
			TerminationGracePeriodSeconds: 30,
			PreStopSleepSeconds:           5,
			TopologySpread:                "ScheduleAnyway",
			// All but one of two replicas stay up during a drain.
			DisruptionBudget: DisruptionBudget{MinAvailable: 1},
			TmpSize:          "64Mi",
		},
		Observability: Observability{TraceSamplingRatio: 1,
			// 0.1 % of requests may fail; 99 % finish within half a second.
			SLO: SLO{Availability: 0.999, LatencyTarget: 0.99, LatencyThreshold: 500 * time.Millisecond}},
		Mesh: Mesh{
			TrustDomain:   "cluster.local",
			RootNamespace: "istio-system",
			Istiod:        Peer{Namespace: "istio-system", Service: "istiod", PodLabels: map[string]string{"app": "istiod"}, Port: 15012},
			DNS:           Peer{Namespace: "kube-system", Service: "kube-dns", PodLabels: map[string]string{"k8s-app": "kube-dns"}, Port: 53},
			Prometheus: Peer{Namespace: "monitoring", ServiceAccount: "prometheus",
				PodLabels: map[string]string{"app.kubernetes.io/name": "prometheus"}},
			OTelCollector: Peer{Namespace: "observability", Service: "otel-collector",
				PodLabels: map[string]string{"app.kubernetes.io/name": "opentelemetry-collector"}, Port: 4317},
			OutboundTrafficPolicy: "ALLOW_ANY",
		},
		Vault: Vault{
			Distribution: "openbao", Mode: "ha", Replicas: 3, Namespace: "vault",
			Storage:    Storage{Size: "10Gi"},
			PathPrefix: "bulwark/" + string(env),
			Kubernetes: VaultKubernetes{
				Host:     "https://kubernetes.default.svc",
				Issuer:   "https://kubernetes.default.svc.cluster.local",
				Audience: "vault",
			},
			// Agents log in again well before a token ends; a day-long
			// credential is what Vault is here to end.
			Token:    TTLs{TTL: time.Hour, MaxTTL: 4 * time.Hour},
			Database: TTLs{TTL: time.Hour, MaxTTL: 24 * time.Hour},
			Audit:    true,
		},
		ExternalSecrets: ExternalSecrets{Namespace: "external-secrets", RefreshInterval: 5 * time.Minute},
		Install:         Install{Istio: true, CertManager: true, Vault: true, ExternalSecrets: true, Observability: true, Replicas: 2},
		Certificates:    Certificates{RootCADuration: 365 * day, LeafDuration: 30 * day, Issuer: CAIssuer},
		Identity: Identity{
			Provider: "keycloak", Realm: "bulwark",
			Issuer:   "https://id." + string(env) + ".bulwark.example.com/realms/bulwark",
			Audience: "bulwark-api",
			BrowserClient: BrowserClient{
				ClientID:     "bulwark-web",
				RedirectURIs: []string{"https://app." + string(env) + ".bulwark.example.com/callback"},
				WebOrigins:   []string{"https://app." + string(env) + ".bulwark.example.com"},
			},
			AccessTokenLifespan:  10 * time.Minute,
			RefreshTokenLifespan: 12 * time.Hour,
			// Keycloak in the cluster, by its operator.
			Install: true, Namespace: "identity", Instance: "keycloak",
		},
		Edge: Edge{
			Hosts:         []string{"api." + string(env) + ".bulwark.example.com"},
			MinTLSVersion: "1.2",
			// JWT follows Identity (set below, once the environment's
			// identity is final).
			RateLimit: RateLimit{Requests: 100, PerSeconds: 1},
		},
		Data: Data{
			Postgres: Postgres{
				Install: true, Namespace: "data", Topology: "shared", Instances: 1,
				ImageName: "ghcr.io/cloudnative-pg/postgresql:17.6",
				Storage:   Storage{Size: "10Gi"},
				Resources: Resources{Requests: Quantities{CPU: "250m", Memory: "512Mi"}, Limits: Quantities{CPU: "1", Memory: "1Gi"}},
				Backup: Backup{
					DestinationPath:   "s3://bulwark-" + string(env) + "-backups/postgres",
					CredentialsSecret: "bulwark-backup-credentials",
					Schedule:          "0 0 3 * * *", // daily at 03:00; WAL is archived continuously
					RetentionPolicy:   "14d",
				},
				ManagementRole: "bulwark_admin",
			},
			Redis: Redis{
				Install: true, Namespace: "data",
				Persistence: Persistence{Size: "1Gi", AppendOnly: true, Snapshots: "3600 1 300 100"},
				Resources:   Resources{Requests: Quantities{CPU: "100m", Memory: "128Mi"}, Limits: Quantities{CPU: "500m", Memory: "256Mi"}},
			},
		},
		Graph: graph.Default(),
	}
	switch env {
	case Local, CI:
		c.Certificates.RootCADuration, c.Certificates.LeafDuration = 30*day, day
		c.Edge.Hosts = []string{"api.bulwark.localhost"}
		// The local cluster runs PostgreSQL and Redis as processes on
		// loopback and hands their ports over: external stores, exactly as
		// a managed database would be.
		c.Data.Postgres.Install, c.Data.Postgres.Backup = false, Backup{}
		c.Data.Postgres.External = External{Host: "127.0.0.1", CIDR: "127.0.0.1/32"}
		c.Data.Redis.Install = false
		c.Data.Redis.External = External{Host: "127.0.0.1", CIDR: "127.0.0.1/32"}
		// OpenBao runs in dev mode beside the local cluster, an external
		// Vault like a managed one; the runner hands over its port and the
		// cluster's API server and token issuer.
		c.Vault = Vault{Distribution: "openbao", Mode: "dev", Replicas: 1, Namespace: "vault",
			External: External{Host: "127.0.0.1", CIDR: "127.0.0.1/32"}, PathPrefix: c.Vault.PathPrefix,
			Kubernetes: VaultKubernetes{Issuer: c.Vault.Kubernetes.Issuer, Audience: "vault"},
			Token:      TTLs{TTL: 10 * time.Minute, MaxTTL: time.Hour}, Database: c.Vault.Database}
		c.ExternalSecrets.RefreshInterval = 15 * time.Second
		// The browser app runs on the developer's machine.
		c.Identity.BrowserClient.RedirectURIs = []string{"http://localhost:3000/callback"}
		c.Identity.BrowserClient.WebOrigins = []string{"http://localhost:3000"}
		c.Identity.AccessTokenLifespan = 15 * time.Minute
		// The runner's Hydra on loopback, on its public port.
		c.Identity.Install = false
		c.Identity.External = External{Host: "127.0.0.1", Port: 4444, CIDR: "127.0.0.1/32"}
	}
	switch env {
	case Local:
		c.Workloads.Replicas = 1
		c.Workloads.Resources.Requests = Quantities{CPU: "50m", Memory: "64Mi", EphemeralStorage: "128Mi"}
		c.Workloads.Autoscaling.MinReplicas, c.Workloads.Autoscaling.MaxReplicas = 1, 3
		// One replica may go: a minAvailable of 1 would block every drain.
		c.Workloads.DisruptionBudget = DisruptionBudget{MaxUnavailable: 1}
		// The embedded local cluster (kwok nodes) can't run webhooks or
		// controllers: it holds the add-ons' CRDs and namespaces, so the
		// local stack adopts them. On kind, set bulwark:install to true.
		c.Install = Install{Replicas: 1}
	case CI:
		c.Workloads.Autoscaling.MaxReplicas = 4
		// Short leases make the stack check see credentials rotate and
		// old roles revoked within a minute; a rotated static secret
		// reaches its Secret within 10 s.
		c.Vault.Database = TTLs{TTL: 20 * time.Second, MaxTTL: 20 * time.Second}
		c.ExternalSecrets.RefreshInterval = 10 * time.Second
		// Chart repositories can't be reached from CI: adopt what the test installs.
		c.Install = Install{Replicas: 2}
	case Dev:
		c.Observability.TraceSamplingRatio = 0.5
		c.Data.Postgres.Backup.RetentionPolicy = "7d"
		c.ExternalSecrets.RefreshInterval = time.Minute
		c.Certificates.RootCADuration, c.Certificates.LeafDuration = 90*day, 7*day
		c.Identity.AccessTokenLifespan = 15 * time.Minute
	case Staging:
		c.Observability.TraceSamplingRatio = 0.2
		c.Data.Postgres.Instances = 2
		c.Data.Redis.Replicas = 1
		c.Workloads.Resources.Requests = Quantities{CPU: "200m", Memory: "256Mi", EphemeralStorage: "128Mi"}
		c.Workloads.Resources.Limits = Quantities{CPU: "1", Memory: "512Mi", EphemeralStorage: "512Mi"}
		c.Workloads.Autoscaling.MaxReplicas = 8
		c.Mesh.OutboundTrafficPolicy = "REGISTRY_ONLY"
		c.Identity.RefreshTokenLifespan = 8 * time.Hour
	case Prod:
		c.Workloads.Replicas = 3
		c.Workloads.Resources.Requests = Quantities{CPU: "250m", Memory: "256Mi", EphemeralStorage: "256Mi"}
		c.Workloads.Resources.Limits = Quantities{CPU: "1", Memory: "512Mi", EphemeralStorage: "512Mi"}
		c.Workloads.Autoscaling.MinReplicas, c.Workloads.Autoscaling.MaxReplicas = 3, 12
		c.Workloads.TerminationGracePeriodSeconds = 45
		c.Workloads.PreStopSleepSeconds = 10
		c.Workloads.TopologySpread = "DoNotSchedule"
		c.Workloads.DisruptionBudget = DisruptionBudget{MinAvailable: 2}
		c.Observability.TraceSamplingRatio = 0.05
		c.Mesh.OutboundTrafficPolicy = "REGISTRY_ONLY"
		c.Vault.Replicas = 5
		c.Vault.Storage.Size = "20Gi"
		c.Vault.Token = TTLs{TTL: 30 * time.Minute, MaxTTL: 2 * time.Hour}
		c.ExternalSecrets.RefreshInterval = 15 * time.Minute
		c.Install.Replicas = 3
		c.Certificates.RootCADuration, c.Certificates.LeafDuration = 5*365*day, 90*day
		c.Edge.MinTLSVersion = "1.3"
		c.Edge.RateLimit = RateLimit{Requests: 200, PerSeconds: 1}
		// A leaked access token is good for five minutes; a session
		// refreshes within a working day.
		c.Identity.AccessTokenLifespan = 5 * time.Minute
		c.Identity.RefreshTokenLifespan = 8 * time.Hour
		// A cluster per service (its own failure domain and restores),
		// three instances, each commit confirmed by a standby.
		c.Data.Postgres.Topology, c.Data.Postgres.Instances, c.Data.Postgres.SynchronousReplicas = "perService", 3, 1
		c.Data.Postgres.Storage.Size = "50Gi"
		c.Data.Postgres.Resources = Resources{Requests: Quantities{CPU: "1", Memory: "2Gi"}, Limits: Quantities{CPU: "2", Memory: "4Gi"}}
		c.Data.Postgres.Backup.RetentionPolicy = "30d"
		c.Data.Redis.Replicas, c.Data.Redis.Sentinel = 2, true
		c.Data.Redis.Persistence.Size = "5Gi"
	}
	// The gateway trusts the identity provider: one source for the issuer
	// and the gateway's audience.
	c.Edge.JWT = c.Identity.EdgeJWT()
	return c
}
