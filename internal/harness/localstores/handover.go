package localstores

import (
	"context"
	"fmt"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/datastore"
	"github.com/bulwark-platform/bulwark/infra/program"
)

// UsesLocal says whether a stack's stores are the local cluster's: external
// at port 0, as local and ci have them.
func UsesLocal(cfg *config.Config) (postgres, redis bool) {
	pg, rd := cfg.Data.Postgres, cfg.Data.Redis
	return !pg.Install && pg.External.Port == 0, !rd.Install && rd.External.Port == 0
}

// HandOver provisions the local PostgreSQL with the stack's data model
// (when the stack uses it) and returns the stores' addresses for the
// program; nil when the stack uses neither local store.
func (s *Stores) HandOver(ctx context.Context, cfg *config.Config) (*program.LocalStores, error) {
	usesPostgres, usesRedis := UsesLocal(cfg)
	if !usesPostgres && !usesRedis {
		return nil, nil
	}
	if usesPostgres {
		if _, err := s.Provision(ctx, datastore.Databases(&cfg.Graph), cfg.Data.Postgres.ManagementRole); err != nil {
			return nil, fmt.Errorf("provisioning the local PostgreSQL: %w", err)
		}
	}
	return &program.LocalStores{
		Postgres: program.Endpoint{Host: s.Postgres.Host, Port: s.Postgres.Port},
		Redis:    program.Endpoint{Host: s.Redis.Host, Port: s.Redis.Port},
	}, nil
}
