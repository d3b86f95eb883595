package datastore

import (
	"net"
	"strings"

	networkingv1alpha3 "istio.io/api/networking/v1alpha3"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/graph"
)

// Store names, as the policies' peer labels and the report name them.
const (
	PostgresStore = "postgres"
	RedisStore    = "redis"
)

// Ports the stores serve on in the cluster.
const (
	PostgresPort = 5432
	RedisPort    = 6379
	SentinelPort = 26379
)

// Peer is a store one service may reach: pods in the cluster (Namespace
// and PodLabels) or an address outside it (CIDR), on Ports. The network
// policies are compiled from these, from the same configuration as the
// stores themselves, so the two cannot drift.
type Peer struct {
	// Store is PostgresStore or RedisStore; Name names the workload
	// (the CNPG cluster, the Redis release) in reports.
	Store, Name string
	Namespace   string
	PodLabels   map[string]string
	CIDR        string
	// Ports are the ports allowed; none means any port of CIDR.
	Ports []int
}

// InCluster says whether the peer is pods of the cluster.
func (p Peer) InCluster() bool { return p.CIDR == "" }

// Peers lists, per service of the graph, the stores it may reach: its
// PostgreSQL (its own cluster, the shared one, or the external server) if
// it uses PostgreSQL, and Redis if it uses Redis.
func Peers(g *graph.Graph, d config.Data) map[string][]Peer {
	out := map[string][]Peer{}
	for _, s := range g.Services {
		if s.Postgres {
			out[s.Name] = append(out[s.Name], postgresPeer(s.Name, d.Postgres))
		}
		if s.Redis {
			out[s.Name] = append(out[s.Name], redisPeer(d.Redis))
		}
	}
	return out
}

func postgresPeer(service string, p config.Postgres) Peer {
	if !p.Install {
		return Peer{Store: PostgresStore, Name: PostgresStore, CIDR: p.External.CIDR, Ports: externalPorts(p.External)}
	}
	cluster := ClusterName(service, p.Topology)
	return Peer{Store: PostgresStore, Name: cluster, Namespace: p.Namespace,
		PodLabels: map[string]string{cnpgClusterLabel: cluster}, Ports: []int{PostgresPort}}
}

func redisPeer(r config.Redis) Peer {
	if !r.Install {
		return Peer{Store: RedisStore, Name: RedisStore, CIDR: r.External.CIDR, Ports: externalPorts(r.External)}
	}
	ports := []int{RedisPort}
	if r.Sentinel {
		// Clients ask Sentinel for the current primary.
		ports = append(ports, SentinelPort)
	}
	return Peer{Store: RedisStore, Name: RedisRelease, Namespace: r.Namespace, PodLabels: RedisPodLabels(), Ports: ports}
}

// externalPorts is the store's port. Port 0 is the local cluster's store,
// whose port is chosen free at each start: the rule then names the
// loopback address and no port, so a restarted store changes no policy.
func externalPorts(e config.External) []int {
	if e.Port == 0 {
		return nil
	}
	return []int{e.Port}
}

// CIDRs are the networks of the external stores: the only ipBlocks the
// services' egress may name besides the environment's egressCIDRs.
func CIDRs(d config.Data) []string {
	var out []string
	if !d.Postgres.Install {
		out = append(out, d.Postgres.External.CIDR)
	}
	if !d.Redis.Install && d.Redis.External.CIDR != d.Postgres.External.CIDR {
		out = append(out, d.Redis.External.CIDR)
	}
	return out
}

// ExternalServiceEntry registers a peer outside the cluster with a
// REGISTRY_ONLY mesh: host is the name the workloads dial (the sidecar
// matches it, by TLS SNI when e.TLS), or a name of the peer's own when
// they dial an address; when e.Host is an address, the entry's one
// endpoint is that address and its network is e.CIDR. Exported to its
// own namespace only.
func ExternalServiceEntry(e config.External, host, peer string) *networkingv1alpha3.ServiceEntry {
	protocol := "TCP"
	if e.TLS {
		protocol = "TLS"
	}
	if net.ParseIP(host) != nil {
		host = peer + ".external"
	}
	se := &networkingv1alpha3.ServiceEntry{
		Hosts:      []string{host},
		Location:   networkingv1alpha3.ServiceEntry_MESH_EXTERNAL,
		Resolution: networkingv1alpha3.ServiceEntry_DNS,
		Ports:      []*networkingv1alpha3.ServicePort{{Number: uint32(e.Port), Name: strings.ToLower(protocol) + "-" + peer, Protocol: protocol}},
		ExportTo:   []string{"."},
	}
	if net.ParseIP(e.Host) != nil {
		se.Addresses = []string{e.CIDR}
		se.Resolution = networkingv1alpha3.ServiceEntry_STATIC
		se.Endpoints = []*networkingv1alpha3.WorkloadEntry{{Address: e.Host}}
	}
	return se
}
