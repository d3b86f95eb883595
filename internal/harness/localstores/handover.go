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

// VaultSecrets are what the Vault layer needs from the local stores: the
// management role's password per PostgreSQL connection (the Vault layer's
// database engine logs in with it) and the Redis login's password (seeded
// in KV for the services that use Redis).
type VaultSecrets struct {
	PostgresPasswords map[string]string
	RedisPassword     string
}

// VaultSecrets returns the local stores' passwords the Vault layer of cfg
// is handed, for the stores cfg uses; nil when it uses neither.
func (s *Stores) VaultSecrets(cfg *config.Config) (*VaultSecrets, error) {
	usesPostgres, usesRedis := UsesLocal(cfg)
	if !usesPostgres && !usesRedis {
		return nil, nil
	}
	out := &VaultSecrets{PostgresPasswords: map[string]string{}}
	if usesPostgres {
		role := cfg.Data.Postgres.ManagementRole
		pw, err := s.rolePasswords([]string{role})
		if err != nil {
			return nil, fmt.Errorf("the local PostgreSQL's %s password: %w", role, err)
		}
		// An external server is the one connection of the Vault layer.
		out.PostgresPasswords[datastore.PostgresStore] = pw[role]
	}
	if usesRedis {
		pw, err := password(s.RedisAppPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("the local Redis's %s password: %w", RedisAppUser, err)
		}
		out.RedisPassword = pw
	}
	return out, nil
}
