package testsvc

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Issuer is an OIDC issuer for unit tests and benchmarks: discovery and
// JWKS over real HTTP (httptest) with a key of each allowed algorithm.
// The integration tier uses a real provider (Ory Hydra) instead.
type Issuer struct {
	URL      string
	RSA      *rsa.PrivateKey
	EC       *ecdsa.PrivateKey
	Ed       ed25519.PrivateKey
	JWKSHits atomic.Int32

	mu    sync.Mutex
	extra []jose.JSONWebKey
	held  chan struct{}
	// caFile is the TLS issuer's CA (PEM).
	caFile string
}

// NewIssuer starts an issuer that stops with the test.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	return newIssuer(t, false)
}

// NewTLSIssuer is NewIssuer served over HTTPS with a certificate of its
// own CA (a provider with a private CA's certificate), and the path of a
// PEM file holding that CA.
func NewTLSIssuer(t testing.TB) (*Issuer, string) {
	t.Helper()
	is := newIssuer(t, true)
	return is, is.caFile
}

func newIssuer(t testing.TB, withTLS bool) *Issuer {
	t.Helper()
	is := &Issuer{}
	var err error
	if is.RSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if is.EC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, is.Ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": is.URL, "jwks_uri": is.URL + "/jwks",
			"authorization_endpoint": is.URL + "/auth", "token_endpoint": is.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "EdDSA"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		is.JWKSHits.Add(1)
		is.mu.Lock()
		held := is.held
		is.mu.Unlock()
		if held != nil {
			<-held
		}
		keys := []jose.JSONWebKey{
			{Key: is.RSA.Public(), KeyID: "rsa-1", Algorithm: "RS256", Use: "sig"},
			{Key: is.EC.Public(), KeyID: "ec-1", Algorithm: "ES256", Use: "sig"},
			{Key: is.Ed.Public(), KeyID: "ed-1", Algorithm: "EdDSA", Use: "sig"},
		}
		is.mu.Lock()
		keys = append(keys, is.extra...)
		is.mu.Unlock()
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: keys})
	})
	srv := httptest.NewUnstartedServer(mux)
	if withTLS {
		srv.StartTLS()
		is.caFile = filepath.Join(t.TempDir(), "issuer-ca.pem")
		block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
		if err := os.WriteFile(is.caFile, block, 0o600); err != nil {
			t.Fatal(err)
		}
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	is.URL = srv.URL
	return is
}

// HoldJWKS makes JWKS requests wait (a slow provider) until release is
// called; they then answer the keys published by then. Release is
// idempotent and also runs when the test ends.
func (is *Issuer) HoldJWKS(t testing.TB) (release func()) {
	held := make(chan struct{})
	is.mu.Lock()
	is.held = held
	is.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			is.mu.Lock()
			is.held = nil
			is.mu.Unlock()
			close(held)
		})
	}
	t.Cleanup(release)
	return release
}

// Publish adds a key to the JWKS (a rotation).
func (is *Issuer) Publish(k jose.JSONWebKey) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.extra = append(is.extra, k)
}

// Claims are valid claims for audience at now, changed by mut.
func (is *Issuer) Claims(audience string, now time.Time, mut func(map[string]any)) map[string]any {
	return Claims(is.URL, audience, now, mut)
}

// Claims are valid access-token claims of issuer for audience at now
// (subject alice, scopes orders:read users:read, realm role customer),
// changed by mut.
func Claims(issuer, audience string, now time.Time, mut func(map[string]any)) map[string]any {
	c := map[string]any{
		"iss": issuer, "aud": []string{audience}, "sub": "alice", "client_id": "web",
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "nbf": now.Unix(),
		"scope": "orders:read users:read", "realm_access": map[string]any{"roles": []string{"customer"}},
	}
	if mut != nil {
		mut(c)
	}
	return c
}

// Sign signs claims as a compact JWS with extra protected headers.
func Sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, extra map[jose.HeaderKey]any, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	for k, v := range extra {
		opts = opts.WithHeader(k, v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
