package fielderr

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindsAreMatchableThroughJoinsAndWraps(t *testing.T) {
	var l List
	l.Add(ErrRequired, "a.b", "must be set")
	l.Add(ErrOutOfRange, "a.c", "must be at least %d, got %d", 1, 0)
	err := fmt.Errorf("loading: %w", l.Err())
	for _, kind := range []error{ErrRequired, ErrOutOfRange} {
		if !errors.Is(err, kind) {
			t.Errorf("errors.Is(err, %v) = false", kind)
		}
	}
	if errors.Is(err, ErrDuplicate) {
		t.Error("an error that holds no duplicate matched ErrDuplicate")
	}
	var fe *Error
	if !errors.As(err, &fe) || fe.Path != "a.b" {
		t.Errorf("errors.As found %v, want the first problem", fe)
	}
	if got := All(err); len(got) != 2 || got[1].Path != "a.c" {
		t.Errorf("All = %v", got)
	}
	if want := "a.b: must be set\na.c: must be at least 1, got 0"; l.Err().Error() != want {
		t.Errorf("message %q, want %q", l.Err(), want)
	}
}

func TestEmptyListIsNoError(t *testing.T) {
	var l List
	if l.Err() != nil {
		t.Fatal("an empty list is an error")
	}
}

func TestUnderPrefixesEveryPathAndKeepsTheKind(t *testing.T) {
	var l List
	l.Add(ErrInvalid, "replicas", "bad")
	l.Add(ErrRequired, "provider", "missing")
	err := Under("workload order", l.Err())
	got := All(err)
	if len(got) != 2 || got[0].Path != "workload order: replicas" || got[1].Path != "workload order: provider" {
		t.Fatalf("paths %v", got)
	}
	if !errors.Is(err, ErrRequired) || !errors.Is(err, ErrInvalid) {
		t.Error("kinds lost under a prefix")
	}
	plain := Under("x", errors.New("boom"))
	if plain.Error() != "x: boom" {
		t.Errorf("plain error under a prefix: %q", plain)
	}
}
