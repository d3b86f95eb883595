// Package localstack hands the local cluster's stores (PostgreSQL, Redis,
// OpenBao) to the stacks that use them, the same way for `make up` and
// for the stack check.
package localstack

import (
	"context"
	"fmt"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/program"
	"github.com/bulwark-platform/bulwark/internal/harness/localcluster"
	"github.com/bulwark-platform/bulwark/internal/harness/localstores"
	"github.com/bulwark-platform/bulwark/internal/harness/stackrun"
)

// HandOver hands the local cluster's data stores and OpenBao to a stack
// that uses them (external at port 0, as local and ci have them), after
// provisioning its data model: their addresses to the platform layer, the
// OpenBao token and the stores' passwords to the Vault layer. An invalid
// configuration is left to the runner, which reports it whole; destroy
// goes on without stores that are off.
func HandOver(ctx context.Context, root, stack string, c *localcluster.Cluster, destroy bool) (*program.LocalStores, *stackrun.VaultInputs, error) {
	cfg, err := config.LoadStack(root, stack)
	if err != nil {
		return nil, nil, nil
	}
	var stores *program.LocalStores
	var inputs *stackrun.VaultInputs
	if pg, rd := localstores.UsesLocal(cfg); pg || rd {
		if c.Stores == nil {
			if !destroy {
				return nil, nil, fmt.Errorf("stack %s uses the local cluster's data stores (data.postgres/redis.external.port 0), but they are off: %s", stack, c.StoresOff)
			}
		} else {
			if stores, err = c.Stores.HandOver(ctx, cfg); err != nil {
				return nil, nil, fmt.Errorf("stack %s: %w", stack, err)
			}
			pw, err := c.Stores.VaultSecrets(cfg)
			if err != nil {
				return nil, nil, fmt.Errorf("stack %s: %w", stack, err)
			}
			inputs = &stackrun.VaultInputs{PostgresPasswords: pw.PostgresPasswords, RedisPassword: pw.RedisPassword}
		}
	}
	if !cfg.Install.Vault && cfg.Vault.External.Port == 0 {
		if c.Vault == nil {
			if destroy {
				return stores, nil, nil
			}
			return nil, nil, fmt.Errorf("stack %s uses the local cluster's OpenBao (vault.external.port 0), but it is off: %s", stack, c.VaultOff)
		}
		if stores == nil {
			stores = &program.LocalStores{}
		}
		stores.Vault = program.Endpoint{Host: "127.0.0.1", Port: c.Vault.Port()}
		if inputs == nil {
			inputs = &stackrun.VaultInputs{}
		}
		inputs.Token = c.Vault.Token()
	}
	return stores, inputs, nil
}
