// Package peers lists, per service of the graph, the platform workloads
// beyond the graph it may reach: its data stores (infra/datastore), Vault
// when it logs in there (infra/secrets) and the identity provider
// (bulwark:identity). The network policies, the
// policy report and the stack check all read this one list, compiled from
// the same configuration as the stores and Vault themselves, so a
// policy cannot drift from what it protects.
package peers

import (
	"maps"
	"slices"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/datastore"
	"github.com/bulwark-platform/bulwark/infra/secrets"
)

// Peer is a workload one service may reach: pods of the cluster or an
// address outside it, on some ports.
type Peer = datastore.Peer

// Set is each service's peers, by service name.
type Set map[string][]Peer

// Of lists every service's peers: its PostgreSQL and Redis (when it uses
// them), then Vault (when it logs in to read its database credentials),
// then the identity provider (every service: it validates tokens).
func Of(cfg *config.Config) Set {
	out := Set(datastore.Peers(&cfg.Graph, cfg.Data))
	for _, more := range []map[string][]Peer{secrets.Peers(cfg), identityPeers(cfg)} {
		for _, s := range cfg.Graph.Services {
			out[s.Name] = append(out[s.Name], more[s.Name]...)
		}
	}
	return out
}

// CIDRs are the networks of the peers outside the cluster: with the
// environment's egressCIDRs, the only ipBlocks a service's egress may name.
func (s Set) CIDRs() []string {
	var out []string
	for _, svc := range slices.Sorted(maps.Keys(s)) {
		for _, p := range s[svc] {
			if !p.InCluster() && !slices.Contains(out, p.CIDR) {
				out = append(out, p.CIDR)
			}
		}
	}
	return out
}
