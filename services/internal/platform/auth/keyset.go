package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// keySet is the issuer's JWKS, cached. A token naming an unknown kid
// triggers a refresh (keys rotate), at most once per minRefresh however
// many such tokens arrive, so forged kids can't make the service hammer
// the identity provider. Signature checks are go-jose's; the jku and x5u
// headers are never followed.
type keySet struct {
	url        string
	client     *http.Client
	algs       []jose.SignatureAlgorithm
	minRefresh time.Duration
	now        func() time.Time

	mu      sync.RWMutex
	keys    map[string]jose.JSONWebKey
	fetched time.Time
	group   singleflight.Group
}

var errUnknownKey = errors.New("no key with this kid")

// VerifySignature implements oidc.KeySet.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, k.algs)
	if err != nil {
		return nil, fmt.Errorf("parsing token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("token must carry exactly one signature")
	}
	hdr := jws.Signatures[0].Header
	key, ok := k.lookup(hdr.KeyID)
	if !ok {
		if err := k.refresh(ctx); err != nil {
			return nil, err
		}
		if key, ok = k.lookup(hdr.KeyID); !ok {
			return nil, errUnknownKey
		}
	}
	// A key published for one algorithm never verifies another.
	if key.Algorithm != "" && key.Algorithm != hdr.Algorithm {
		return nil, fmt.Errorf("token algorithm %s does not match key algorithm %s", hdr.Algorithm, key.Algorithm)
	}
	if key.Use != "" && key.Use != "sig" {
		return nil, fmt.Errorf("key %q is not a signing key", hdr.KeyID)
	}
	return jws.Verify(key.Key)
}

func (k *keySet) lookup(kid string) (jose.JSONWebKey, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	key, ok := k.keys[kid]
	return key, ok
}

// refresh fetches the JWKS unless it was fetched less than minRefresh ago;
// concurrent callers share one fetch.
//
// The fetch runs detached from the caller's context, with its own timeout:
// it serves every caller waiting on it and the ones after, so one client
// that disconnects must not cancel it (the fetch would count as this
// interval's one refresh, and a real rotation would be refused until the
// next). A caller whose own context ends stops waiting and returns; the
// fetch goes on without it. Since a caller can no longer fail the fetch,
// every failure is the provider's (an error, or a hang past the timeout)
// and still counts as the interval's fetch, so a failing provider is also
// asked at most once per minRefresh.
//
// The minRefresh check runs inside the shared call, so a caller arriving
// while a fetch is in flight joins it (and sees the keys it brings) rather
// than being told the keys are fresh when they are still on their way.
func (k *keySet) refresh(ctx context.Context) error {
	ch := k.group.DoChan("fetch", func() (any, error) {
		k.mu.RLock()
		recent := !k.fetched.IsZero() && k.now().Sub(k.fetched) < k.minRefresh
		k.mu.RUnlock()
		if recent {
			return nil, nil
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.fetchTimeout())
		defer cancel()
		return nil, k.fetch(fctx)
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return fmt.Errorf("waiting for the JWKS: %w", context.Cause(ctx))
	}
}

// maxFetchTime bounds a detached JWKS fetch (the HTTP client's own
// timeout, if shorter, applies too).
const maxFetchTime = 5 * time.Second

func (k *keySet) fetchTimeout() time.Duration {
	if t := k.client.Timeout; t > 0 && t < maxFetchTime {
		return t
	}
	return maxFetchTime
}

func (k *keySet) fetch(ctx context.Context) error {
	// Counted as a fetch even when it fails, so a failing provider is
	// also asked at most once per minRefresh.
	k.mu.Lock()
	k.fetched = k.now()
	k.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching JWKS: %s", resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("decoding JWKS: %w", err)
	}
	keys := make(map[string]jose.JSONWebKey, len(set.Keys))
	for _, key := range set.Keys {
		if key.KeyID != "" && key.IsPublic() {
			keys[key.KeyID] = key
		}
	}
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	return nil
}
