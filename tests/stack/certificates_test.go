package stack

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"testing"
	"time"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/bulwark-platform/bulwark/components/pki"
	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// certificate is a Certificate as cert-manager left it, status included.
func (s *stack) certificate(t *testing.T, namespace, name string) *cmv1.Certificate {
	t.Helper()
	u, err := s.dyn.Resource(kinds.Certificate.GVR()).Namespace(namespace).Get(s.ctx, name, metav1.GetOptions{})
	require.NoError(t, err, "Certificate %s/%s", namespace, name)
	var c cmv1.Certificate
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &c))
	return &c
}

func ready(c *cmv1.Certificate) bool {
	for _, cond := range c.Status.Conditions {
		if cond.Type == cmv1.CertificateConditionReady && cond.Status == cmmeta.ConditionTrue && cond.ObservedGeneration == c.Generation {
			return true
		}
	}
	return false
}

// waitReady waits until cert-manager reports the Certificate Ready and
// returns it.
func (s *stack) waitReady(t *testing.T, namespace, name string) *cmv1.Certificate {
	t.Helper()
	var c *cmv1.Certificate
	_, err := retry.DoWithRetryE(t, fmt.Sprintf("Certificate %s/%s Ready", namespace, name), 120, time.Second, func() (string, error) {
		c = s.certificate(t, namespace, name)
		if ready(c) {
			return "ready", nil
		}
		return "", fmt.Errorf("not ready: %+v", c.Status.Conditions)
	})
	require.NoError(t, err)
	return c
}

// issued reads the certificates cert-manager wrote into the Secret.
func (s *stack) issued(t *testing.T, namespace, secret string) (chain []*x509.Certificate, ca *x509.Certificate, key any) {
	t.Helper()
	sec, err := s.cs.CoreV1().Secrets(namespace).Get(s.ctx, secret, metav1.GetOptions{})
	require.NoError(t, err, "Secret %s/%s", namespace, secret)
	rest := sec.Data["tls.crt"]
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		require.NoError(t, err)
		chain = append(chain, c)
	}
	require.NotEmpty(t, chain, "%s/%s holds no certificate", namespace, secret)
	if b, _ := pem.Decode(sec.Data["ca.crt"]); b != nil {
		ca, err = x509.ParseCertificate(b.Bytes)
		require.NoError(t, err)
	}
	kb, _ := pem.Decode(sec.Data["tls.key"])
	require.NotNil(t, kb, "%s/%s holds no key", namespace, secret)
	key, err = x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		key, err = x509.ParseECPrivateKey(kb.Bytes)
	}
	require.NoError(t, err)
	return chain, ca, key
}

// foreignRoot is a CA that signed nothing of the stack's.
func foreignRoot(t *testing.T) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "foreign"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return pool
}

func p256(t *testing.T, what string, pub any) {
	t.Helper()
	k, ok := pub.(*ecdsa.PublicKey)
	require.True(t, ok, "%s: key %T is not ECDSA", what, pub)
	assert.Equal(t, elliptic.P256(), k.Curve, "%s: curve", what)
}

// The root CA and every leaf certificate of the stack are really issued
// by cert-manager, as configured: ECDSA P-256, the configured lifetimes,
// renewal at a third of the lifetime, and a leaf chain that verifies with
// crypto/x509 up to the root CA.
func (s *stack) caChainIsIssued(t *testing.T) {
	rootLife, err := time.ParseDuration(s.out.Certificates.RootCADuration)
	require.NoError(t, err)
	leafLife, err := time.ParseDuration(s.out.Certificates.LeafDuration)
	require.NoError(t, err)
	require.Equal(t, s.cfg.Certificates.RootCADuration, rootLife, "stack output and configuration disagree")

	rootCert := s.waitReady(t, pki.DefaultNamespace, naming.RootCASecret)
	rootChain, _, rootKey := s.issued(t, pki.DefaultNamespace, naming.RootCASecret)
	root := rootChain[0]
	assert.True(t, root.IsCA, "the root is not a CA")
	require.NoError(t, root.CheckSignatureFrom(root), "the root is not self-signed")
	p256(t, "root", root.PublicKey)
	_, isEC := rootKey.(*ecdsa.PrivateKey)
	assert.True(t, isEC, "root key %T", rootKey)
	assert.Equal(t, rootLife, root.NotAfter.Sub(root.NotBefore), "root lifetime")
	require.NotNil(t, rootCert.Status.RenewalTime)
	assert.WithinDuration(t, root.NotAfter.Add(-rootLife/3), rootCert.Status.RenewalTime.Time, 2*time.Second, "root renews at a third of its life")

	roots := x509.NewCertPool()
	roots.AddCert(root)
	host := s.cfg.Edge.Hosts[0]
	leafCert := s.waitReady(t, s.cfg.Graph.Gateway.Namespace, naming.GatewayCertificate)
	chain, ca, _ := s.issued(t, s.cfg.Graph.Gateway.Namespace, naming.GatewayCertificateSecret)
	leaf := chain[0]
	p256(t, "gateway", leaf.PublicKey)
	require.NotNil(t, ca, "the gateway secret carries no ca.crt")
	assert.True(t, ca.Equal(root), "ca.crt is not the stack's root CA")
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	require.NoError(t, err, "the gateway certificate does not verify up to the root CA")
	assert.Equal(t, s.cfg.Edge.Hosts, leaf.DNSNames)
	assert.Equal(t, leafLife, leaf.NotAfter.Sub(leaf.NotBefore), "leaf lifetime")
	require.NotNil(t, leafCert.Status.RenewalTime)
	assert.WithinDuration(t, leaf.NotAfter.Add(-leafLife/3), leafCert.Status.RenewalTime.Time, 2*time.Second, "leaf renews at a third of its life")
	// Another CA must not verify it: the check above can fail.
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: foreignRoot(t), Intermediates: inter})
	assert.Error(t, err, "the gateway certificate verifies up to a CA that never signed it")
}

