// Package contract is what each Bulwark service requires of the platform
// that runs it, in one place both sides import: the services load their
// configuration structs from here (Common, User, Order, Payment), and the
// platform (infra/, which can't import services/internal) derives from the
// same structs what every Deployment must provide. Since the contract is
// read off the structs the services actually load, the two can't drift.
//
// The structs use caarlos0/env tags (`env:"NAME,required,notEmpty"`,
// `envDefault:"..."`, embedded structs, `envPrefix`), plus a `contract`
// tag for what env tags can't say:
//
//	contract:"file"                  the value is the path of a file the service reads
//	contract:"url=<service>"         the value is that callee's base URL (from the graph)
//	contract:"requiredWith=<VAR>"    required when <VAR> is set (non-empty)
//
// Options combine with commas: `contract:"file,requiredWith=REDIS_USERNAME"`.
// Files are marked, not guessed from a _FILE suffix: a name is no
// promise, and a wrongly mounted path only shows on a real cluster.
package contract

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/bulwark-platform/bulwark/services/internal/platform/envconf"
)

// Var is one environment variable a service reads.
type Var struct {
	// Name is the variable, such as "DB_CREDENTIALS_FILE".
	Name string
	// Required: start-up stops when it is unset or empty.
	Required bool
	// Default is the value used when it is unset or empty ("" for none).
	Default string
	// File: the value is the path of a file the service reads, so the
	// platform must mount one there.
	File bool
	// URLOf names the callee (a service of the graph) whose base URL the
	// value is, such as "user" for order's USER_URL.
	URLOf string
	// RequiredWith names another variable: when that one is set, this one
	// is required too (REDIS_PASSWORD_FILE with REDIS_USERNAME).
	RequiredWith string
}

// Contract is everything a service reads from its environment.
type Contract struct {
	// Service is the service's name in the graph.
	Service string
	// Vars in the order the service's struct declares them (the embedded
	// Common first).
	Vars []Var

	newConfig func() any
}

// Var returns the variable called name.
func (c Contract) Var(name string) (Var, bool) {
	i := slices.IndexFunc(c.Vars, func(v Var) bool { return v.Name == name })
	if i < 0 {
		return Var{}, false
	}
	return c.Vars[i], true
}

// Check loads the service's configuration from env (variable → value, as
// a Deployment sets them) with the service's own loader and rules, exactly
// as its start-up would, except that no file is read: it reports what
// would stop the service at start-up, each error naming the variable. A
// variable whose value comes from a Secret or the downward API has no
// literal value: give it any stand-in its rules accept (a non-empty string).
func (c Contract) Check(env map[string]string) error {
	if c.newConfig == nil {
		return fmt.Errorf("service %q: no contract (use For)", c.Service)
	}
	return envconf.LoadFrom(c.newConfig(), env)
}

// registry is every service's configuration type, by the name the service
// has in the graph.
var registry = map[string]func() any{
	"user":    func() any { return new(User) },
	"order":   func() any { return new(Order) },
	"payment": func() any { return new(Payment) },
}

