// Package stackrun runs Pulumi operations on a Bulwark stack through the
// Automation API with the inline program (the Go language host is not
// needed), on a file backend in the state folder unless PULUMI_BACKEND_URL
// names another.
package stackrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bulwark-platform/bulwark/infra/program"
	"github.com/bulwark-platform/bulwark/infra/vaultlayer"
)

// Project is the platform layer's Pulumi project name.
const Project = "bulwark"

// Layer is one of Bulwark's two Pulumi projects.
type Layer int

const (
	// Platform is the root project: the cluster's objects (Pulumi.yaml,
	// stacks/).
	Platform Layer = iota
	// Vault is Vault's configuration (infra/vault): it reads the platform
	// stack's `vault` output and is applied after it, destroyed before it.
	Vault
)

func (l Layer) String() string {
	if l == Vault {
		return "vault"
	}
	return "platform"
}

// VaultDir is the Vault layer's project folder in the repository.
const VaultDir = "infra/vault"

// VaultInputs are the secrets the runner hands the Vault layer instead of
// writing them into its stack's configuration: the token it configures
// Vault with and the stores' passwords.
type VaultInputs struct {
	Token             string
	PostgresPasswords map[string]string
	RedisPassword     string
}

// localPassphrase encrypts the secrets of the throwaway local and ci
// stacks. It protects nothing of value and is public by design; every
// other stack needs PULUMI_CONFIG_PASSPHRASE (or another secrets provider).
const localPassphrase = "bulwark-local-not-secret"

// Runner runs operations on one stack.
type Runner struct {
	// ProjectDir holds Pulumi.yaml and stacks/.
	ProjectDir string
	// StateDir holds the file backend and PULUMI_HOME.
	StateDir string
	// Stack is the stack name (local, ci, dev, staging, prod).
	Stack string
	// Kubeconfig is handed to the program's Kubernetes provider.
	Kubeconfig string
	// Stores are the local cluster's data stores, handed to the program.
	Stores *program.LocalStores
	// Out receives the engine's progress.
	Out io.Writer
	// Log receives the runner's own progress lines.
	Log func(format string, args ...any)
	// Layer is the project the runner operates on; Platform by default.
	Layer Layer
	// Vault is handed to the Vault layer.
	Vault *VaultInputs
	// Program, when set, runs instead of the Bulwark program: a benchmark
	// measures a raw program of as many resources the same way.
	Program pulumi.RunFunc
}

func (r *Runner) logf(format string, args ...any) {
	if r.Log != nil {
		r.Log(format, args...)
	}
}

func (r *Runner) env() (map[string]string, error) {
	backend := os.Getenv("PULUMI_BACKEND_URL")
	if backend == "" {
		dir := filepath.Join(r.StateDir, "pulumi-backend")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		backend = "file://" + dir
	}
	pass := os.Getenv("PULUMI_CONFIG_PASSPHRASE")
	if pass == "" && os.Getenv("PULUMI_CONFIG_PASSPHRASE_FILE") == "" {
		if r.Stack != "local" && r.Stack != "ci" {
			return nil, fmt.Errorf("stack %s: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to the stack's passphrase", r.Stack)
		}
		pass = localPassphrase
	}
	home := filepath.Join(r.StateDir, "pulumi-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	env := map[string]string{
		"PULUMI_BACKEND_URL":                          backend,
		"PULUMI_HOME":                                 home,
		"PULUMI_SKIP_UPDATE_CHECK":                    "true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
	}
	if pass != "" {
		env["PULUMI_CONFIG_PASSPHRASE"] = pass
	}
	return env, nil
}

// stack selects or creates the stack and installs the inline program with
// the list of configuration keys the stack sets, so that the program can
// reject unknown keys.
func (r *Runner) stack(ctx context.Context) (auto.Stack, error) {
	if r.Stack == "" {
		return auto.Stack{}, errors.New("stack name is empty")
	}
	dir, project := r.ProjectDir, Project
	if r.Layer == Vault {
		dir, project = filepath.Join(r.ProjectDir, VaultDir), vaultlayer.Project
	}
	if _, err := os.Stat(filepath.Join(dir, "stacks", "Pulumi."+r.Stack+".yaml")); err != nil {
		return auto.Stack{}, fmt.Errorf("stack %s: no stacks/Pulumi.%s.yaml in %s", r.Stack, r.Stack, dir)
	}
	env, err := r.env()
	if err != nil {
		return auto.Stack{}, err
	}
	// The program is replaced below, once the configuration keys are known.
	s, err := auto.UpsertStackInlineSource(ctx, "organization/"+project+"/"+r.Stack, project, func(*pulumi.Context) error { return nil },
		auto.WorkDir(dir),
		auto.EnvVars(env),
		auto.SecretsProvider("passphrase"),
	)
	if err != nil {
		return auto.Stack{}, fmt.Errorf("selecting stack %s: %w", r.Stack, err)
	}
	if r.Program != nil {
		s.Workspace().SetProgram(r.Program)
		return s, nil
	}
	cfg, err := s.GetAllConfig(ctx)
	if err != nil {
		return auto.Stack{}, fmt.Errorf("reading configuration of stack %s: %w", r.Stack, err)
	}
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	if r.Layer == Vault {
		o := vaultlayer.Options{ConfigKeys: keys, Kubeconfig: r.Kubeconfig}
		if v := r.Vault; v != nil {
			o.Token, o.PostgresPasswords, o.RedisPassword = v.Token, v.PostgresPasswords, v.RedisPassword
		}
		s.Workspace().SetProgram(vaultlayer.New(o))
		return s, nil
	}
	s.Workspace().SetProgram(program.New(program.Options{ConfigKeys: keys, Kubeconfig: r.Kubeconfig, Stores: r.Stores}))
	return s, nil
}

