// Command bulwark drives the platform: the local cluster and Pulumi
// operations through the Automation API with the inline program.
//
//	bulwark cluster up|down|status
//	bulwark up|preview|destroy [-stack local] [-kubeconfig path]
//	bulwark policy-report -stack NAME [-base REV] [-json]
//	bulwark data-sql -stack NAME
//	bulwark restore-drill
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/datastore"
	"github.com/bulwark-platform/bulwark/internal/harness/localcluster"
	"github.com/bulwark-platform/bulwark/internal/harness/localstores"
	"github.com/bulwark-platform/bulwark/internal/harness/localvault"
	"github.com/bulwark-platform/bulwark/internal/harness/paths"
	"github.com/bulwark-platform/bulwark/internal/harness/policyreport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bulwark:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  bulwark cluster up|down|status     the local cluster (etcd, kube-apiserver, controller-manager, scheduler, kwok,
                                     and its data stores: PostgreSQL and Redis)
  bulwark up|preview|destroy [flags]  a Pulumi operation on a stack
  bulwark policy-report -stack NAME [-base REV] [-json]
                                     who may talk to whom, from the compiled policies (-base: the change against REV)
  bulwark data-sql -stack NAME       the psql script that provisions the stack's data model on an existing
                                     PostgreSQL (what a DBA runs on a managed database)
  bulwark restore-drill              back up the local cluster's PostgreSQL, restore it on a second instance, compare
flags:
  -stack NAME        stack name (local, ci, dev, staging, prod); default local
  -kubeconfig PATH   target this cluster instead of starting the local one`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	root, err := paths.ProjectRoot()
	if err != nil {
		return err
	}
	state := paths.StateDir(root)
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "==> "+format+"\n", a...) }
	clusterOpts := localcluster.Options{
		StateDir:   state + "/cluster",
		BinDir:     paths.BinDir(),
		StagesDir:  paths.StagesDir(),
		CRDDir:     paths.CRDDir(),
		Namespaces: paths.AddonNamespaces,
		Log:        logf,
	}
	switch args[0] {
	case "cluster":
		if len(args) != 2 {
			return errors.New(usage)
		}
		switch args[1] {
		case "up":
			c, err := localcluster.Up(ctx, clusterOpts)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "local cluster ready at %s\nexport KUBECONFIG=%s\n", c.Server, c.Kubeconfig)
			printStores(stdout, c)
			printSecrets(stdout, c)
			return nil
		case "down":
			if err := localcluster.Down(clusterOpts.StateDir); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "local cluster stopped (data kept in", clusterOpts.StateDir+"; `make clean-state` removes it)")
			return nil
		case "status":
			if !localcluster.Running(clusterOpts.StateDir) {
				fmt.Fprintln(stdout, "local cluster: not running")
				return nil
			}
			fmt.Fprintf(stdout, "local cluster: running\nexport KUBECONFIG=%s\n", localcluster.KubeconfigPath(clusterOpts.StateDir))
			if st, err := localstores.Current(clusterOpts.StateDir); err == nil {
				printStores(stdout, &localcluster.Cluster{Stores: st})
			} else {
				fmt.Fprintln(stdout, "data stores:", err)
			}
			c := &localcluster.Cluster{}
			if c.Vault, err = localvault.Current(clusterOpts.StateDir); err != nil {
				c.VaultOff = err.Error()
			}
			if !localcluster.Runs(clusterOpts.StateDir, localcluster.ExternalSecrets) {
				c.ExternalSecretsOff = "not running"
			}
			printSecrets(stdout, c)
			return nil
		}
		return errors.New(usage)
	case "policy-report":
		fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
		fs.SetOutput(stderr)
		stack := fs.String("stack", "local", "stack name")
		base := fs.String("base", "", "git revision to compare with")
		asJSON := fs.Bool("json", false, "print JSON")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return policyreport.Run(ctx, policyreport.Options{Root: root, Stack: *stack, Base: *base, JSON: *asJSON}, stdout)
	case "data-sql":
		fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
		fs.SetOutput(stderr)
		stack := fs.String("stack", "local", "stack name")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		cfg, err := config.LoadStack(root, *stack)
		if err != nil {
			return err
		}
		_, err = io.WriteString(stdout, datastore.ProvisionScript(datastore.Databases(&cfg.Graph), cfg.Data.Postgres.ManagementRole))
		return err
	case "restore-drill":
		if len(args) != 1 {
			return errors.New(usage)
		}
		if err := paths.PrependPath(); err != nil {
			return err
		}
		c, err := localcluster.Up(ctx, clusterOpts)
		if err != nil {
			return err
		}
		if c.Stores == nil {
			return fmt.Errorf("restore drill: the local cluster's data stores are off: %s", c.StoresOff)
		}
		res, err := c.Stores.RestoreDrill(ctx, localstores.DrillOptions{})
		if res != nil {
			fmt.Fprintln(stdout, res)
		}
		return err
	case "up", "preview", "destroy":
		fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
		fs.SetOutput(stderr)
		stack := fs.String("stack", "local", "stack name")
		kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the target cluster; empty starts the local cluster")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if err := paths.PrependPath(); err != nil {
			return err
		}
		return operate(ctx, args[0], operation{root: root, state: state, stack: *stack, kubeconfig: *kubeconfig,
			cluster: clusterOpts, out: stdout, logf: logf})
	}
	return errors.New(usage)
}

// printStores prints where the data stores listen and where their
// credentials are.
func printStores(w io.Writer, c *localcluster.Cluster) {
	if c.Stores == nil {
		fmt.Fprintln(w, "data stores: off:", c.StoresOff)
		return
	}
	s := c.Stores
	fmt.Fprintf(w, "PostgreSQL at %s (superuser %s, password in %s)\nRedis at %s (users %s: %s, %s: %s)\n",
		s.Postgres.Address(), localstores.PostgresSuperuser, s.PostgresPasswordFile,
		s.Redis.Address(), localstores.RedisHarnessUser, s.RedisPasswordFile, localstores.RedisAppUser, s.RedisAppPasswordFile)
}

// printSecrets prints where OpenBao listens, where its root token is, and
// whether the External Secrets controller runs.
func printSecrets(w io.Writer, c *localcluster.Cluster) {
	if c.Vault == nil {
		fmt.Fprintln(w, "OpenBao: off:", c.VaultOff)
	} else {
		fmt.Fprintf(w, "OpenBao at %s (root token in %s, audit log %s)\nexport BAO_ADDR=%s\n",
			c.Vault.Address, c.Vault.TokenFile, c.Vault.AuditLog, c.Vault.Address)
	}
	if c.ExternalSecretsOff != "" {
		fmt.Fprintln(w, "External Secrets controller: off:", c.ExternalSecretsOff)
	} else {
		fmt.Fprintln(w, "External Secrets controller: running")
	}
}
