package localcluster

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPKIServesLoopbackAndInClusterNames(t *testing.T) {
	dir := t.TempDir()
	if _, err := ensurePKI(dir); err != nil {
		t.Fatal(err)
	}
	ca := readCert(t, filepath.Join(dir, "ca.crt"))
	srv := readCert(t, filepath.Join(dir, "apiserver.crt"))
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, name := range []string{"127.0.0.1", "localhost", "kubernetes.default.svc"} {
		if _, err := srv.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("serving certificate does not verify for %s: %v", name, err)
		}
	}
	if !srv.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) {
		t.Errorf("first IP SAN %v", srv.IPAddresses[0])
	}
	for _, f := range []string{"ca.key", "apiserver.key", "sa.key", "tokens.csv"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v, want 0600", f, st.Mode().Perm())
		}
	}
}

func TestTokensAreUniquePerIdentityAndKeptAcrossStarts(t *testing.T) {
	dir := t.TempDir()
	if _, err := ensurePKI(dir); err != nil {
		t.Fatal(err)
	}
	tokens, err := readTokens(filepath.Join(dir, "tokens.csv"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, id := range identities {
		tok := tokens[id.user]
		if len(tok) < 20 || seen[tok] {
			t.Errorf("%s: weak or reused token %q", id.user, tok)
		}
		seen[tok] = true
	}
	before, _ := os.ReadFile(filepath.Join(dir, "tokens.csv"))
	if _, err := ensurePKI(dir); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "tokens.csv"))
	if string(before) != string(after) {
		t.Error("a second start replaced the cluster's credentials")
	}
	if !strings.Contains(string(after), `"system:masters"`) {
		t.Error("no admin group in tokens.csv")
	}
}

func TestKubeconfigRefusesAnEmptyToken(t *testing.T) {
	if err := writeKubeconfig(filepath.Join(t.TempDir(), "kc"), "https://127.0.0.1:1", "ca.crt", "nobody", ""); err == nil {
		t.Fatal("wrote a kubeconfig without a token")
	}
}

func TestUpNamesAMissingTool(t *testing.T) {
	_, err := Up(t.Context(), Options{StateDir: t.TempDir(), BinDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "etcd not found") || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("got %v", err)
	}
}

// A PKI made before an identity existed gets that identity's token added
// (and the caller learns it must restart the API server); the rest stay.
func TestEnsurePKIAddsTokensOfNewIdentities(t *testing.T) {
	dir := t.TempDir()
	if _, err := ensurePKI(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tokens.csv")
	before, err := readTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if !strings.Contains(line, ",bulwark-cert-manager,") {
			kept = append(kept, line)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(kept, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	added, err := ensurePKI(dir)
	if err != nil || !added {
		t.Fatalf("added %v, err %v", added, err)
	}
	after, err := readTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	if after["bulwark-cert-manager"] == "" || after["bulwark-admin"] != before["bulwark-admin"] {
		t.Errorf("tokens after: %v", after)
	}
	if added, err := ensurePKI(dir); err != nil || added {
		t.Errorf("a complete PKI changed again: %v %v", added, err)
	}
}
