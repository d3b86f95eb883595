// Package auth validates bearer JWTs (OIDC discovery, JWKS, go-oidc and
// go-jose; no hand-rolled crypto) and enforces each route's scopes and
// roles, answering RFC 6750 401 and 403 responses that tell an attacker
// nothing. The reason for every refusal is logged.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/maypok86/otter/v2"
)

// Config configures a Verifier.
type Config struct {
	// Issuer is the OIDC issuer URL; discovery is read from it.
	Issuer string
	// Audience must be among the token's aud.
	Audience string
	// Algorithms allowed; default RS256, ES256, EdDSA.
	Algorithms []string
	// Leeway for nbf and iat; default and maximum 60 s.
	Leeway time.Duration
	// MaxTokenBytes refuses longer tokens before parsing; default 8 KiB.
	MaxTokenBytes int
	// MaxTokenLifetime refuses a token whose exp - iat exceeds it, and a
	// token without iat (its lifetime can't be known); default 24 h when
	// zero. There is always a maximum: a negative one is an error.
	MaxTokenLifetime time.Duration
	// MinRefresh bounds JWKS refreshes on unknown kids; default 1 minute.
	MinRefresh time.Duration
	// HTTPClient fetches discovery and JWKS; default a 5 s timeout client.
	HTTPClient *http.Client
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Claims are what a verified token says about the caller.
type Claims struct {
	Subject  string
	ClientID string
	Scopes   []string
	Roles    []string
}

// Verifier verifies access tokens of one issuer.
type Verifier struct {
	cfg      Config
	verifier *oidc.IDTokenVerifier
	keys     *keySet
	tokenURL string
	// verified remembers tokens that passed every check until they expire
	// (at most maxRemember): a client reuses its token for minutes, and
	// the signature check is the most expensive step of a request.
	verified *otter.Cache[string, verifiedToken]
}

type verifiedToken struct {
	claims *Claims
	expiry time.Time
}

const maxRemember = 5 * time.Minute

// DefaultMaxTokenLifetime is Config.MaxTokenLifetime's default.
const DefaultMaxTokenLifetime = 24 * time.Hour

// TokenURL is the issuer's token endpoint (for client credentials).
func (v *Verifier) TokenURL() string { return v.tokenURL }

// NewVerifier discovers the issuer and fetches its JWKS once. Its errors
// name the issuer, not the step: the caller knows it (app says "OIDC
// discovery").
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("issuer and audience are required")
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{"RS256", "ES256", "EdDSA"}
	}
	for _, a := range cfg.Algorithms {
		if a == "none" || strings.HasPrefix(a, "HS") {
			return nil, fmt.Errorf("algorithm %s is not allowed for bearer tokens", a)
		}
	}
	if cfg.Leeway <= 0 || cfg.Leeway > 60*time.Second {
		cfg.Leeway = 60 * time.Second
	}
	if cfg.MaxTokenBytes <= 0 {
		cfg.MaxTokenBytes = 8 << 10
	}
	switch {
	case cfg.MaxTokenLifetime < 0:
		return nil, fmt.Errorf("the maximum token lifetime must be positive, got %s", cfg.MaxTokenLifetime)
	case cfg.MaxTokenLifetime == 0:
		cfg.MaxTokenLifetime = DefaultMaxTokenLifetime
	}
	if cfg.MinRefresh <= 0 {
		cfg.MinRefresh = time.Minute
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, cfg.HTTPClient), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("issuer %s: %w", cfg.Issuer, err)
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil || meta.JWKSURI == "" {
		return nil, fmt.Errorf("issuer %s: discovery names no jwks_uri", cfg.Issuer)
	}
	algs := make([]jose.SignatureAlgorithm, len(cfg.Algorithms))
	for i, a := range cfg.Algorithms {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	keys := &keySet{url: meta.JWKSURI, client: cfg.HTTPClient, algs: algs, minRefresh: cfg.MinRefresh, now: cfg.Now}
	if err := keys.fetch(ctx); err != nil {
		return nil, fmt.Errorf("issuer %s: %w", cfg.Issuer, err)
	}
	verified, err := otter.New(&otter.Options[string, verifiedToken]{
		MaximumSize: 10_000,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, verifiedToken]) time.Duration {
			return min(time.Until(e.Value.expiry), maxRemember)
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("verified-token cache: %w", err)
	}
	return &Verifier{
		verified: verified,
		cfg:      cfg,
		keys:     keys,
		tokenURL: provider.Endpoint().TokenURL,
		verifier: oidc.NewVerifier(cfg.Issuer, keys, &oidc.Config{
			ClientID: cfg.Audience, SupportedSigningAlgs: cfg.Algorithms, Now: cfg.Now,
		}),
	}, nil
}

// rawClaims are the registered and authorization claims read after the
// signature is verified.
type rawClaims struct {
	Exp         *json.Number `json:"exp"`
	Nbf         *json.Number `json:"nbf"`
	Iat         *json.Number `json:"iat"`
	Sub         string       `json:"sub"`
	ClientID    string       `json:"client_id"`
	Azp         string       `json:"azp"`
	Scope       string       `json:"scope"`
	Scp         []string     `json:"scp"`
	Roles       []string     `json:"roles"`
	RealmAccess struct {
		Roles []string `json:"roles"`
	} `json:"realm_access"`
}

