package secrets

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseDB(t *testing.T) {
	good := `{"username":"order","password":"s3cret","database":"orders","host":"pg.data.svc","port":5432}`
	if c, err := ParseDB([]byte(good)); err != nil || c.Username != "order" || c.Port != 5432 {
		t.Fatalf("%+v %v", c, err)
	}
	tests := map[string]string{
		"not JSON":         `username=order`,
		"missing password": `{"username":"order","database":"orders","host":"h","port":5432}`,
		"bad port":         `{"username":"order","password":"p","database":"orders","host":"h","port":0}`,
		"an unknown field": `{"username":"order","password":"p","database":"orders","host":"h","port":5432,"sslmode":"disable"}`,
		"port as a string": `{"username":"order","password":"p","database":"orders","host":"h","port":"5432"}`,
	}
	for name, raw := range tests {
		_, err := ParseDB([]byte(raw))
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), `"p"`) {
			t.Errorf("%s: error leaks the secret: %v", name, err)
		}
	}
	if _, err := ParseDB([]byte(tests["missing password"])); err == nil || !strings.Contains(err.Error(), "missing password") {
		t.Errorf("error does not name the field: %v", err)
	}
}

// Kubernetes updates a secret volume by writing a new ..<timestamp> folder
// and swapping the ..data symlink; the file the service opens is a symlink
// through it.
func TestWatchFollowsAnAtomicSymlinkSwapAndKeepsTheLastGoodValue(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "client-secret"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	write("..v1", "first\n")
	if err := os.Symlink("..data/client-secret", filepath.Join(dir, "client-secret")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes, errs := make(chan string, 4), make(chan error, 4)
	v, err := Watch(ctx, filepath.Join(dir, "client-secret"), ParseText, func(s string) { changes <- s }, func(e error) { errs <- e })
	if err != nil || v != "first" {
		t.Fatalf("initial %q %v", v, err)
	}
	write("..v2", "second")
	select {
	case got := <-changes:
		if got != "second" {
			t.Errorf("changed to %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the swap was not noticed")
	}
	write("..v3", "   ")
	select {
	case got := <-changes:
		t.Errorf("an empty secret was applied: %q", got)
	case <-errs:
	case <-time.After(5 * time.Second):
		t.Fatal("the bad value was neither applied nor reported")
	}
}

func TestWatchRefusesABadInitialValue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.json")
	if err := os.WriteFile(path, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Watch(context.Background(), path, ParseDB, func(DBCredentials) {}, func(error) {}); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v", err)
	}
}