// A short-lived certificate of the private CA is issued, then renewal is
// forced the way `cmctl renew` does it (the Issuing condition); cert-manager
// issues a new certificate with a new serial and a new key, still
// verifying up to the root.
func (s *stack) certificateRenews(t *testing.T) {
	const ns, name = pki.DefaultNamespace, "bulwark-renewal-probe"
	life := time.Hour // cert-manager's minimum
	crt := &cmv1.Certificate{
		TypeMeta:   metav1.TypeMeta{APIVersion: kinds.Certificate.APIVersion(), Kind: kinds.Certificate.Kind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: cmv1.CertificateSpec{
			CommonName: "probe.bulwark.localhost", DNSNames: []string{"probe.bulwark.localhost"}, SecretName: name,
			Duration: &metav1.Duration{Duration: life}, RenewBefore: &metav1.Duration{Duration: life / 3},
			PrivateKey: &cmv1.CertificatePrivateKey{Algorithm: cmv1.ECDSAKeyAlgorithm, Size: 256, RotationPolicy: cmv1.RotationPolicyAlways},
			IssuerRef:  cmmeta.IssuerReference{Name: naming.CAIssuer, Kind: "ClusterIssuer", Group: "cert-manager.io"},
		},
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crt)
	require.NoError(t, err)
	certs := s.dyn.Resource(kinds.Certificate.GVR()).Namespace(ns)
	t.Cleanup(func() {
		_ = certs.Delete(s.ctx, name, metav1.DeleteOptions{})
		_ = s.cs.CoreV1().Secrets(ns).Delete(s.ctx, name, metav1.DeleteOptions{})
	})
	_, err = certs.Create(s.ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
	require.NoError(t, err)
	s.waitReady(t, ns, name)
	first, _, firstKey := s.issued(t, ns, name)

	// Force the renewal: what `cmctl renew` does.
	c := s.certificate(t, ns, name)
	c.Status.Conditions = append(c.Status.Conditions, cmv1.CertificateCondition{
		Type: cmv1.CertificateConditionIssuing, Status: cmmeta.ConditionTrue, Reason: "ManuallyTriggered",
		Message: "renewal forced by the stack check", LastTransitionTime: &metav1.Time{Time: time.Now()}, ObservedGeneration: c.Generation,
	})
	obj, err = runtime.DefaultUnstructuredConverter.ToUnstructured(c)
	require.NoError(t, err)
	_, err = certs.UpdateStatus(s.ctx, &unstructured.Unstructured{Object: obj}, metav1.UpdateOptions{})
	require.NoError(t, err)

	var renewed []*x509.Certificate
	var renewedKey any
	_, err = retry.DoWithRetryE(t, "a new serial in "+name, 120, time.Second, func() (string, error) {
		chain, _, key := s.issued(t, ns, name)
		if chain[0].SerialNumber.Cmp(first[0].SerialNumber) == 0 || !ready(s.certificate(t, ns, name)) {
			return "", fmt.Errorf("still serial %s", first[0].SerialNumber)
		}
		renewed, renewedKey = chain, key
		return "renewed", nil
	})
	require.NoError(t, err)
	assert.NotEqual(t, firstKey.(*ecdsa.PrivateKey).D, renewedKey.(*ecdsa.PrivateKey).D, "rotationPolicy Always: a renewal must bring a new key")
	roots := x509.NewCertPool()
	rootChain, _, _ := s.issued(t, pki.DefaultNamespace, naming.RootCASecret)
	roots.AddCert(rootChain[0])
	_, err = renewed[0].Verify(x509.VerifyOptions{DNSName: "probe.bulwark.localhost", Roots: roots})
	assert.NoError(t, err)
	assert.Equal(t, life, renewed[0].NotAfter.Sub(renewed[0].NotBefore))
	require.NoError(t, certs.Delete(s.ctx, name, metav1.DeleteOptions{}))
	if _, err := certs.Get(s.ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("probe certificate not deleted: %v", err)
	}
}
