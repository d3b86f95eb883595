package localcluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki writes the cluster's own certificate authority, the API server's
// serving certificate, the service-account signing key pair and the static
// bearer tokens of each component, once per state folder.
func ensurePKI(dir string) (added bool, err error) {
	if _, err := os.Stat(filepath.Join(dir, "tokens.csv")); err == nil {
		return ensureTokens(filepath.Join(dir, "tokens.csv"))
	}
	return false, createPKI(dir)
}

// ensureTokens adds a token for every identity a PKI made by an older
// version lacks, and says whether it added any.
func ensureTokens(path string) (bool, error) {
	tokens, err := readTokens(path)
	if err != nil {
		return false, err
	}
	var extra string
	for _, id := range identities {
		if tokens[id.user] == "" {
			extra += tokenLine(id)
		}
	}
	if extra == "" {
		return false, nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return false, err
	}
	if _, err := f.WriteString(extra); err != nil {
		f.Close()
		return false, err
	}
	return true, f.Close()
}

func tokenLine(id identity) string {
	return fmt.Sprintf("%s,%s,%s,%q\n", randomToken(), id.user, id.user, id.groups)
}

func createPKI(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now().Add(-time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "bulwark-local-ca"},
		NotBefore:             now,
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now,
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	caKeyDER, err := x509.MarshalECPrivateKey(caKey)
	if err != nil {
		return err
	}
	srvKeyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"ca.crt":        pemBlock("CERTIFICATE", caDER),
		"ca.key":        pemBlock("EC PRIVATE KEY", caKeyDER),
		"apiserver.crt": pemBlock("CERTIFICATE", srvDER),
		"apiserver.key": pemBlock("EC PRIVATE KEY", srvKeyDER),
		"sa.key":        pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey)),
		"sa.pub":        pemBlock("PUBLIC KEY", saPub),
	}
	tokens := ""
	for _, id := range identities {
		tokens += tokenLine(id)
	}
	files["tokens.csv"] = []byte(tokens)
	// tokens.csv is written last: its presence marks a complete PKI.
	for _, name := range []string{"ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "sa.key", "sa.pub", "tokens.csv"} {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o600); err != nil {
			return err
		}
	}
	return nil
}

// identity is a static-token user of the local cluster.
type identity struct {
	name, user, groups string
}

// identities: the admin and kwok act as cluster admins; the controller
// manager and scheduler get the built-in users that the API server's
// bootstrap RBAC policy already grants exactly their permissions.
var identities = []identity{
	{"admin", "bulwark-admin", "system:masters"},
	{"controller-manager", "system:kube-controller-manager", ""},
	{"scheduler", "system:kube-scheduler", ""},
	{"kwok", "kwok-controller", "system:masters"},
	// cert-manager's chart would grant its ClusterRoles; out of cluster it
	// acts as an admin of this throwaway cluster.
	{"cert-manager", "bulwark-cert-manager", "system:masters"},
	// The External Secrets controller gets the upstream chart's
	// controller ClusterRole (externalSecretsRules), bound to this user.
	{"external-secrets", externalSecretsUser, ""},
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// randomToken is a 130-bit bearer token (crypto/rand.Text never fails).
func randomToken() string { return rand.Text() }
