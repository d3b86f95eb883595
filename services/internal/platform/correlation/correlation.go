// Package correlation carries a correlation ID through a request: accepted
// from X-Correlation-ID when well-formed, generated otherwise, echoed on the
// response, put on every log line and on the request's span, and forwarded
// on outgoing calls (beside W3C traceparent, which otelhttp propagates).
package correlation

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Header is the correlation ID header.
const Header = "X-Correlation-ID"

// headerKey is Header in canonical form: Header.Set and Values with a
// non-canonical name allocate its canonical form on every call.
var headerKey = http.CanonicalHeaderKey(Header)

// MaxLen bounds an accepted ID: longer values are replaced, never echoed.
const MaxLen = 64

// Parse accepts 1 to MaxLen characters of [A-Za-z0-9._:-] starting with a
// letter or digit, the forms UUIDs, ULIDs and most tracing IDs take.
// Anything else (CR/LF, spaces, markup, oversize) is refused.
func Parse(s string) (string, bool) {
	if len(s) == 0 || len(s) > MaxLen || !alnum(s[0]) {
		return "", false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !alnum(c) && c != '.' && c != '_' && c != ':' && c != '-' {
			return "", false
		}
	}
	return s, true
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// New returns a fresh random ID (26 base32 characters, 130 bits).
func New() string { return rand.Text() }

type ctxKey struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the request's correlation ID, or "".
func FromContext(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// Middleware establishes the request's correlation ID.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(Bind(r.Context(), w, r)))
	})
}

// Bind is Middleware's work for a caller that builds the request's context
// itself: it picks r's correlation ID (its own when well-formed and alone,
// a new one otherwise), echoes it on w, puts it on the span in ctx, and
// returns ctx carrying it.
func Bind(ctx context.Context, w http.ResponseWriter, r *http.Request) context.Context {
	id, ok := "", false
	if vals := r.Header.Values(headerKey); len(vals) == 1 {
		id, ok = Parse(vals[0])
	}
	if !ok {
		id = New()
	}
	w.Header().Set(headerKey, id)
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("correlation.id", id))
	return With(ctx, id)
}

// Transport forwards the correlation ID of the request's context.
type Transport struct{ Base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (t Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if id := FromContext(r.Context()); id != "" {
		r = r.Clone(r.Context())
		r.Header.Set(headerKey, id)
	}
	return base.RoundTrip(r)
}

// LogHandler adds correlation_id to every record logged with a context
// that carries one.
type LogHandler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := FromContext(ctx); id != "" {
		r.AddAttrs(slog.String("correlation_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return LogHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h LogHandler) WithGroup(name string) slog.Handler { return LogHandler{h.Handler.WithGroup(name)} }