// Result is what an update left behind, for the summary.
type Result struct {
	Stack     string
	Layer     Layer
	Up        auto.UpResult
	Resources []Resource
}

// Up deploys the stack and returns its outputs and resources.
func (r *Runner) Up(ctx context.Context, opts ...optup.Option) (*Result, error) {
	s, err := r.stack(ctx)
	if err != nil {
		return nil, err
	}
	r.logf("pulumi up: stack %s (%s layer)", r.Stack, r.Layer)
	opts = append([]optup.Option{optup.ProgressStreams(r.out()), optup.Color("never")}, opts...)
	res, err := s.Up(ctx, opts...)
	if err != nil {
		return nil, opError("up", r.name(), err)
	}
	resources, err := r.resources(ctx, s)
	if err != nil {
		return nil, err
	}
	return &Result{Stack: r.Stack, Layer: r.Layer, Up: res, Resources: resources}, nil
}

// Preview shows what an update would change.
func (r *Runner) Preview(ctx context.Context, opts ...optpreview.Option) (auto.PreviewResult, error) {
	s, err := r.stack(ctx)
	if err != nil {
		return auto.PreviewResult{}, err
	}
	r.logf("pulumi preview: stack %s (%s layer)", r.Stack, r.Layer)
	opts = append([]optpreview.Option{optpreview.ProgressStreams(r.out()), optpreview.Color("never")}, opts...)
	res, err := s.Preview(ctx, opts...)
	if err != nil {
		return res, opError("preview", r.name(), err)
	}
	return res, nil
}

// Destroy removes every resource of the stack.
func (r *Runner) Destroy(ctx context.Context, opts ...optdestroy.Option) error {
	s, err := r.stack(ctx)
	if err != nil {
		return err
	}
	r.logf("pulumi destroy: stack %s (%s layer)", r.Stack, r.Layer)
	opts = append([]optdestroy.Option{optdestroy.ProgressStreams(r.out()), optdestroy.Color("never")}, opts...)
	if _, err := s.Destroy(ctx, opts...); err != nil {
		return opError("destroy", r.name(), err)
	}
	return nil
}

func (r *Runner) out() io.Writer {
	if r.Out == nil {
		return io.Discard
	}
	return r.Out
}

// OpError is a failed Pulumi operation. Its message carries only the
// engine's diagnostics: the full progress was already streamed to Out.
type OpError struct {
	Op, Stack string
	Err       error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("pulumi %s of stack %s failed:\n%s", e.Op, e.Stack, diagnostics(e.Err.Error()))
}

func (e *OpError) Unwrap() error { return e.Err }

func opError(op, stack string, err error) error {
	return &OpError{Op: op, Stack: stack, Err: err}
}

// diagnostics cuts the "Diagnostics:" section out of the engine's output,
// or returns the whole text when there is none.
func diagnostics(out string) string {
	_, after, ok := strings.Cut(out, "Diagnostics:\n")
	if !ok {
		return out
	}
	for _, end := range []string{"\nResources:", "\nOutputs:", "\nDuration:"} {
		if before, _, found := strings.Cut(after, end); found {
			after = before
		}
	}
	return strings.TrimRight(after, "\n ")
}

// name is the stack as errors name it.
func (r *Runner) name() string {
	if r.Layer == Vault {
		return r.Stack + " (vault layer)"
	}
	return r.Stack
}

// HasOutput reports whether the stack exists and has the output key (it
// has been applied by a program that exports it).
func (r *Runner) HasOutput(ctx context.Context, key string) (bool, error) {
	s, err := r.stack(ctx)
	if err != nil {
		return false, err
	}
	out, err := s.Outputs(ctx)
	if err != nil {
		return false, fmt.Errorf("reading the outputs of stack %s: %w", r.name(), err)
	}
	_, ok := out[key]
	return ok, nil
}
