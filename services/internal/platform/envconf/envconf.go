// Package envconf loads a service's configuration from environment
// variables (caarlos0/env) and reports every bad or missing value by the
// variable's name, so start-up stops with an error an operator can act on.
package envconf

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Validator is implemented by configurations with rules beyond types.
type Validator interface{ Validate() error }

// Load fills cfg (a pointer to a struct with env tags) from the process
// environment and validates it.
func Load(cfg any) error { return load(cfg, env.Options{}) }

// LoadFrom is Load over environ instead of the process environment (nil
// is an empty environment, never the process's): how a platform checks the
// variables it gives a service with the service's own loader and rules.
func LoadFrom(cfg any, environ map[string]string) error {
	if environ == nil {
		environ = map[string]string{}
	}
	return load(cfg, env.Options{Environment: environ})
}

func load(cfg any, opts env.Options) error {
	if err := env.ParseWithOptions(cfg, opts); err != nil {
		return rename(cfg, err)
	}
	if v, ok := cfg.(Validator); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
	}
	return nil
}

// rename rewrites the library's errors to name variables, not Go fields.
func rename(cfg any, err error) error {
	var agg env.AggregateError
	errs := []error{err}
	if errors.As(err, &agg) {
		errs = agg.Errors
	}
	t := reflect.TypeOf(cfg).Elem()
	var out []string
	for _, e := range errs {
		var pe env.ParseError
		var unset env.VarIsNotSetError
		var empty env.EmptyVarError
		switch {
		case errors.As(e, &pe):
			name := pe.Name
			if f, ok := t.FieldByName(pe.Name); ok {
				if tag, _, _ := strings.Cut(f.Tag.Get("env"), ","); tag != "" {
					name = tag
				}
			}
			out = append(out, fmt.Sprintf("%s: not a valid %s", name, describe(pe.Type)))
		case errors.As(e, &unset):
			out = append(out, unset.Key+": required, not set")
		case errors.As(e, &empty):
			out = append(out, empty.Key+": required, empty")
		default:
			out = append(out, e.Error())
		}
	}
	return fmt.Errorf("configuration: %s", strings.Join(out, "; "))
}

func describe(t reflect.Type) string {
	if t.String() == "time.Duration" {
		return "duration (such as 5s)"
	}
	return t.String()
}
