package testsvc

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// Hydra is a running Ory Hydra: a real OpenID provider issuing JWT access
// tokens, in memory.
type Hydra struct {
	Issuer string
	public string
	admin  string
	cmd    *exec.Cmd
	t      testing.TB
	logs   *strings.Builder
}

func hydraBinary() (string, bool) {
	if p, err := exec.LookPath("hydra"); err == nil {
		return p, true
	}
	dir := os.Getenv("BULWARK_TOOLS_DIR")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".cache", "bulwark", "tools")
		}
	}
	p := filepath.Join(dir, "bin", "hydra")
	if _, err := os.Stat(p); err == nil {
		return p, true
	}
	return "", false
}

// StartHydra runs `hydra serve all --dev` with an in-memory store, its
// issuer the public URL and JWT access tokens, the test key set published
// beside Hydra's own (see SigningKey).
func StartHydra(t testing.TB) *Hydra {
	t.Helper()
	return StartHydraWith(t, HydraOptions{Env: []string{
		"WEBFINGER_JWKS_BROADCAST_KEYS=hydra.openid.id-token,hydra.jwt.access-token," + testKeySet,
	}})
}

// Client registers an OAuth client allowed the client-credentials grant
// for scopes and audiences, and returns its secret.
func (h *Hydra) Client(id string, scopes, audience []string) string {
	h.t.Helper()
	secret := "secret-" + id + "-0123456789abcdef"
	h.adminCall(http.MethodPost, "/admin/clients", clientBody(id, secret, scopes, audience), http.StatusCreated, "creating client "+id)
	return secret
}

// SetSecret replaces a client's secret (a rotation at the provider).
func (h *Hydra) SetSecret(id, secret string, scopes, audience []string) {
	h.t.Helper()
	h.adminCall(http.MethodPut, "/admin/clients/"+id, clientBody(id, secret, scopes, audience), http.StatusOK, "rotating the secret of "+id)
}

func clientBody(id, secret string, scopes, audience []string) map[string]any {
	return map[string]any{
		"client_id": id, "client_secret": secret, "grant_types": []string{"client_credentials"},
		"scope": strings.Join(scopes, " "), "audience": audience, "token_endpoint_auth_method": "client_secret_post",
	}
}

// adminCall sends body as JSON to Hydra's admin API, fails the test unless
// the answer is want, and returns the answer's body.
func (h *Hydra) adminCall(method, path string, body any, want int, what string) []byte {
	h.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		h.t.Fatal(err)
	}
	req, _ := http.NewRequest(method, h.admin+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s: %v", what, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		h.t.Fatalf("%s: %s %s", what, resp.Status, out)
	}
	return out
}

// testKeySet holds keys created by SigningKey.
const testKeySet = "bulwark.test"

// SigningKey has Hydra generate an RS256 key in a key set it publishes in
// its JWKS, and returns the private half. Tests sign tokens with it that
// Hydra itself would never issue (expired, wrong audience, missing exp...)
// so that verifiers are attacked through Hydra's real discovery and JWKS.
func (h *Hydra) SigningKey(kid string) *rsa.PrivateKey {
	h.t.Helper()
	raw := h.adminCall(http.MethodPost, "/admin/keys/"+testKeySet, map[string]string{"alg": "RS256", "kid": kid, "use": "sig"},
		http.StatusCreated, "creating signing key "+kid)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) != 1 {
		h.t.Fatalf("signing key %s: hydra answered %d keys (%v), want 1", kid, len(set.Keys), err)
	}
	key, ok := set.Keys[0].Key.(*rsa.PrivateKey)
	if !ok {
		h.t.Fatalf("hydra returned a %T for %s, want an RSA private key", set.Keys[0].Key, kid)
	}
	return key
}

// TokenURL is the token endpoint.
func (h *Hydra) TokenURL() string { return h.public + "/oauth2/token" }

// Token gets a client-credentials access token.
func (h *Hydra) Token(ctx context.Context, id, secret string, scopes []string, audience string) string {
	h.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret},
		"scope": {strings.Join(scopes, " ")}, "audience": {audience}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&tok) != nil || tok.AccessToken == "" {
		h.t.Fatalf("token for %s: %s", id, resp.Status)
	}
	return tok.AccessToken
}

// String names the provider.
func (h *Hydra) String() string { return fmt.Sprintf("hydra %s", h.Issuer) }
