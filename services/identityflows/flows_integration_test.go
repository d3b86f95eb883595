package identityflows

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/infra/identity"
	"github.com/bulwark-platform/bulwark/services/internal/platform/auth"
	"github.com/bulwark-platform/bulwark/services/internal/platform/outbound"
	"github.com/bulwark-platform/bulwark/services/internal/platform/resilience"
	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc"
)

// stack is the stack whose model is proven: ci, with the provider set to
// hydra at the test's Hydra (the runner's Hydra in ci is on loopback).
const stack = "ci"

// env is a Hydra started from the model's settings with the model's
// clients applied.
type env struct {
	cfg     *config.Config
	m       identity.Model
	h       *testsvc.Hydra
	secrets map[string]string
}

// start compiles the stack's model with Hydra as its provider on a port
// chosen now (the issuer is part of the model), starts Hydra with the
// model's server settings and a login and consent app, and applies the
// model's clients through the admin API as the runner does.
func start(t *testing.T) *env {
	t.Helper()
	testsvc.Integration(t)
	cfg, err := config.LoadStack("../..", stack)
	if err != nil {
		t.Fatal(err)
	}
	port := testsvc.FreePort(t)
	id := &cfg.Identity
	id.Provider, id.Issuer = "hydra", "http://127.0.0.1:"+strconv.Itoa(port)
	id.Install, id.External = false, config.External{Host: "127.0.0.1", Port: port, CIDR: "127.0.0.1/32"}
	cfg.Edge.JWT = id.EdgeJWT()
	m, err := identity.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{cfg: cfg, m: m, secrets: map[string]string{}}
	app := httptest.NewServer(loginConsentApp(func() string { return e.h.AdminURL() }))
	t.Cleanup(app.Close)
	began := time.Now()
	conf, err := m.HydraServer().ConfigYAML()
	if err != nil {
		t.Fatal(err)
	}
	e.h = testsvc.StartHydraWith(t, testsvc.HydraOptions{PublicPort: port, Config: conf,
		Env: []string{"URLS_LOGIN=" + app.URL + "/login", "URLS_CONSENT=" + app.URL + "/consent"}})
	t.Logf("hydra serving in %s", time.Since(began).Round(time.Millisecond))
	if strings.TrimSuffix(e.h.Issuer, "/") != m.Endpoints.Issuer {
		t.Fatalf("hydra's discovery names issuer %q, the model %q", e.h.Issuer, m.Endpoints.Issuer)
	}
	for _, c := range m.Clients {
		// Vault's part in the runner: a generated secret per service.
		e.secrets[c.ClientID] = "vault-" + c.ClientID + "-" + rand.Text()
	}
	clients, err := m.HydraClients(e.secrets)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		e.h.Admin(http.MethodPost, "/admin/clients", c, http.StatusCreated, "creating client "+c.ClientID)
		// Read back: Hydra keeps what was sent (a field it dropped would
		// leave the client with Hydra's defaults).
		var got identity.HydraClient
		if err := json.Unmarshal(e.h.Admin(http.MethodGet, "/admin/clients/"+c.ClientID, nil, http.StatusOK, "reading client "+c.ClientID), &got); err != nil {
			t.Fatal(err)
		}
		if got.Scope != c.Scope || !slices.Equal(got.Audience, c.Audience) || !slices.Equal(got.GrantTypes, c.GrantTypes) ||
			got.TokenEndpointAuthMethod != c.TokenEndpointAuthMethod || got.AccessTokenStrategy != c.AccessTokenStrategy ||
			!sameDuration(got.ClientCredentialsGrantAccessTokenLifespan, c.ClientCredentialsGrantAccessTokenLifespan) ||
			!sameDuration(got.AuthorizationCodeGrantAccessTokenLifespan, c.AuthorizationCodeGrantAccessTokenLifespan) ||
			!sameDuration(got.RefreshTokenGrantRefreshTokenLifespan, c.RefreshTokenGrantRefreshTokenLifespan) {
			t.Fatalf("hydra holds client %s as\n%+v\nsent\n%+v", c.ClientID, got, c)
		}
	}
	return e
}

func sameDuration(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	da, err1 := time.ParseDuration(a)
	db, err2 := time.ParseDuration(b)
	return err1 == nil && err2 == nil && da == db
}

