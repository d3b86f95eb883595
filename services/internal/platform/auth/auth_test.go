package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc"
)

type provider struct{ *testsvc.Issuer }

func newProvider(t testing.TB) *provider { return &provider{testsvc.NewIssuer(t)} }

func (p *provider) claims(mut func(map[string]any)) map[string]any {
	return p.Claims("order", time.Now(), mut)
}

func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, extra map[jose.HeaderKey]any, claims map[string]any) string {
	return testsvc.Sign(t, alg, key, kid, extra, claims)
}

func (p *provider) token(t *testing.T, mut func(map[string]any)) string {
	return sign(t, jose.RS256, p.RSA, "rsa-1", nil, p.claims(mut))
}

type setup struct {
	p       *provider
	v       *Verifier
	handler http.Handler
	logs    *bytes.Buffer
	now     *time.Time
}

func newSetup(t *testing.T, req Requirement) *setup {
	t.Helper()
	p := newProvider(t)
	now := time.Now()
	s := newSetupAt(t, p.URL, req, func() time.Time { return now })
	s.p, s.now = p, &now
	return s
}

// newSetupAt puts a verifier for issuer, audience "order", in front of a
// handler that greets the token's subject.
func newSetupAt(t *testing.T, issuer string, req Requirement, now func() time.Time) *setup {
	t.Helper()
	v, err := NewVerifier(context.Background(), Config{Issuer: issuer, Audience: "order", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	h := v.Require(req, slog.New(slog.NewJSONHandler(logs, nil)), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := FromContext(r.Context())
		w.Write([]byte("hello " + c.Subject))
	}))
	return &setup{v: v, handler: h, logs: logs}
}

