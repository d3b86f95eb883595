package datastore

// Names of the installed stores' objects.
const (
	// SharedCluster is the CNPG cluster of the shared topology.
	SharedCluster = "bulwark-postgres"
	// RedisRelease is the Valkey chart's release.
	RedisRelease = "redis"
	// cnpgClusterLabel is set by CloudNativePG on every instance's pod.
	cnpgClusterLabel = "cnpg.io/cluster"
)

// ClusterName is the CNPG cluster holding a service's database.
func ClusterName(service, topology string) string {
	if topology == "perService" {
		return service + "-postgres"
	}
	return SharedCluster
}

// RedisPodLabels select the Valkey chart's pods of the release.
func RedisPodLabels() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "valkey", "app.kubernetes.io/instance": RedisRelease}
}
