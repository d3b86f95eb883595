// Package component is the contract every Bulwark component follows, as
// code: Begin fills defaults, validates the whole Args and only then
// registers the component (invalid args register nothing); Children are
// the options of every child (parented, the explicit provider); Finish
// registers the outputs. The contract test in components/contract runs
// every component through it.
package component

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bulwark-platform/bulwark/internal/fielderr"
)

// Package is the first part of every type token: bulwark:<module>:<Type>.
const Package = "bulwark"

// Begin is a component constructor's first step. args nil, a malformed
// token or args that fail validate (after defaults) return an error that
// names every bad field under "<module> <name>", and nothing is
// registered; otherwise the component is registered and the defaulted
// args returned. defaults must only fill unset fields.
func Begin[A any](ctx *pulumi.Context, c pulumi.ComponentResource, token, name string, args *A,
	defaults func(*A) *A, validate func(*A) error, opts ...pulumi.ResourceOption) (*A, error) {
	module, err := Module(token)
	if err != nil {
		return nil, err
	}
	where := module + " " + name
	if args == nil {
		var l fielderr.List
		l.Add(fielderr.ErrRequired, where+": args", "are required")
		return nil, l.Err()
	}
	a := defaults(args)
	if err := validate(a); err != nil {
		return nil, fielderr.Under(where, err)
	}
	if err := ctx.RegisterComponentResource(token, name, c, opts...); err != nil {
		return nil, fmt.Errorf("%s: registering: %w", where, err)
	}
	return a, nil
}

// Module returns the module of a bulwark:<module>:<Type> token.
func Module(token string) (string, error) {
	parts := strings.Split(token, ":")
	if len(parts) != 3 || parts[0] != Package || parts[1] == "" || parts[2] == "" || strings.ToUpper(parts[2][:1]) != parts[2][:1] {
		return "", fmt.Errorf("component type token %q is not %s:<module>:<Type>", token, Package)
	}
	return parts[1], nil
}

// Children are the options every child of c takes: c as parent, the
// explicit provider, and whatever it must wait for.
func Children(c pulumi.Resource, provider pulumi.ProviderResource, dependsOn ...pulumi.Resource) []pulumi.ResourceOption {
	opts := []pulumi.ResourceOption{pulumi.Parent(c), pulumi.Provider(provider)}
	if len(dependsOn) > 0 {
		opts = append(opts, pulumi.DependsOn(dependsOn))
	}
	return opts
}

// With returns opts plus more, without changing opts' backing array.
func With(opts []pulumi.ResourceOption, more ...pulumi.ResourceOption) []pulumi.ResourceOption {
	out := make([]pulumi.ResourceOption, 0, len(opts)+len(more))
	return append(append(out, opts...), more...)
}

// Finish registers the component's outputs; a component always has some
// (what its users and the stack outputs read).
func Finish(ctx *pulumi.Context, c pulumi.ComponentResource, outputs pulumi.Map) error {
	if len(outputs) == 0 {
		return fmt.Errorf("a component must register its outputs, got none")
	}
	return ctx.RegisterResourceOutputs(c, outputs)
}

// RequireProvider adds the one problem every component checks the same way.
func RequireProvider(l *fielderr.List, p pulumi.ProviderResource) {
	if p == nil {
		l.Add(fielderr.ErrRequired, "provider", "is required (components never use an ambient kubeconfig)")
	}
}
