// Command bulwark drives the platform: the local cluster and Pulumi
// operations through the Automation API with the inline program.
//
//	bulwark cluster up|down|status
//	bulwark up|preview|destroy [-stack local] [-kubeconfig path]
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

	"github.com/bulwark-platform/bulwark/internal/harness/localcluster"
	"github.com/bulwark-platform/bulwark/internal/harness/paths"
	"github.com/bulwark-platform/bulwark/internal/harness/policyreport"
	"github.com/bulwark-platform/bulwark/internal/harness/stackrun"
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
  bulwark cluster up|down|status     the local cluster (etcd, kube-apiserver, controller-manager, scheduler, kwok)
  bulwark up|preview|destroy [flags]  a Pulumi operation on a stack
  bulwark policy-report -stack NAME [-base REV] [-json]
                                     who may talk to whom, from the compiled policies (-base: the change against REV)
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
		kc := *kubeconfig
		if kc == "" {
			c, err := localcluster.Up(ctx, clusterOpts)
			if err != nil {
				return err
			}
			kc = c.Kubeconfig
		}
		r := &stackrun.Runner{
			ProjectDir: root,
			StateDir:   state,
			Stack:      *stack,
			Kubeconfig: kc,
			Out:        stdout,
			Log:        logf,
		}
		switch args[0] {
		case "up":
			res, err := r.Up(ctx)
			if err != nil {
				return err
			}
			return stackrun.WriteSummary(stdout, res)
		case "preview":
			_, err := r.Preview(ctx)
			return err
		default:
			return r.Destroy(ctx)
		}
	}
	return errors.New(usage)
}