func (s *setup) do(headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/api/v1/orders/1", nil)
	for _, h := range headers {
		req.Header.Add("Authorization", h)
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return rec
}

func TestValidTokensOfEveryAllowedAlgorithm(t *testing.T) {
	s := newSetup(t, Requirement{Scopes: []string{"orders:read"}})
	for name, tok := range map[string]string{
		"RS256": s.p.token(t, nil),
		"ES256": sign(t, jose.ES256, s.p.EC, "ec-1", nil, s.p.claims(nil)),
		"EdDSA": sign(t, jose.EdDSA, s.p.Ed, "ed-1", nil, s.p.claims(nil)),
	} {
		if rec := s.do("Bearer " + tok); rec.Code != http.StatusOK || rec.Body.String() != "hello alice" {
			t.Errorf("%s: %d %q", name, rec.Code, rec.Body.String())
		}
	}
}

func b64(v any) string {
	raw, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// forger signs tokens with a key its issuer publishes in its JWKS, so it
// can make every token the issuer could sign, good or bad.
type forger struct {
	issuer string
	key    *rsa.PrivateKey
	kid    string
}

func (f forger) claims(mut func(map[string]any)) map[string]any {
	return testsvc.Claims(f.issuer, "order", time.Now(), mut)
}

func (f forger) token(t *testing.T, mut func(map[string]any)) string {
	return sign(t, jose.RS256, f.key, f.kid, nil, f.claims(mut))
}

// attackSuite runs the token attacks against s, whose verifier trusts f's
// issuer and requires orders:read: each is answered 401, says nothing
// useful, and is logged with its reason.
func attackSuite(t *testing.T, s *setup, f forger) {
	attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the verifier contacted an attacker-named URL: %s", r.URL)
	}))
	defer evil.Close()
	pubDER, _ := x509.MarshalPKIXPublicKey(f.key.Public())
	valid := f.token(t, nil)
	if rec := s.do("Bearer " + valid); rec.Code != http.StatusOK {
		t.Fatalf("the suite's valid token is refused (%d): every attack below would pass for the wrong reason", rec.Code)
	}
	parts := strings.Split(valid, ".")

	attacks := map[string][]string{
		"alg none":                             {"Bearer " + b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + parts[1] + "."},
		"HS256 signed with the RSA public key": {"Bearer " + sign(t, jose.HS256, pubDER, f.kid, nil, f.claims(nil))},
		"unknown kid":                          {"Bearer " + sign(t, jose.RS256, attacker, "rsa-unknown", nil, f.claims(nil))},
		"kid with path traversal":              {"Bearer " + sign(t, jose.RS256, attacker, "../../../../etc/passwd", nil, f.claims(nil))},
		"jku pointing elsewhere":               {"Bearer " + sign(t, jose.RS256, attacker, "rsa-9", map[jose.HeaderKey]any{"jku": evil.URL + "/jwks"}, f.claims(nil))},
		"x5u pointing elsewhere":               {"Bearer " + sign(t, jose.RS256, attacker, "rsa-9", map[jose.HeaderKey]any{"x5u": evil.URL + "/cert"}, f.claims(nil))},
		"signed by another key under our kid":  {"Bearer " + sign(t, jose.RS256, attacker, f.kid, nil, f.claims(nil))},
		"expired":                              {"Bearer " + f.token(t, func(c map[string]any) { c["exp"] = time.Now().Add(-2 * time.Minute).Unix() })},
		"nbf in the future":                    {"Bearer " + f.token(t, func(c map[string]any) { c["nbf"] = time.Now().Add(2 * time.Minute).Unix() })},
		"iat far in the future":                {"Bearer " + f.token(t, func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() })},
		"wrong iss":                            {"Bearer " + f.token(t, func(c map[string]any) { c["iss"] = "https://evil.example.com" })},
		"wrong aud":                            {"Bearer " + f.token(t, func(c map[string]any) { c["aud"] = []string{"payment"} })},
		"missing exp":                          {"Bearer " + f.token(t, func(c map[string]any) { delete(c, "exp") })},
		"a lifetime of ten years":              {"Bearer " + f.token(t, func(c map[string]any) { c["exp"] = time.Now().AddDate(10, 0, 0).Unix() })},
		"missing iat":                          {"Bearer " + f.token(t, func(c map[string]any) { delete(c, "iat") })},
		"signature stripped":                   {"Bearer " + parts[0] + "." + parts[1] + "."},
		"a 100 KiB token":                      {"Bearer " + f.token(t, func(c map[string]any) { c["pad"] = strings.Repeat("A", 100<<10) })},
		"two Authorization headers":            {"Bearer " + valid, "Bearer " + valid},
		"no token":                             nil,
		"basic auth":                           {"Basic YWxpY2U6c2VjcmV0"},
		"garbage":                              {"Bearer not.a.jwt"},
	}
	for name, headers := range attacks {
		t.Run(name, func(t *testing.T) {
			s.logs.Reset()
			rec := s.do(headers...)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", rec.Code)
			}
			if got := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="bulwark"`) {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if body := rec.Body.String(); body != "Unauthorized\n" {
				t.Errorf("body leaks detail: %q", body)
			}
			if !strings.Contains(s.logs.String(), `"msg":"request refused"`) {
				t.Errorf("refusal not logged: %s", s.logs.String())
			}
		})
	}
	if rec := s.do("bearer " + valid); rec.Code != http.StatusOK {
		t.Errorf("lower-case scheme (RFC 7235: case-insensitive): %d", rec.Code)
	}
	if rec := s.do("Bearer " + f.token(t, func(c map[string]any) { c["nbf"] = time.Now().Add(30 * time.Second).Unix() })); rec.Code != http.StatusOK {
		t.Errorf("nbf 30 s ahead is within the leeway, got %d", rec.Code)
	}
	if rec := s.do("Bearer " + f.token(t, func(c map[string]any) { c["exp"] = time.Now().Add(23 * time.Hour).Unix() })); rec.Code != http.StatusOK {
		t.Errorf("a lifetime of 23 h is within the default maximum of 24 h, got %d", rec.Code)
	}
	if rec := s.do("Bearer " + f.token(t, func(c map[string]any) { c["scope"] = "users:read" })); rec.Code != http.StatusForbidden {
		t.Errorf("a valid token lacking orders:read: %d, want 403", rec.Code)
	}
}

func TestTokenAttacksAreRefused(t *testing.T) {
	s := newSetup(t, Requirement{Scopes: []string{"orders:read"}})
	attackSuite(t, s, forger{issuer: s.p.URL, key: s.p.RSA, kid: "rsa-1"})
}

// The same suite through a real OpenID provider's discovery and JWKS: Ory
// Hydra publishes the key the forger signs with, and one of Hydra's own
// access tokens is accepted beside the forgeries refused.
func TestTokenAttacksAreRefusedWithHydra(t *testing.T) {
	testsvc.Integration(t)
	h := testsvc.StartHydra(t)
	f := forger{issuer: h.Issuer, key: h.SigningKey("attack-suite-1"), kid: "attack-suite-1"}
	s := newSetupAt(t, h.Issuer, Requirement{Scopes: []string{"orders:read"}}, nil)
	secret := h.Client("web", []string{"orders:read", "users:read"}, []string{"order", "user"})
	if rec := s.do("Bearer " + h.Token(context.Background(), "web", secret, []string{"orders:read"}, "order")); rec.Code != http.StatusOK {
		t.Fatalf("hydra's own token: %d", rec.Code)
	}
	if rec := s.do("Bearer " + h.Token(context.Background(), "web", secret, []string{"users:read"}, "order")); rec.Code != http.StatusForbidden {
		t.Errorf("hydra's token without orders:read: %d, want 403", rec.Code)
	}
	if rec := s.do("Bearer " + h.Token(context.Background(), "web", secret, []string{"orders:read"}, "user")); rec.Code != http.StatusUnauthorized {
		t.Errorf("hydra's token for another audience: %d, want 401", rec.Code)
	}
	attackSuite(t, s, f)
}

func TestMissingScopeOrRoleIs403(t *testing.T) {
	s := newSetup(t, Requirement{Scopes: []string{"users:write"}})
	rec := s.do("Bearer " + s.p.token(t, nil))
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="insufficient_scope", scope="users:write"`) {
		t.Errorf("%d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	admin := newSetup(t, Requirement{Roles: []string{"admin"}})
	if rec := admin.do("Bearer " + admin.p.token(t, nil)); rec.Code != http.StatusForbidden {
		t.Errorf("non-admin got %d", rec.Code)
	}
	tok := admin.p.token(t, func(c map[string]any) { c["realm_access"] = map[string]any{"roles": []string{"admin"}} })
	if rec := admin.do("Bearer " + tok); rec.Code != http.StatusOK {
		t.Errorf("admin got %d", rec.Code)
	}
	scp := newSetup(t, Requirement{Scopes: []string{"payments:write"}})
	tok = scp.p.token(t, func(c map[string]any) { delete(c, "scope"); c["scp"] = []string{"payments:write"} })
	if rec := scp.do("Bearer " + tok); rec.Code != http.StatusOK {
		t.Errorf("scp array claim not honoured: %d", rec.Code)
	}
}

// Unknown kids refresh the JWKS (key rotation), at most once a minute.
func TestUnknownKidRefreshIsRateLimited(t *testing.T) {
	s := newSetup(t, Requirement{})
	base := s.p.JWKSHits.Load()
	attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
	for i := range 20 {
		s.do("Bearer " + sign(t, jose.RS256, attacker, "forged-"+string(rune('a'+i)), nil, s.p.claims(nil)))
	}
	if got := s.p.JWKSHits.Load() - base; got != 0 {
		t.Errorf("%d JWKS fetches within the first minute after start-up, want 0", got)
	}
	// A key rotated in is picked up once a minute has passed.
	rotated, _ := rsa.GenerateKey(rand.Reader, 2048)
	s.p.Publish(jose.JSONWebKey{Key: rotated.Public(), KeyID: "rsa-2", Algorithm: "RS256", Use: "sig"})
	*s.now = s.now.Add(61 * time.Second)
	tok := sign(t, jose.RS256, rotated, "rsa-2", nil, s.p.claims(func(c map[string]any) {
		c["exp"] = s.now.Add(5 * time.Minute).Unix()
		c["iat"], c["nbf"] = s.now.Unix(), s.now.Unix()
	}))
	if rec := s.do("Bearer " + tok); rec.Code != http.StatusOK {
		t.Errorf("rotated key refused: %d", rec.Code)
	}
	for range 20 {
		s.do("Bearer " + sign(t, jose.RS256, attacker, "forged-again", nil, s.p.claims(nil)))
	}
	if got := s.p.JWKSHits.Load() - base; got != 1 {
		t.Errorf("%d JWKS fetches, want exactly 1", got)
	}
}

// A configured maximum lifetime (exp - iat) is enforced to the second;
// the default is 24 h, and a negative one is a configuration error.
func TestMaxTokenLifetime(t *testing.T) {
	p := newProvider(t)
	now := time.Now()
	v, err := NewVerifier(context.Background(), Config{Issuer: p.URL, Audience: "order", MaxTokenLifetime: 10 * time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		lifetime time.Duration
		ok       bool
	}{{"5 minutes", 5 * time.Minute, true}, {"exactly the maximum", 10 * time.Minute, true}, {"a second over", 10*time.Minute + time.Second, false}, {"an hour", time.Hour, false}} {
		tok := p.token(t, func(c map[string]any) { c["iat"], c["exp"] = now.Unix(), now.Add(tc.lifetime).Unix() })
		if _, err := v.Verify(context.Background(), tok); (err == nil) != tc.ok {
			t.Errorf("%s: error %v, want accepted %v", tc.name, err, tc.ok)
		}
	}
	if _, err := v.Verify(context.Background(), p.token(t, func(c map[string]any) { c["iat"], c["exp"] = now.Unix(), 1e30 })); err == nil {
		t.Error("an exp beyond any clock (1e30) was accepted")
	}
	if _, err := NewVerifier(context.Background(), Config{Issuer: p.URL, Audience: "order", MaxTokenLifetime: -time.Hour}); err == nil {
		t.Error("a negative MaxTokenLifetime was accepted")
	}
}

// A caller that gives up (its context ends) while the JWKS refresh its
// unknown kid triggered is in flight neither cancels that refresh for
// everyone nor waits for it: the refresh completes, and the rotated key it
// brings verifies the next request, from that one fetch.
func TestAbandonedRefreshStillPicksUpTheRotatedKey(t *testing.T) {
	s := newSetup(t, Requirement{})
	*s.now = s.now.Add(61 * time.Second) // past the start-up fetch's minimum interval
	base := s.p.JWKSHits.Load()
	rotated, _ := rsa.GenerateKey(rand.Reader, 2048)
	tok := sign(t, jose.RS256, rotated, "rsa-2", nil, s.p.claims(func(c map[string]any) {
		c["exp"] = s.now.Add(5 * time.Minute).Unix()
		c["iat"], c["nbf"] = s.now.Unix(), s.now.Unix()
	}))
	release := s.p.HoldJWKS(t)
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := s.v.Verify(ctx, tok); first <- err }()
	for deadline := time.Now().Add(5 * time.Second); s.p.JWKSHits.Load() == base; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the unknown kid did not make the verifier fetch the JWKS")
		}
	}
	cancel() // the client disconnects while the provider is slow
	select {
	case err := <-first:
		if err == nil {
			t.Fatal("a token was accepted before its key was published")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a caller whose context ended still waits for the JWKS refresh")
	}
	s.p.Publish(jose.JSONWebKey{Key: rotated.Public(), KeyID: "rsa-2", Algorithm: "RS256", Use: "sig"})
	release()
	if _, err := s.v.Verify(context.Background(), tok); err != nil {
		t.Errorf("the rotated key is refused after the first caller gave up: %v", err)
	}
	// One fetch: the abandoned one, which completed and brought the key.
	if got := s.p.JWKSHits.Load() - base; got != 1 {
		t.Errorf("%d JWKS fetches, want exactly 1", got)
	}
}

func TestVerifierRefusesSymmetricOrNoneAlgorithms(t *testing.T) {
	p := newProvider(t)
	for _, alg := range []string{"HS256", "none"} {
		if _, err := NewVerifier(context.Background(), Config{Issuer: p.URL, Audience: "x", Algorithms: []string{alg}}); err == nil {
			t.Errorf("%s accepted", alg)
		}
	}
}

func FuzzVerify(f *testing.F) {
	p := newProvider(f)
	v, err := NewVerifier(context.Background(), Config{Issuer: p.URL, Audience: "order"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Add(strings.Repeat("A", 9000))
	f.Add("eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYS0xIn0.eyJleHAiOjk5OTk5OTk5OTl9.c2ln")
	f.Fuzz(func(t *testing.T, raw string) {
		if c, err := v.Verify(context.Background(), raw); err == nil {
			t.Fatalf("accepted a token nobody signed: %q -> %+v", raw, c)
		}
	})
}

// A remembered token is still refused once it expires.
func TestRememberedTokensStillExpire(t *testing.T) {
	s := newSetup(t, Requirement{})
	tok := s.p.token(t, func(c map[string]any) { c["exp"] = s.now.Add(90 * time.Second).Unix() })
	if rec := s.do("Bearer " + tok); rec.Code != 200 {
		t.Fatalf("first use: %d", rec.Code)
	}
	if rec := s.do("Bearer " + tok); rec.Code != 200 {
		t.Fatalf("second use: %d", rec.Code)
	}
	*s.now = s.now.Add(2 * time.Minute)
	if rec := s.do("Bearer " + tok); rec.Code != 401 {
		t.Errorf("an expired token was accepted from memory: %d", rec.Code)
	}
}

// BenchmarkVerify measures verification per algorithm (make bench).
func BenchmarkVerify(b *testing.B) {
	is := testsvc.NewIssuer(b)
	v, err := NewVerifier(context.Background(), Config{Issuer: is.URL, Audience: "order"})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		alg jose.SignatureAlgorithm
		key any
		kid string
	}{{jose.RS256, is.RSA, "rsa-1"}, {jose.ES256, is.EC, "ec-1"}, {jose.EdDSA, is.Ed, "ed-1"}} {
		tok := testsvc.Sign(b, tc.alg, tc.key, tc.kid, nil, is.Claims("order", time.Now(), func(c map[string]any) { c["exp"] = time.Now().Add(time.Hour).Unix() }))
		b.Run(string(tc.alg), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				// verify, not Verify: the crypto, without the verified-token cache.
				if _, _, err := v.verify(context.Background(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
