package secrets_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-platform/bulwark/services/internal/platform/secrets"
	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc"
)

// A CA bundle holds at least one certificate; anything else is refused
// naming the file, rather than becoming an empty pool that fails every
// handshake later.
func TestReadCA(t *testing.T) {
	a, b := testsvc.NewCA(t), testsvc.NewCA(t)
	rawA, _ := os.ReadFile(a.File)
	rawB, _ := os.ReadFile(b.File)
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle.crt")
	if err := os.WriteFile(bundle, []byte("# two CAs during a rotation\n"+string(rawA)+string(rawB)), 0o600); err != nil {
		t.Fatal(err)
	}
	pool, err := secrets.ReadCA(bundle)
	if err != nil {
		t.Fatal(err)
	}
	for _, ca := range []*testsvc.CA{a, b} {
		one, _ := secrets.ReadCA(ca.File)
		if !one.Equal(ca.Pool) {
			t.Error("a single-certificate file read as something else")
		}
	}
	both := x509.NewCertPool()
	both.AppendCertsFromPEM(append(rawA, rawB...))
	if !pool.Equal(both) {
		t.Error("the bundle's pool is not its two certificates")
	}

	key := filepath.Join(dir, "key.pem")
	_ = os.WriteFile(key, []byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"), 0o600)
	broken := filepath.Join(dir, "broken.crt")
	_ = os.WriteFile(broken, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o600)
	empty := filepath.Join(dir, "empty.crt")
	_ = os.WriteFile(empty, nil, 0o600)
	for name, tc := range map[string]struct{ path, want string }{
		"a missing file":       {filepath.Join(dir, "missing.crt"), "reading " + dir},
		"an empty file":        {empty, empty + ": no PEM certificate"},
		"a key, not a cert":    {key, key + ": no PEM certificate"},
		"a broken certificate": {broken, broken + ": certificate 1: "},
	} {
		if _, err := secrets.ReadCA(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
	}
}
