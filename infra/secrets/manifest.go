package secrets

import (
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/bulwark-platform/bulwark/internal/kinds"
)

// Manifests renders the set for golden files and review: the Vault plan
// (mounts, the Kubernetes auth method, roles, database connections and
// roles, static secrets: names, paths and keys, never values), each
// policy's HCL as Vault reads it, the agent's annotations per service, and
// the SecretStores and ExternalSecrets.
func (s Set) Manifests() ([]byte, error) {
	p := s.Plan
	policies := make([]map[string]string, len(p.Policies))
	for i, pol := range p.Policies {
		policies[i] = map[string]string{"name": pol.Name, "hcl": pol.HCL()}
	}
	plan := map[string]any{
		"environment": p.Environment, "distribution": p.Distribution, "address": p.Address,
		"mounts": p.Mounts, "kubernetes": p.Kubernetes, "roles": p.Roles,
		"database": p.Database, "static": p.Static, "policies": policies,
	}
	head, err := yaml.Marshal(map[string]any{"plan": plan, "injections": s.Injections})
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	out := append([]byte("# the Vault plan (policies as HCL), the agent's injections, then the External Secrets objects\n"), head...)
	for _, part := range []func() ([]byte, error){
		func() ([]byte, error) { return kinds.YAML(kinds.SecretStore, s.Stores) },
		func() ([]byte, error) { return kinds.YAML(kinds.ExternalSecret, s.ExternalSecrets) },
		func() ([]byte, error) { return kinds.YAML(kinds.ServiceEntry, s.ServiceEntries) },
	} {
		y, err := part()
		if err != nil {
			return nil, err
		}
		out = append(out, y...)
	}
	return out, nil
}
