// Package mocktest runs Pulumi programs under the SDK's mock monitor and
// records every registered resource with its inputs, parent and provider,
// so that unit tests can assert the inputs that encode policy.
package mocktest

import (
	"slices"
	"sync"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/bulwark-platform/bulwark/internal/objpath"
)

// Resource is one registered resource.
type Resource struct {
	Type, Name string
	URN        string
	Parent     string
	Provider   string
	Custom     bool
	Inputs     resource.PropertyMap
	// Dependencies are the URNs the resource explicitly depends on.
	Dependencies []string
	// IgnoreChanges are the property paths later updates ignore.
	IgnoreChanges []string
	// Transforms are the resource's transforms (the mocks do not run
	// them; a test may).
	Transforms []pulumi.ResourceTransform
}

// Mocks records resources and echoes inputs back as outputs.
type Mocks struct {
	mu        sync.Mutex
	resources []Resource
	outputs   int
}

// RegisterResourceOutputs counts output registrations (components' and the
// stack's own at the end of a run). The SDK's mock monitor calls it
// without saying whose outputs they are.
func (m *Mocks) RegisterResourceOutputs() (*emptypb.Empty, error) {
	m.mu.Lock()
	m.outputs++
	m.mu.Unlock()
	return &emptypb.Empty{}, nil
}

// OutputRegistrations is how many times outputs were registered.
func (m *Mocks) OutputRegistrations() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.outputs
}

// NewResource implements pulumi.MockResourceMonitor.
func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r := Resource{Type: args.TypeToken, Name: args.Name, Provider: args.Provider, Custom: args.Custom, Inputs: args.Inputs, Transforms: args.Transforms}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent = rpc.GetParent()
		r.Dependencies = rpc.GetDependencies()
		r.IgnoreChanges = rpc.GetIgnoreChanges()
	}
	m.mu.Lock()
	m.resources = append(m.resources, r)
	m.mu.Unlock()
	return args.Name + "-id", args.Inputs, nil
}

// Call implements pulumi.MockResourceMonitor.
func (m *Mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return args.Args, nil
}

// All returns every recorded resource.
func (m *Mocks) All() []Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.resources)
}

// ByType returns the recorded resources of one type token.
func (m *Mocks) ByType(token string) []Resource {
	var out []Resource
	for _, r := range m.All() {
		if r.Type == token {
			out = append(out, r)
		}
	}
	return out
}

// Run runs program under mocks for the given stack with the given
// configuration (full keys, "bulwark:graph", to JSON or plain values).
func Run(stack string, config map[string]string, program pulumi.RunFunc) (*Mocks, error) {
	m := &Mocks{}
	withConfig := func(info *pulumi.RunInfo) { info.Config = config }
	err := pulumi.RunErr(program, pulumi.WithMocks("bulwark", stack, m), withConfig)
	return m, err
}

// RunWithProvider runs program with an explicit Kubernetes provider named
// "k8s", the way components are always given one.
func RunWithProvider(stack string, program func(ctx *pulumi.Context, p pulumi.ProviderResource) error) (*Mocks, error) {
	return Run(stack, nil, func(ctx *pulumi.Context) error {
		p, err := kubernetes.NewProvider(ctx, "k8s", &kubernetes.ProviderArgs{})
		if err != nil {
			return err
		}
		return program(ctx, p)
	})
}

// Get walks nested maps and arrays of a property map by keys and returns
// the plain Go value found, or nil.
func Get(props resource.PropertyMap, path ...string) any {
	return Dig(props.Mappable(), path...)
}

// Dig walks nested maps by keys and returns the value found, or nil.
func Dig(v any, path ...string) any { return objpath.Get(v, path...) }

// Named returns the recorded resource with the given logical name.
func (m *Mocks) Named(name string) (Resource, bool) {
	for _, r := range m.All() {
		if r.Name == name {
			return r, true
		}
	}
	return Resource{}, false
}
