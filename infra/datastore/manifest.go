package datastore

import (
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/bulwark-platform/bulwark/internal/kinds"
)

// Manifests renders the set for golden files and review: the data model,
// the CNPG objects, the certificates and generated secrets (names and
// keys, never values), and the Valkey chart's values.
func (s Set) Manifests() ([]byte, error) {
	summary := map[string]any{"databases": s.Databases, "managementRole": s.ManagementRole, "certificates": s.Certificates, "generatedSecrets": s.Secrets}
	if s.Redis != nil {
		summary["redis"] = map[string]any{"namespace": s.Redis.Namespace, "release": s.Redis.Release,
			"chart": ValkeyChartName + " " + ValkeyChartVersion, "values": s.Redis.Values}
	}
	head, err := yaml.Marshal(summary)
	if err != nil {
		return nil, fmt.Errorf("data stores: %w", err)
	}
	out := append([]byte("# data model, certificates, generated secrets and the Redis release\n"), head...)
	if s.Postgres == nil {
		return out, nil
	}
	for _, part := range []func() ([]byte, error){
		func() ([]byte, error) { return kinds.YAML(kinds.PostgresCluster, s.Postgres.Clusters) },
		func() ([]byte, error) { return kinds.YAML(kinds.PostgresDatabase, s.Postgres.Databases) },
		func() ([]byte, error) { return kinds.YAML(kinds.ScheduledBackup, s.Postgres.ScheduledBackups) },
	} {
		y, err := part()
		if err != nil {
			return nil, err
		}
		out = append(out, y...)
	}
	return out, nil
}
