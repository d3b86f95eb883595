// Package outbound builds the HTTP client a service calls another with:
// its own client-credentials token (golang.org/x/oauth2, cached until
// shortly before expiry; the client secret reloaded from its file), the
// correlation ID and W3C traceparent forwarded, and the resilience
// transport (timeouts, budgeted retries, circuit breaker) per dependency.
package outbound

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/bulwark-platform/bulwark/services/internal/platform/correlation"
	"github.com/bulwark-platform/bulwark/services/internal/platform/resilience"
)

// Credentials identify the calling service to the token endpoint.
type Credentials struct {
	TokenURL, ClientID string
	// Secret returns the current client secret (reloaded from its file).
	Secret func() string
	// HTTPClient reaches the token endpoint (the service's identity
	// provider client, which trusts OIDC_TLS_CA_FILE); nil uses
	// http.DefaultClient.
	HTTPClient *http.Client
}

// swappable is a token source rebuilt when the client secret changes.
type swappable struct {
	creds    Credentials
	scopes   []string
	audience string
	secret   atomic.Value // string
	current  atomic.Pointer[oauth2.TokenSource]
}

func (s *swappable) Token() (*oauth2.Token, error) {
	secret := s.creds.Secret()
	if prev, _ := s.secret.Load().(string); prev != secret || s.current.Load() == nil {
		cfg := clientcredentials.Config{
			ClientID: s.creds.ClientID, ClientSecret: secret, TokenURL: s.creds.TokenURL,
			Scopes: s.scopes, AuthStyle: oauth2.AuthStyleInParams,
			EndpointParams: map[string][]string{"audience": {s.audience}},
		}
		ctx := context.Background()
		if s.creds.HTTPClient != nil {
			ctx = context.WithValue(ctx, oauth2.HTTPClient, s.creds.HTTPClient)
		}
		ts := cfg.TokenSource(ctx)
		s.current.Store(&ts)
		s.secret.Store(secret)
	}
	tok, err := (*s.current.Load()).Token()
	if err != nil {
		return nil, fmt.Errorf("client-credentials token for %s: %w", s.audience, err)
	}
	return tok, nil
}

// Client returns a client for one dependency.
func Client(creds Credentials, audience string, scopes []string, opts resilience.Options) (*http.Client, *resilience.Transport) {
	ts := &swappable{creds: creds, scopes: scopes, audience: audience}
	auth := &oauth2.Transport{Source: ts, Base: http.DefaultTransport}
	res := resilience.New(auth, opts)
	return &http.Client{Transport: otelhttp.NewTransport(correlation.Transport{Base: res})}, res
}
