package outbound

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/bulwark-platform/bulwark/services/internal/platform/correlation"
	"github.com/bulwark-platform/bulwark/services/internal/platform/resilience"
)

// tokenEndpoint is an OAuth token endpoint double that issues one token
// per accepted secret and counts requests. (The integration tier gets
// tokens from Ory Hydra; this checks caching and the secret swap.)
type tokenEndpoint struct {
	*httptest.Server
	mu      sync.Mutex
	secret  string
	fetches atomic.Int32
}

func newTokenEndpoint(t *testing.T, secret string) *tokenEndpoint {
	return startTokenEndpoint(t, secret, false)
}

func startTokenEndpoint(t *testing.T, secret string, withTLS bool) *tokenEndpoint {
	te := &tokenEndpoint{secret: secret}
	te.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		te.fetches.Add(1)
		te.mu.Lock()
		ok := r.FormValue("client_secret") == te.secret && r.FormValue("audience") == "payment" && r.FormValue("scope") == "payments:write"
		te.mu.Unlock()
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "tok-" + r.FormValue("client_secret"), "token_type": "bearer", "expires_in": 3600})
	}))
	if withTLS {
		te.StartTLS()
	} else {
		te.Start()
	}
	t.Cleanup(te.Close)
	return te
}

// A token endpoint with a certificate the system does not trust (the
// installed Keycloak's, of the private CA) is reached through the client
// given, which trusts it; without it, the token request fails.
func TestTokenRequestsUseTheGivenClient(t *testing.T) {
	te := startTokenEndpoint(t, "s1", true)
	dep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer dep.Close()
	get := func(creds Credentials) error {
		client, _ := Client(creds, "payment", []string{"payments:write"}, resilience.Options{Dependency: "payment", MaxAttempts: 1})
		resp, err := client.Get(dep.URL)
		if err == nil {
			_ = resp.Body.Close()
		}
		return err
	}
	creds := Credentials{TokenURL: te.URL, ClientID: "order", Secret: func() string { return "s1" }}
	if err := get(creds); err == nil {
		t.Error("a token endpoint of an unknown CA was trusted without the client that trusts it")
	}
	creds.HTTPClient = te.Client() // trusts the endpoint's certificate
	if err := get(creds); err != nil {
		t.Errorf("through the trusting client: %v", err)
	}
	if te.fetches.Load() != 1 {
		t.Errorf("%d token requests reached the endpoint, want 1", te.fetches.Load())
	}
}

func TestClientCarriesItsTokenTheCorrelationIDAndTraceparent(t *testing.T) {
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(sdktrace.NewTracerProvider())
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })

	te := newTokenEndpoint(t, "s1")
	var secret atomic.Value
	secret.Store("s1")
	type seen struct{ auth, corr, traceparent string }
	var got []seen
	var mu sync.Mutex
	dep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Header.Get("Authorization"), r.Header.Get(correlation.Header), r.Header.Get("traceparent")})
		mu.Unlock()
	}))
	defer dep.Close()
	client, _ := Client(Credentials{TokenURL: te.URL, ClientID: "order-svc", Secret: func() string { return secret.Load().(string) }},
		"payment", []string{"payments:write"}, resilience.Options{Dependency: "payment"})

	call := func() error {
		ctx, span := otel.Tracer("test").Start(correlation.With(context.Background(), "corr-42"), "op")
		defer span.End()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, dep.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
	for range 5 {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
	if n := te.fetches.Load(); n != 1 {
		t.Errorf("%d token fetches for 5 calls: the token must be cached until it nears expiry", n)
	}
	for _, s := range got {
		if s.auth != "Bearer tok-s1" || s.corr != "corr-42" || len(s.traceparent) != 55 {
			t.Errorf("the dependency saw %+v", s)
		}
	}

	// A rotated secret (the file changed) drops the cached token: the next
	// call fetches one with the new secret.
	te.mu.Lock()
	te.secret = "s2"
	te.mu.Unlock()
	secret.Store("s2")
	if err := call(); err != nil {
		t.Fatal(err)
	}
	if last := got[len(got)-1]; last.auth != "Bearer tok-s2" || te.fetches.Load() != 2 {
		t.Errorf("after rotation: %+v, %d fetches", last, te.fetches.Load())
	}

	// A secret the provider refuses fails the call, naming the audience;
	// the dependency is not called without a token.
	secret.Store("wrong")
	before := len(got)
	if err := call(); err == nil {
		t.Error("a call went out although no token could be had")
	} else if want := "client-credentials token for payment"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
	if len(got) != before {
		t.Error("the dependency was called without a token")
	}
}
