package policyeval

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/peers"
	"github.com/bulwark-platform/bulwark/infra/policy"
	"github.com/bulwark-platform/bulwark/internal/testkit/graphgen"
)

// For random valid graphs the compiled NetworkPolicies and
// AuthorizationPolicies permit exactly the graph's edges (plus the named
// platform paths), nothing more.
func TestCompiledPolicyPermitsExactlyTheGraph(t *testing.T) {
	mesh := config.Defaults(config.Dev).Mesh
	for seed := uint64(1); seed <= 300; seed++ {
		r := rand.New(rand.NewPCG(seed, 42))
		g := graphgen.Random(r)
		if err := g.Validate("graph"); err != nil {
			t.Fatalf("seed %d: generator made an invalid graph: %v", seed, err)
		}
		cfg := config.Defaults(config.Dev)
		cfg.Graph, cfg.Data = g, randomData(r)
		randomVault(r, cfg)
		randomIdentity(r, cfg)
		p := peers.Of(cfg)
		src, dst := Parties(&g, mesh, p)
		rep := Evaluate(policy.Compile(&g, mesh, p), src, dst, mesh.TrustDomain, mesh.RootNamespace)
		got, want := rowStrings(rep), expectedRows(&g, mesh, p)
		if !slices.Equal(got, want) || len(rep.Findings) > 0 {
			t.Fatalf("seed %d: report differs from the graph\n got:\n%s\nwant:\n%s\nfindings: %v",
				seed, strings.Join(got, "\n"), strings.Join(want, "\n"), rep.Findings)
		}
	}
}

// randomData picks where the stores run: installed (a shared cluster or
// one per service; Redis with or without Sentinel) or external by address.
func randomData(r *rand.Rand) config.Data {
	d := config.Defaults(config.Dev).Data
	d.Postgres.Topology = []string{"shared", "perService"}[r.IntN(2)]
	d.Redis.Replicas, d.Redis.Sentinel = 2, r.IntN(2) == 0
	if r.IntN(3) == 0 {
		d.Postgres.Install = false
		d.Postgres.External = config.External{Host: "10.20.0.5", Port: 5432, CIDR: "10.20.0.0/24", TLS: true}
	}
	if r.IntN(3) == 0 {
		d.Redis.Install = false
		d.Redis.External = config.External{Host: "10.30.0.7", Port: []int{0, 6380}[r.IntN(2)], CIDR: "10.30.0.7/32", TLS: true}
	}
	return d
}

// randomVault installs Vault in the cluster or points at an external one
// (on a port, or the local cluster's at port 0).
func randomVault(r *rand.Rand, cfg *config.Config) {
	if r.IntN(2) == 0 {
		cfg.Install.Vault = false
		cfg.Vault.External = config.External{Host: "10.40.0.9", Port: []int{0, 8200}[r.IntN(2)], CIDR: "10.40.0.9/32", TLS: true}
	}
}

// randomIdentity keeps the operator's Keycloak in the cluster or points
// at an external provider by address.
func randomIdentity(r *rand.Rand, cfg *config.Config) {
	if r.IntN(2) == 0 {
		cfg.Identity.Install = false
		cfg.Identity.External = config.External{Host: "10.60.0.8", Port: 443, CIDR: "10.60.0.8/32", TLS: true}
	}
}
