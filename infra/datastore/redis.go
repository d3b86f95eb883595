package datastore

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/bulwark-platform/bulwark/infra/config"
)

// The Valkey chart (valkey-io/valkey-helm), pinned once: the Valkey
// project's own chart, Redis-compatible, with replication, Sentinel
// failover, ACL users and persistence, and images the project publishes
// (Bitnami's Redis chart moved its images behind new terms in 2025).
const (
	ValkeyChartRepo    = "https://valkey.io/valkey-helm/"
	ValkeyChartName    = "valkey"
	ValkeyChartVersion = "1.0.0"
)

// Redis users and their ACLs. The application may not list or wipe the
// keyspace (KEYS, FLUSHALL and the rest of @dangerous); default is the
// operators' user; replicator is what replicas and Sentinel log in as.
const (
	RedisAppUser        = "app"
	RedisAdminUser      = "default"
	RedisReplicatorUser = "replicator"
	RedisUsersSecret    = "redis-users"
	redisSentinelKey    = "sentinel"
)

// ACL permissions of each user.
var redisACL = map[string]string{
	RedisAdminUser: "~* &* +@all",
	RedisAppUser:   "~* &* +@all -@dangerous -keys -flushall -flushdb",
	// What Sentinel needs to monitor and promote, and replication.
	RedisReplicatorUser: "~* &* +multi +exec +ping +info +role +subscribe +publish +slaveof +replicaof +config|rewrite +client|setname +client|kill +script|kill +psync +replconf",
}

// ValkeyValues is the part of the Valkey chart's values Bulwark sets.
type ValkeyValues struct {
	// FullnameOverride names the Services after the release ("redis").
	FullnameOverride string `json:"fullnameOverride"`
	ServiceAccount   struct {
		Create    bool `json:"create"`
		Automount bool `json:"automount"`
	} `json:"serviceAccount"`
	Auth struct {
		Enabled             bool               `json:"enabled"`
		UsersExistingSecret string             `json:"usersExistingSecret"`
		ACLUsers            map[string]ACLUser `json:"aclUsers"`
	} `json:"auth"`
	TLS struct {
		Enabled         bool   `json:"enabled"`
		ExistingSecret  string `json:"existingSecret"`
		ServerPublicKey string `json:"serverPublicKey"`
		ServerKey       string `json:"serverKey"`
		CAPublicKey     string `json:"caPublicKey"`
	} `json:"tls"`
	// ValkeyConfig is valkey.conf: persistence and the snapshot policy.
	ValkeyConfig string `json:"valkeyConfig"`
	// DataStorage is the standalone server's volume.
	DataStorage struct {
		Enabled       bool   `json:"enabled"`
		RequestedSize string `json:"requestedSize,omitempty"`
		ClassName     string `json:"className,omitempty"`
	} `json:"dataStorage"`
	Replica struct {
		Enabled         bool   `json:"enabled"`
		Replicas        int    `json:"replicas"`
		ReplicationUser string `json:"replicationUser,omitempty"`
		// MinReplicasToWrite refuses writes no replica would get.
		MinReplicasToWrite int `json:"minReplicasToWrite"`
		Persistence        struct {
			Size         string `json:"size,omitempty"`
			StorageClass string `json:"storageClass,omitempty"`
		} `json:"persistence"`
		Sentinel struct {
			Enabled     bool   `json:"enabled"`
			Replicas    int    `json:"replicas,omitempty"`
			Quorum      int    `json:"quorum,omitempty"`
			MonitorUser string `json:"monitorUser,omitempty"`
			PasswordKey string `json:"passwordKey,omitempty"`
		} `json:"sentinel"`
	} `json:"replica"`
	PodDisruptionBudget struct {
		Enabled        bool `json:"enabled"`
		MaxUnavailable int  `json:"maxUnavailable"`
	} `json:"podDisruptionBudget"`
	Resources corev1.ResourceRequirements `json:"resources"`
	Metrics   struct {
		Enabled bool `json:"enabled"`
	} `json:"metrics"`
}

// ACLUser is one ACL user; its password is the users Secret's key of its name.
type ACLUser struct {
	Permissions string `json:"permissions"`
}

// RedisServerName is the name clients reach the installed Redis at.
func RedisServerName(ns string) string { return RedisRelease + "." + ns + ".svc" }

func compileRedis(r config.Redis) (*InstalledRedis, Certificate, GeneratedSecret) {
	var v ValkeyValues
	v.FullnameOverride = RedisRelease
	v.ServiceAccount.Create = true
	v.Auth.Enabled, v.Auth.UsersExistingSecret = true, RedisUsersSecret
	users := []string{RedisAdminUser, RedisAppUser}
	if r.Replicas > 0 {
		users = append(users, RedisReplicatorUser)
	}
	v.Auth.ACLUsers = map[string]ACLUser{}
	for _, u := range users {
		v.Auth.ACLUsers[u] = ACLUser{Permissions: redisACL[u]}
	}
	tls := RedisRelease + "-server-tls"
	v.TLS.Enabled, v.TLS.ExistingSecret = true, tls
	v.TLS.ServerPublicKey, v.TLS.ServerKey, v.TLS.CAPublicKey = "tls.crt", "tls.key", "ca.crt"
	v.ValkeyConfig = valkeyConf(r.Persistence)
	if r.Replicas == 0 {
		v.DataStorage.Enabled = r.Persistence.Size != ""
		v.DataStorage.RequestedSize, v.DataStorage.ClassName = r.Persistence.Size, r.Persistence.StorageClass
	} else {
		v.Replica.Enabled, v.Replica.Replicas, v.Replica.ReplicationUser = true, r.Replicas, RedisReplicatorUser
		v.Replica.MinReplicasToWrite = 1
		v.Replica.Persistence.Size, v.Replica.Persistence.StorageClass = r.Persistence.Size, r.Persistence.StorageClass
		v.PodDisruptionBudget.Enabled, v.PodDisruptionBudget.MaxUnavailable = true, 1
		if r.Sentinel {
			s := &v.Replica.Sentinel
			s.Enabled, s.Replicas, s.Quorum = true, 3, 2
			s.MonitorUser, s.PasswordKey = RedisReplicatorUser, redisSentinelKey
		}
	}
	v.Metrics.Enabled = true
	v.Resources, _ = requirements(r.Resources) // validated with the configuration
	secret := GeneratedSecret{Name: RedisUsersSecret, Namespace: r.Namespace, Type: corev1.SecretTypeOpaque, Generated: users}
	if r.Sentinel {
		secret.Generated = append(secret.Generated, redisSentinelKey)
	}
	names := []string{RedisRelease, RedisRelease + "." + r.Namespace, RedisServerName(r.Namespace), RedisServerName(r.Namespace) + ".cluster.local",
		"*." + RedisRelease + "-headless." + r.Namespace + ".svc.cluster.local"}
	return &InstalledRedis{Namespace: r.Namespace, Release: RedisRelease, Values: v},
		Certificate{Name: tls, Namespace: r.Namespace, SecretName: tls, DNSNames: names}, secret
}

// valkeyConf is the persistence part of valkey.conf.
func valkeyConf(p config.Persistence) string {
	var b strings.Builder
	if p.AppendOnly {
		b.WriteString("appendonly yes\nappendfsync everysec\n")
	} else {
		b.WriteString("appendonly no\n")
	}
	if p.Snapshots == "" {
		b.WriteString("save \"\"\n")
	} else {
		b.WriteString("save " + p.Snapshots + "\n")
	}
	return b.String()
}
