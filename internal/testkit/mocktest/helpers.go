package mocktest

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Namer is implemented by Mocks and by mocks that embed it.
type Namer interface {
	Named(name string) (Resource, bool)
	All() []Resource
}

// Must returns the resource registered under name or fails the test,
// listing what was registered.
func Must(t testing.TB, m Namer, name string) Resource {
	t.Helper()
	r, ok := m.Named(name)
	if !ok {
		var all []string
		for _, r := range m.All() {
			all = append(all, r.Name)
		}
		t.Fatalf("no resource %s among %v", name, all)
	}
	return r
}

// Strings converts a list input ([]any of strings) to []string.
func Strings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, s := range list {
		str, _ := s.(string)
		out = append(out, str)
	}
	return out
}

// DependsOn reports whether r explicitly depends on the resource named
// name.
func DependsOn(r Resource, name string) bool {
	return slices.ContainsFunc(r.Dependencies, func(u string) bool { return strings.HasSuffix(u, "::"+name) })
}

// Outputs collects the values of outputs a program produced: the mock
// run does not wait for outputs of constants, so a test tracks them
// during the run and waits for them after it.
type Outputs struct {
	mu   sync.Mutex
	wg   sync.WaitGroup
	vals map[string]any
}

// Track records o's value under name once it resolves.
func (c *Outputs) Track(name string, o pulumi.Output) {
	c.mu.Lock()
	if c.vals == nil {
		c.vals = map[string]any{}
	}
	c.mu.Unlock()
	c.wg.Add(1)
	pulumi.All(o).ApplyT(func(v []any) any {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.vals[name] = v[0]
		c.wg.Done()
		return nil
	})
}

// Wait waits for every tracked output, failing the test after 10 s.
func (c *Outputs) Wait(t testing.TB) {
	t.Helper()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("outputs never resolved")
	}
}

// Get is the value tracked under name (after Wait).
func (c *Outputs) Get(name string) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vals[name]
}