// Verify checks a raw token: size, signature and algorithm, iss, aud, exp
// (required), nbf and iat (within the leeway), and its lifetime: iat is
// required and exp - iat at most MaxTokenLifetime, so a stolen token
// minted to live for years is refused even though it is still valid.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) > v.cfg.MaxTokenBytes {
		return nil, fmt.Errorf("token of %d bytes exceeds %d", len(raw), v.cfg.MaxTokenBytes)
	}
	if hit, ok := v.verified.GetIfPresent(raw); ok && v.cfg.Now().Before(hit.expiry) {
		return hit.claims, nil
	}
	claims, expiry, err := v.verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	v.verified.Set(raw, verifiedToken{claims: claims, expiry: expiry})
	return claims, nil
}

func (v *Verifier) verify(ctx context.Context, raw string) (*Claims, time.Time, error) {
	tok, err := v.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, time.Time{}, err
	}
	var c rawClaims
	if err := tok.Claims(&c); err != nil {
		return nil, time.Time{}, fmt.Errorf("reading claims: %w", err)
	}
	now := v.cfg.Now()
	if c.Exp == nil {
		return nil, time.Time{}, errors.New("token has no exp")
	}
	if t, ok := unix(c.Nbf); ok && t.After(now.Add(v.cfg.Leeway)) {
		return nil, time.Time{}, fmt.Errorf("token not valid before %s", t)
	}
	iat, ok := unix(c.Iat)
	if !ok {
		return nil, time.Time{}, errors.New("token has no iat: its lifetime can't be checked")
	}
	if iat.After(now.Add(v.cfg.Leeway)) {
		return nil, time.Time{}, fmt.Errorf("token issued in the future (%s)", iat)
	}
	// In float seconds: a huge exp would overflow a time.Time and pass.
	expS, err1 := c.Exp.Float64()
	iatS, err2 := c.Iat.Float64()
	if lifetime := expS - iatS; err1 != nil || err2 != nil || lifetime > v.cfg.MaxTokenLifetime.Seconds() {
		return nil, time.Time{}, fmt.Errorf("token lifetime of %.0f s exceeds the maximum of %s", lifetime, v.cfg.MaxTokenLifetime)
	}
	out := &Claims{Subject: c.Sub, ClientID: c.ClientID, Scopes: c.Scp, Roles: slices.Concat(c.Roles, c.RealmAccess.Roles)}
	if out.ClientID == "" {
		out.ClientID = c.Azp
	}
	if c.Scope != "" {
		out.Scopes = append(out.Scopes, strings.Fields(c.Scope)...)
	}
	return out, tok.Expiry, nil
}

func unix(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// Requirement is what a route asks of a caller: one of Scopes (if any)
// and all of Roles.
type Requirement struct {
	Scopes []string
	Roles  []string
}

type ctxKey struct{}

// FromContext returns the verified caller of the request.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(ctxKey{}).(*Claims)
	return c, ok
}

// Realm names the protection space in WWW-Authenticate.
const Realm = "bulwark"

// Require wraps next so that it runs only for a caller whose bearer token
// verifies and meets req.
func (v *Verifier) Require(req Requirement, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, problem := bearer(r)
		if problem != "" {
			log.WarnContext(r.Context(), "request refused", "reason", problem, "path", r.URL.Path)
			code := "invalid_request"
			if problem == "no bearer token" {
				code = ""
			}
			unauthorized(w, code)
			return
		}
		claims, err := v.Verify(r.Context(), raw)
		if err != nil {
			log.WarnContext(r.Context(), "request refused", "reason", "invalid token", "error", err.Error(), "path", r.URL.Path)
			unauthorized(w, "invalid_token")
			return
		}
		if missing := req.missing(claims); missing != "" {
			log.WarnContext(r.Context(), "request refused", "reason", "insufficient scope or role", "need", missing, "subject", claims.Subject, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q, error="insufficient_scope", scope=%q`, Realm, strings.Join(req.Scopes, " ")))
			http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, claims)))
	})
}

func (req Requirement) missing(c *Claims) string {
	if len(req.Scopes) > 0 && !slices.ContainsFunc(req.Scopes, func(s string) bool { return slices.Contains(c.Scopes, s) }) {
		return "one of scopes " + strings.Join(req.Scopes, " ")
	}
	for _, role := range req.Roles {
		if !slices.Contains(c.Roles, role) {
			return "role " + role
		}
	}
	return ""
}

// bearer extracts the token: exactly one Authorization header with the
// Bearer scheme (case-insensitive, RFC 7235) and a token68 value.
func bearer(r *http.Request) (string, string) {
	vals := r.Header.Values("Authorization")
	switch {
	case len(vals) == 0:
		return "", "no bearer token"
	case len(vals) > 1:
		return "", "more than one Authorization header"
	}
	scheme, token, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", "not a bearer token"
	}
	// Three IndexByte scans (vectorised) instead of ContainsAny, which
	// walks a token of a kilobyte byte by byte on every request.
	if token == "" || strings.IndexByte(token, ' ') >= 0 || strings.IndexByte(token, '\t') >= 0 || strings.IndexByte(token, ',') >= 0 {
		return "", "malformed bearer token"
	}
	return token, ""
}

func unauthorized(w http.ResponseWriter, code string) {
	v := fmt.Sprintf("Bearer realm=%q", Realm)
	if code != "" {
		v += fmt.Sprintf(", error=%q", code)
	}
	w.Header().Set("WWW-Authenticate", v)
	http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
}
