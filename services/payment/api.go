package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"

	"github.com/bulwark-platform/bulwark/services/internal/platform/app"
	"github.com/bulwark-platform/bulwark/services/internal/platform/auth"
	"github.com/bulwark-platform/bulwark/services/internal/platform/db"
	"github.com/bulwark-platform/bulwark/services/internal/platform/idempotency"
)

var tracer = otel.Tracer("github.com/bulwark-platform/bulwark/services/payment")

// Payment is a charge.
type Payment struct {
	ID          string    `json:"id"`
	OrderID     string    `json:"order_id"`
	AmountCents int64     `json:"amount_cents"`
	Currency    string    `json:"currency"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
}

type api struct {
	db      *db.DB
	charges *prometheus.CounterVec
}

func newAPI(svc *app.Service) *api {
	a := &api{db: svc.DB, charges: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "payments_total", Help: "Charges by outcome (created, replayed, rejected).",
	}, []string{"outcome"})}
	svc.Metrics.Registry.MustRegister(a.charges)
	return a
}

func (a *api) routes() []app.Route {
	return []app.Route{
		{Pattern: "POST /api/v1/payments", Need: auth.Requirement{Scopes: []string{"payments:write"}}, Handler: a.charge},
	}
}

type chargeInput struct {
	OrderID     string `json:"order_id"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency"`
}

// validate returns what is wrong with the charge, naming the field, or "".
func (in chargeInput) validate() string {
	switch {
	case in.OrderID == "" || len(in.OrderID) > 64:
		return "order_id: required, at most 64 characters"
	case in.AmountCents <= 0 || in.AmountCents > 100_000_000:
		return "amount_cents: must be between 1 and 100000000"
	case !app.IsCurrency(in.Currency):
		return "currency: must be an ISO 4217 code such as EUR"
	}
	return ""
}

func (a *api) charge(w http.ResponseWriter, r *http.Request) {
	key, ok := idempotency.Key(w, r)
	if !ok {
		a.charges.WithLabelValues("rejected").Inc()
		return
	}
	var in chargeInput
	if err := app.Decode(r, &in); err != nil {
		app.Problem(w, http.StatusBadRequest, err.Error())
		return
	}
	if msg := in.validate(); msg != "" {
		app.Problem(w, http.StatusBadRequest, msg)
		return
	}
	claims, _ := auth.FromContext(r.Context())
	p, replayed, err := a.create(r.Context(), claims.ClientID, key, in)
	switch {
	case errors.Is(err, idempotency.ErrKeyReused):
		a.charges.WithLabelValues("rejected").Inc()
	case err != nil: // storage: answered 503 below, not counted
	case replayed:
		a.charges.WithLabelValues("replayed").Inc()
	default:
		a.charges.WithLabelValues("created").Inc()
	}
	if !idempotency.Answer(w, p, replayed, err) {
		w.Header().Set("Retry-After", "1")
		app.Problem(w, http.StatusServiceUnavailable, "storage unavailable, retry later")
	}
}

// create charges once per (caller, key): a replay returns the first
// result; the same key for a different request is refused.
func (a *api) create(ctx context.Context, clientID, key string, in chargeInput) (Payment, bool, error) {
	ctx, span := tracer.Start(ctx, "payment.charge")
	defer span.End()
	// Only the currency: amounts and order ids stay out of traces.
	span.SetAttributes(attribute.String("payment.currency", in.Currency))
	const cols = "id::text, order_id, amount_cents, currency, status, created_at"
	scan := func(row pgx.Row) (Payment, error) {
		var p Payment
		err := row.Scan(&p.ID, &p.OrderID, &p.AmountCents, &p.Currency, &p.Status, &p.CreatedAt)
		return p, err
	}
	p, err := scan(a.db.Pool().QueryRow(ctx, `INSERT INTO payments (idempotency_key, client_id, order_id, amount_cents, currency, status)
		VALUES ($1, $2, $3, $4, $5, 'captured') ON CONFLICT (client_id, idempotency_key) DO NOTHING RETURNING `+cols,
		key, clientID, in.OrderID, in.AmountCents, in.Currency))
	if err == nil {
		span.SetAttributes(attribute.Bool("payment.replayed", false))
		return p, false, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, false, err
	}
	p, err = scan(a.db.Pool().QueryRow(ctx, "SELECT "+cols+" FROM payments WHERE client_id = $1 AND idempotency_key = $2", clientID, key))
	if err != nil {
		return Payment{}, false, err
	}
	if p.OrderID != in.OrderID || p.AmountCents != in.AmountCents || p.Currency != in.Currency {
		return Payment{}, false, idempotency.ErrKeyReused
	}
	span.SetAttributes(attribute.Bool("payment.replayed", true))
	return p, true, nil
}
