package main

import (
	"context"
	"io"
	"time"

	"github.com/bulwark-platform/bulwark/internal/harness/localcluster"
	"github.com/bulwark-platform/bulwark/internal/harness/localstack"
	"github.com/bulwark-platform/bulwark/internal/harness/secretsync"
	"github.com/bulwark-platform/bulwark/internal/harness/stackrun"
)

// operation is one `bulwark up|preview|destroy` of both layers.
type operation struct {
	root, state, stack, kubeconfig string
	cluster                        localcluster.Options
	out                            io.Writer
	logf                           func(format string, a ...any)
}

// syncWait bounds how long `up` waits for the ExternalSecrets to be
// Ready before it prints the posture (the controller retries a store
// whose Vault role the layer has just created).
const syncWait = 90 * time.Second

// operate runs op on the platform layer and the Vault layer: up applies
// the platform, then Vault's configuration (it reads the platform's
// outputs); destroy removes them in reverse; preview shows both, the
// Vault layer's once the platform has been applied.
func operate(ctx context.Context, op string, o operation) error {
	platform := &stackrun.Runner{ProjectDir: o.root, StateDir: o.state, Stack: o.stack, Kubeconfig: o.kubeconfig, Out: o.out, Log: o.logf}
	if o.kubeconfig == "" {
		c, err := localcluster.Up(ctx, o.cluster)
		if err != nil {
			return err
		}
		platform.Kubeconfig = c.Kubeconfig
		if platform.Stores, platform.Vault, err = localstack.HandOver(ctx, o.root, o.stack, c, op == "destroy"); err != nil {
			return err
		}
	}
	vault := *platform
	vault.Layer = stackrun.Vault
	switch op {
	case "up":
		res, err := platform.Up(ctx)
		if err != nil {
			return err
		}
		if err := stackrun.WriteSummary(o.out, res); err != nil {
			return err
		}
		vres, err := vault.Up(ctx)
		if err != nil {
			return err
		}
		posture, err := stackrun.ReadSecretsPosture(res, vres)
		if err != nil {
			return err
		}
		o.logf("waiting up to %s for the External Secrets controller to sync %d secrets", syncWait, len(posture.Secrets.ExternalSecrets))
		st, err := secretsync.Wait(ctx, platform.Kubeconfig, posture.Secrets.ExternalSecrets, syncWait)
		if err != nil {
			return err
		}
		for _, name := range posture.Secrets.ExternalSecrets {
			if why, bad := st[name]; bad {
				posture.NotSynced[name] = why
			} else {
				posture.Synced = append(posture.Synced, name)
			}
		}
		return stackrun.WriteSecretsPosture(o.out, posture)
	case "preview":
		if _, err := platform.Preview(ctx); err != nil {
			return err
		}
		applied, err := platform.HasOutput(ctx, "vault")
		if err != nil {
			return err
		}
		if !applied {
			o.logf("the Vault layer is previewed once the platform layer is up: it reads the platform's `vault` output")
			return nil
		}
		_, err = vault.Preview(ctx)
		return err
	default:
		// Reverse order: Vault's configuration names the platform's
		// service accounts and reviewer, so it goes first.
		if err := vault.Destroy(ctx); err != nil {
			return err
		}
		return platform.Destroy(ctx)
	}
}