// verifier is a callee's token validation as the platform wires it
// (infra/podconfig): OIDC_ISSUER the model's issuer, OIDC_AUDIENCE the
// callee's audience, the contract's default maximum lifetime.
func (e *env) verifier(t *testing.T, service string) *auth.Verifier {
	t.Helper()
	aud, ok := e.m.AudienceOf(service)
	if !ok {
		t.Fatalf("no audience for %s", service)
	}
	v, err := auth.NewVerifier(context.Background(), auth.Config{Issuer: e.m.Endpoints.Issuer, Audience: aud, MaxTokenLifetime: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// callee serves one call of an edge behind the callee's real auth
// middleware, asking for the call's scopes as the callee's route does
// (graphcheck holds the route tables to the graph).
func (e *env) callee(t *testing.T, service string, call graph.Call) string {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := e.verifier(t, service).Require(auth.Requirement{Scopes: call.Scopes}, log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

type tokenAnswer struct {
	Status       int
	Error        string `json:"error"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func (e *env) token(t *testing.T, form url.Values) tokenAnswer {
	t.Helper()
	resp, err := http.PostForm(e.m.Endpoints.Token, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a tokenAnswer
	_ = json.NewDecoder(resp.Body).Decode(&a)
	a.Status = resp.StatusCode
	return a
}

func (e *env) clientCredentials(t *testing.T, client string, scopes, audiences []string) tokenAnswer {
	t.Helper()
	return e.token(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {e.secrets[client]},
		"scope": {strings.Join(scopes, " ")}, "audience": {strings.Join(audiences, " ")}})
}

type claims struct {
	Iss      string   `json:"iss"`
	Aud      []string `json:"aud"`
	Scp      []string `json:"scp"`
	ClientID string   `json:"client_id"`
	Sub      string   `json:"sub"`
}

// claimsOf reads a JWT's payload unverified (the verifiers check it).
func claimsOf(t *testing.T, jwt string) claims {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.40s", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c claims
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}

func call(t *testing.T, client *http.Client, method, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url+"/probe", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Client credentials, per service of the stack's graph: the token carries
// exactly the client's edge scopes and its callees' audiences; a scope or
// audience outside its edges is refused by Hydra; each edge's call, made
// through the service's real outbound client (the token request order
// sends), is accepted by the callee's auth middleware; and a token of a
// service without that edge is refused by the callee.
func TestClientCredentialsFollowTheGraph(t *testing.T) {
	e := start(t)
	began := time.Now()
	edges := map[string][]graph.Edge{}
	for _, ed := range e.cfg.Graph.Edges() {
		if ed.From.Name != graph.GatewayName {
			edges[ed.From.Name] = append(edges[ed.From.Name], ed)
		}
	}
	// One token per client: everything it may ask for.
	tokens := map[string]string{}
	for _, c := range e.m.Clients {
		a := e.clientCredentials(t, c.ClientID, c.Scopes, c.Audiences)
		if a.Status != http.StatusOK {
			t.Fatalf("%s: client credentials with its own scopes %v and audiences %v: %d %s", c.ClientID, c.Scopes, c.Audiences, a.Status, a.Error)
		}
		got := claimsOf(t, a.AccessToken)
		if !sameSet(got.Scp, c.Scopes) || !sameSet(got.Aud, c.Audiences) || got.ClientID != c.ClientID || strings.TrimSuffix(got.Iss, "/") != e.m.Endpoints.Issuer {
			t.Errorf("%s's token: scp %v aud %v client %q iss %q; want scp %v aud %v", c.ClientID, got.Scp, got.Aud, got.ClientID, got.Iss, c.Scopes, c.Audiences)
		}
		tokens[c.ClientID] = a.AccessToken
		for _, s := range e.m.Scopes {
			if slices.Contains(c.Scopes, s.Name) {
				continue
			}
			if a := e.clientCredentials(t, c.ClientID, []string{s.Name}, nil); a.Status == http.StatusOK {
				t.Errorf("%s got a token for scope %s, which none of its edges names", c.ClientID, s.Name)
			} else {
				t.Logf("%s asking for %s: %d %s", c.ClientID, s.Name, a.Status, a.Error)
			}
		}
		for _, api := range e.m.APIs {
			if slices.Contains(c.Audiences, api.Audience) {
				continue
			}
			if a := e.clientCredentials(t, c.ClientID, nil, []string{api.Audience}); a.Status == http.StatusOK {
				t.Errorf("%s got a token for audience %s, which none of its edges calls", c.ClientID, api.Audience)
			}
		}
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	checkedForbidden := 0
	for _, c := range e.m.Clients {
		for _, ed := range edges[c.Service] {
			grant := c.Edges[slices.IndexFunc(c.Edges, func(g identity.Grant) bool { return g.Callee == ed.To.Name })]
			creds := outbound.Credentials{TokenURL: e.m.Endpoints.Token, ClientID: c.ClientID, Secret: func() string { return e.secrets[c.ClientID] }}
			out, _ := outbound.Client(creds, grant.Audience, grant.Scopes, resilience.Options{Dependency: ed.To.Name, MaxAttempts: 1})
			for _, cl := range ed.Calls {
				u := e.callee(t, ed.To.Name, cl)
				method := cl.Methods[0]
				if code := call(t, out, method, u, ""); code != http.StatusNoContent {
					t.Errorf("%s -> %s %s (scopes %v) through its outbound client: %d, want the callee to accept it", c.ClientID, ed.To.Name, method, cl.Scopes, code)
				}
				// Every other service's token: refused unless that service
				// holds an edge to the callee with one of the call's scopes.
				for _, other := range e.m.Clients {
					if other.ClientID == c.ClientID {
						continue
					}
					may := slices.ContainsFunc(other.Edges, func(g identity.Grant) bool {
						return g.Callee == ed.To.Name && slices.ContainsFunc(cl.Scopes, func(s string) bool { return slices.Contains(g.Scopes, s) })
					})
					code := call(t, plain, method, u, tokens[other.ClientID])
					switch {
					case may && code != http.StatusNoContent:
						t.Errorf("%s's token at %s %s: %d, want accepted (it has the edge)", other.ClientID, ed.To.Name, method, code)
					case !may && code != http.StatusUnauthorized && code != http.StatusForbidden:
						t.Errorf("%s's token at %s %s: %d, want 401 or 403 (it has no edge to %s)", other.ClientID, ed.To.Name, method, code, ed.To.Name)
					case !may:
						t.Logf("%s's token (no edge) at %s %s: %d", other.ClientID, ed.To.Name, method, code)
					}
				}
			}
			// The right audience without the call's scope: the callee
			// knows the caller and refuses the operation (403, not 401).
			for _, cl := range ed.Calls {
				others := slices.DeleteFunc(slices.Clone(c.Scopes), func(s string) bool { return slices.Contains(cl.Scopes, s) })
				if len(others) == 0 {
					continue
				}
				a := e.clientCredentials(t, c.ClientID, others, []string{grant.Audience})
				if a.Status != http.StatusOK {
					t.Fatalf("%s: token for %s with scopes %v: %d %s", c.ClientID, grant.Audience, others, a.Status, a.Error)
				}
				if code := call(t, plain, cl.Methods[0], e.callee(t, ed.To.Name, cl), a.AccessToken); code != http.StatusForbidden {
					t.Errorf("%s's token for %s with scopes %v (not the call's %v) at %s %s: %d, want 403",
						c.ClientID, grant.Audience, others, cl.Scopes, ed.To.Name, cl.Methods[0], code)
				} else {
					checkedForbidden++
				}
			}
			// A token the caller holds for another callee is refused here.
			for _, g := range c.Edges {
				if g.Callee == ed.To.Name {
					continue
				}
				a := e.clientCredentials(t, c.ClientID, g.Scopes, []string{g.Audience})
				if code := call(t, plain, ed.Calls[0].Methods[0], e.callee(t, ed.To.Name, ed.Calls[0]), a.AccessToken); code != http.StatusUnauthorized {
					t.Errorf("%s's token for %s at %s: %d, want 401 (audience %s)", c.ClientID, g.Callee, ed.To.Name, code, g.Audience)
				}
			}
		}
	}
	// The default graph has a caller with two callees (order: payment and
	// user), so the 403 case above ran; a graph change that loses it
	// should say so.
	if checkedForbidden == 0 {
		t.Error("no call was checked with the right audience and a missing scope")
	}
	t.Logf("client credentials checked in %s (%d right-audience, missing-scope refusals)", time.Since(began).Round(time.Millisecond), checkedForbidden)
}

// loginConsentApp is the provider's login and consent UI for tests: it
// logs every login in as alice and grants what the client asked for,
// through Hydra's admin API.
func loginConsentApp(admin func() string) http.Handler {
	accept := func(w http.ResponseWriter, r *http.Request, kind, challenge string, body any) {
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPut, admin()+"/admin/oauth2/auth/requests/"+kind+"/accept?"+kind+"_challenge="+url.QueryEscape(challenge), strings.NewReader(string(raw)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var to struct {
			RedirectTo string `json:"redirect_to"`
		}
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&to) != nil {
			http.Error(w, "accepting "+kind+": "+resp.Status, http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, to.RedirectTo, http.StatusFound)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		accept(w, r, "login", r.URL.Query().Get("login_challenge"), map[string]any{"subject": "alice", "remember": false})
	})
	mux.HandleFunc("GET /consent", func(w http.ResponseWriter, r *http.Request) {
		challenge := r.URL.Query().Get("consent_challenge")
		resp, err := http.Get(admin() + "/admin/oauth2/auth/requests/consent?consent_challenge=" + url.QueryEscape(challenge))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var cr struct {
			RequestedScope    []string `json:"requested_scope"`
			RequestedAudience []string `json:"requested_access_token_audience"`
		}
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&cr) != nil {
			http.Error(w, "consent request: "+resp.Status, http.StatusBadGateway)
			return
		}
		accept(w, r, "consent", challenge, map[string]any{"grant_scope": cr.RequestedScope, "grant_access_token_audience": cr.RequestedAudience, "remember": false})
	})
	return mux
}

// pkce returns a verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorize runs the browser's side of the authorization request through
// the login and consent app and returns the redirect's query (code, or
// error).
func (e *env) authorize(t *testing.T, extra url.Values) url.Values {
	t.Helper()
	b := e.m.BrowserClient
	redirect := b.RedirectURIs[0]
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirect) || len(via) > 20 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	state := rand.Text()
	q := url.Values{"response_type": {"code"}, "client_id": {b.ClientID}, "redirect_uri": {redirect}, "state": {state},
		"scope":    {strings.Join(append(slices.Clone(identity.HydraBrowserProtocolScopes), b.Scopes...), " ")},
		"audience": {strings.Join(b.Audiences, " ")}}
	for k, v := range extra {
		q[k] = v
	}
	resp, err := browser.Get(e.m.Endpoints.Authorization + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case strings.HasPrefix(loc, redirect):
		if u.Query().Get("state") != state {
			t.Fatalf("state %q came back as %q", state, u.Query().Get("state"))
		}
	case u.Query().Get("error") != "":
		// An error Hydra shows on its error page, not at the client.
	default:
		t.Fatalf("the authorization request ended at %s %q, neither the redirect URI nor an error: %.300s", resp.Status, loc, body)
	}
	return u.Query()
}

func (e *env) exchange(t *testing.T, code string, verifier *string) tokenAnswer {
	t.Helper()
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.m.BrowserClient.RedirectURIs[0]}, "client_id": {e.m.BrowserClient.ClientID}}
	if verifier != nil {
		f.Set("code_verifier", *verifier)
	}
	return e.token(t, f)
}

func (e *env) refresh(t *testing.T, rt string) tokenAnswer {
	t.Helper()
	return e.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {e.m.BrowserClient.ClientID}})
}

// The browser client's authorization code flow with PKCE S256, then its
// refresh-token rotation.
func TestBrowserCodeFlowWithPKCEAndRotation(t *testing.T) {
	e := start(t)
	b := e.m.BrowserClient
	began := time.Now()
	var refresh string
	t.Run("code with PKCE S256", func(t *testing.T) {
		verifier, challenge := pkce()
		q := e.authorize(t, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}})
		code := q.Get("code")
		if code == "" {
			t.Fatalf("no code: %v", q)
		}
		a := e.exchange(t, code, &verifier)
		if a.Status != http.StatusOK || a.AccessToken == "" || a.RefreshToken == "" {
			t.Fatalf("exchange with the verifier: %d %s (refresh token %t)", a.Status, a.Error, a.RefreshToken != "")
		}
		got := claimsOf(t, a.AccessToken)
		if !sameSet(got.Aud, b.Audiences) || got.Sub != "alice" {
			t.Errorf("browser token aud %v sub %q, want %v and alice", got.Aud, got.Sub, b.Audiences)
		}
		for _, s := range b.Scopes {
			if !slices.Contains(got.Scp, s) {
				t.Errorf("browser token scp %v lacks %s", got.Scp, s)
			}
		}
		// The gateway's audience and each routed service's accept it.
		for _, svc := range append([]string{graph.GatewayName}, func() []string {
			var out []string
			for _, g := range b.Edges {
				out = append(out, g.Callee)
			}
			return out
		}()...) {
			if _, err := e.verifier(t, svc).Verify(context.Background(), a.AccessToken); err != nil {
				t.Errorf("%s refuses the browser's token: %v", svc, err)
			}
		}
		refresh = a.RefreshToken
	})
	t.Run("code replayed", func(t *testing.T) {
		verifier, challenge := pkce()
		code := e.authorize(t, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}).Get("code")
		first := e.exchange(t, code, &verifier)
		if first.Status != http.StatusOK {
			t.Fatalf("first exchange: %d %s", first.Status, first.Error)
		}
		if r := e.exchange(t, code, &verifier); r.Status == http.StatusOK {
			t.Errorf("a replayed code was exchanged again")
		} else {
			t.Logf("replayed code: %d %s", r.Status, r.Error)
		}
		// RFC 6749 4.1.2: the tokens the code gave are revoked on its
		// replay (Hydra does so).
		if r := e.refresh(t, first.RefreshToken); r.Status == http.StatusOK {
			t.Errorf("the refresh token of a replayed code still works")
		} else {
			t.Logf("refresh token of the replayed code: %d %s", r.Status, r.Error)
		}
	})
	t.Run("code without the verifier", func(t *testing.T) {
		_, challenge := pkce()
		code := e.authorize(t, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}).Get("code")
		if a := e.exchange(t, code, nil); a.Status == http.StatusOK {
			t.Errorf("a code was exchanged without its verifier")
		} else {
			t.Logf("no verifier: %d %s", a.Status, a.Error)
		}
	})
	t.Run("code with a wrong verifier", func(t *testing.T) {
		_, challenge := pkce()
		wrong, _ := pkce()
		code := e.authorize(t, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}).Get("code")
		if a := e.exchange(t, code, &wrong); a.Status == http.StatusOK {
			t.Errorf("a code was exchanged with a wrong verifier")
		} else {
			t.Logf("wrong verifier: %d %s", a.Status, a.Error)
		}
	})
	t.Run("authorization without a challenge or with plain", func(t *testing.T) {
		if q := e.authorize(t, nil); q.Get("code") != "" || q.Get("error") == "" {
			t.Errorf("an authorization request without a code_challenge got %v, want an error", q)
		} else {
			t.Logf("no challenge: %s", q.Get("error"))
		}
		v, _ := pkce()
		if q := e.authorize(t, url.Values{"code_challenge": {v}, "code_challenge_method": {"plain"}}); q.Get("code") != "" {
			t.Errorf("a plain code_challenge got a code, want S256 only")
		} else {
			t.Logf("plain challenge: %s", q.Get("error"))
		}
	})
	t.Run("refresh rotation and reuse", func(t *testing.T) {
		if refresh == "" {
			t.Skip("the code flow gave no refresh token")
		}
		a := e.refresh(t, refresh)
		if a.Status != http.StatusOK || a.RefreshToken == "" || a.RefreshToken == refresh {
			t.Fatalf("refresh: %d %s, new refresh token differs: %t", a.Status, a.Error, a.RefreshToken != refresh)
		}
		if r := e.refresh(t, refresh); r.Status == http.StatusOK {
			t.Fatalf("the used refresh token was accepted again")
		} else {
			t.Logf("reused refresh token: %d %s", r.Status, r.Error)
		}
		// Reuse detection: the reuse revoked the grant's tokens, the new
		// refresh token too.
		if r := e.refresh(t, a.RefreshToken); r.Status == http.StatusOK {
			t.Errorf("after a reuse the rotated refresh token still works: Hydra did not revoke the family")
		} else {
			t.Logf("rotated refresh token after the reuse: %d %s", r.Status, r.Error)
		}
	})
	t.Logf("browser flows checked in %s", time.Since(began).Round(time.Millisecond))
}