// Services lists the services that have a contract, sorted.
func Services() []string {
	names := make([]string, 0, len(registry))
	for name := range registry {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// For returns the contract of service, derived from its configuration
// struct; false for a service that has none. (The structs' tags are
// checked by this package's tests, so a derivation error can't ship; For
// reports one as false rather than a half contract.)
func For(service string) (Contract, bool) {
	newConfig, ok := registry[service]
	if !ok {
		return Contract{}, false
	}
	c, err := derive(service, newConfig)
	if err != nil {
		return Contract{}, false
	}
	return c, true
}

var (
	envNameRe = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	serviceRe = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
)

// derive reads the contract off the struct newConfig returns a pointer to.
// It refuses what it can't describe faithfully: an env option other than
// required and notEmpty (file would make the library read the file once,
// unwatched; expand, unset and init change what a value means), a
// required variable with a default (the default makes required moot), an
// exported field without an env tag (the loader would silently skip it),
// a variable declared twice, and a contract tag that doesn't parse.
func derive(service string, newConfig func() any) (Contract, error) {
	t := reflect.TypeOf(newConfig())
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return Contract{}, fmt.Errorf("contract %s: the configuration must be a pointer to a struct, got %v", service, t)
	}
	c := Contract{Service: service, newConfig: newConfig}
	if err := walk(t.Elem(), t.Elem().Name(), "", &c.Vars); err != nil {
		return Contract{}, fmt.Errorf("contract %s: %w", service, err)
	}
	for _, v := range c.Vars {
		if _, ok := c.Var(v.RequiredWith); v.RequiredWith != "" && !ok {
			return Contract{}, fmt.Errorf("contract %s: %s: requiredWith=%s: no such variable", service, v.Name, v.RequiredWith)
		}
	}
	return c, nil
}

// walk appends the variables of struct t (reached by path, under the
// variable prefix) to vars.
func walk(t reflect.Type, path, prefix string, vars *[]Var) error {
	for i := range t.NumField() {
		f := t.Field(i)
		at := path + "." + f.Name
		tag, tagged := f.Tag.Lookup("env")
		if !f.IsExported() {
			if tagged {
				return fmt.Errorf("%s: unexported, so the env tag is never read", at)
			}
			continue
		}
		if tag == "-" {
			continue
		}
		if !tagged {
			// An untagged struct is a group of variables (caarlos0/env
			// recurses into it, adding its envPrefix).
			if f.Type.Kind() == reflect.Struct {
				if _, ok := f.Tag.Lookup("contract"); ok {
					return fmt.Errorf("%s: a contract tag on a group of variables, not on one", at)
				}
				if err := walk(f.Type, at, prefix+f.Tag.Get("envPrefix"), vars); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("%s: exported but has no env tag, so the loader would skip it", at)
		}
		v, err := parseVar(f, at, prefix, tag)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(*vars, func(o Var) bool { return o.Name == v.Name }) {
			return fmt.Errorf("%s: %s is declared twice", at, v.Name)
		}
		*vars = append(*vars, v)
	}
	return nil
}

func parseVar(f reflect.StructField, at, prefix, tag string) (Var, error) {
	name, opts, _ := strings.Cut(tag, ",")
	v := Var{Name: prefix + name}
	if !envNameRe.MatchString(v.Name) {
		return Var{}, fmt.Errorf("%s: env name %q is not an upper-case variable name", at, v.Name)
	}
	if f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct {
		return Var{}, fmt.Errorf("%s: a pointer to a struct can't be one variable", at)
	}
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "":
		case "required", "notEmpty":
			// Both stop start-up on an unset variable; notEmpty also on
			// an empty one. To the platform both mean "provide it".
			v.Required = true
		default:
			return Var{}, fmt.Errorf("%s: env option %q is not part of the contract (only required and notEmpty; mark files with contract:\"file\")", at, o)
		}
	}
	def, hasDefault := f.Tag.Lookup("envDefault")
	if hasDefault && v.Required {
		return Var{}, fmt.Errorf("%s: %s is required and has a default; the default makes required moot", at, v.Name)
	}
	v.Default = def
	ctag, ok := f.Tag.Lookup("contract")
	if !ok {
		return v, nil
	}
	if ctag == "" {
		return Var{}, fmt.Errorf("%s: empty contract tag", at)
	}
	for _, o := range strings.Split(ctag, ",") {
		key, val, hasVal := strings.Cut(o, "=")
		switch {
		case key == "file" && !hasVal:
			v.File = true
		case key == "url" && hasVal:
			if !serviceRe.MatchString(val) {
				return Var{}, fmt.Errorf("%s: contract url=%q is not a service name", at, val)
			}
			if _, known := registry[val]; !known {
				return Var{}, fmt.Errorf("%s: contract url=%s: no such service (known: %s)", at, val, strings.Join(Services(), ", "))
			}
			v.URLOf = val
		case key == "requiredWith" && hasVal:
			if !envNameRe.MatchString(val) || val == v.Name {
				return Var{}, fmt.Errorf("%s: contract requiredWith=%q is not another variable", at, val)
			}
			v.RequiredWith = val
		default:
			return Var{}, fmt.Errorf("%s: contract option %q is not file, url=<service> or requiredWith=<VARIABLE>", at, o)
		}
	}
	if (v.File || v.URLOf != "") && f.Type.Kind() != reflect.String {
		return Var{}, fmt.Errorf("%s: a file path or URL must be a string, not %s", at, f.Type)
	}
	if v.File && v.URLOf != "" {
		return Var{}, fmt.Errorf("%s: both a file and a URL", at)
	}
	if v.RequiredWith != "" && v.Required {
		return Var{}, fmt.Errorf("%s: %s is required anyway; requiredWith=%s says nothing", at, v.Name, v.RequiredWith)
	}
	return v, nil
}
