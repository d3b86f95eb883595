// Package fielderr is the one validation error type of the platform:
// stack configuration, the service graph and every component's Args report
// each problem as an *Error that names the field's full path
// ("bulwark:graph.services[1].port", "workload order: replicas") and wraps a
// sentinel saying what kind of problem it is, so callers print the path and
// tests match the kind with errors.Is instead of comparing message text.
package fielderr

import (
	"errors"
	"fmt"
	"strings"
)

// The kinds of problem. Every *Error wraps exactly one of them.
var (
	// ErrRequired: the field is empty or missing.
	ErrRequired = errors.New("required")
	// ErrInvalid: the value is malformed (not a quantity, not a DNS label...).
	ErrInvalid = errors.New("invalid value")
	// ErrOutOfRange: a number or duration outside its bounds.
	ErrOutOfRange = errors.New("out of range")
	// ErrUnsupported: not one of the allowed values.
	ErrUnsupported = errors.New("unsupported value")
	// ErrUnknown: a key or a name that does not exist.
	ErrUnknown = errors.New("unknown")
	// ErrDuplicate: defined twice where it must be unique.
	ErrDuplicate = errors.New("duplicate")
	// ErrForbidden: well-formed, but refused by the platform's policy (a
	// wildcard principal, dev Vault in prod, an undeclared CIDR).
	ErrForbidden = errors.New("forbidden")
	// ErrConflict: the value contradicts another field.
	ErrConflict = errors.New("conflict")
)

// Error is one problem at one field path.
type Error struct {
	// Path is the field's full path.
	Path string
	// Kind is one of the sentinel errors above.
	Kind error
	// Msg says what is wrong, for a person.
	Msg string
}

func (e *Error) Error() string { return e.Path + ": " + e.Msg }

// Unwrap makes errors.Is(err, fielderr.ErrRequired) work.
func (e *Error) Unwrap() error { return e.Kind }

// List collects every problem found, in the order found.
type List []*Error

// Add records a problem of kind at path.
func (l *List) Add(kind error, path, format string, args ...any) {
	*l = append(*l, &Error{Path: path, Kind: kind, Msg: fmt.Sprintf(format, args...)})
}

// Err returns the problems as one error (nil for none). Each stays
// reachable with errors.Is and errors.As.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return joined(l)
}

type joined List

func (j joined) Error() string {
	msgs := make([]string, len(j))
	for i, e := range j {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

func (j joined) Unwrap() []error {
	out := make([]error, len(j))
	for i, e := range j {
		out[i] = e
	}
	return out
}

// All returns every *Error inside err (joined or wrapped), in order.
func All(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *Error:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

// Under returns err's problems with prefix put before each path, so a
// component's "replicas" becomes "workload order: replicas" where it is
// reported. Errors that are not field errors are kept as they are.
func Under(prefix string, err error) error {
	if err == nil {
		return nil
	}
	fes := All(err)
	if len(fes) == 0 {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	out := make(List, len(fes))
	for i, e := range fes {
		out[i] = &Error{Path: prefix + ": " + e.Path, Kind: e.Kind, Msg: e.Msg}
	}
	return out.Err()
}
