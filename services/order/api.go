package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"

	"github.com/bulwark-platform/bulwark/services/internal/platform/app"
	"github.com/bulwark-platform/bulwark/services/internal/platform/auth"
	"github.com/bulwark-platform/bulwark/services/internal/platform/cache"
	"github.com/bulwark-platform/bulwark/services/internal/platform/db"
	"github.com/bulwark-platform/bulwark/services/internal/platform/idempotency"
	"github.com/bulwark-platform/bulwark/services/internal/platform/resilience"
)

var tracer = otel.Tracer("github.com/bulwark-platform/bulwark/services/order")

// Item is one order line.
type Item struct {
	SKU            string `json:"sku"`
	Quantity       int64  `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
}

// Order is an order.
type Order struct {
	ID         string    `json:"id"`
	UserID     string    `json:"user_id"`
	Items      []Item    `json:"items"`
	TotalCents int64     `json:"total_cents"`
	Currency   string    `json:"currency"`
	Status     string    `json:"status"`
	PaymentID  string    `json:"payment_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

type deps struct {
	users, payments     *http.Client
	userURL, paymentURL string
	// paymentBreaker lets an order fail fast, before any work, while the
	// payment service is known to be down.
	paymentBreaker *resilience.Transport
}

type api struct {
	db     *db.DB
	cache  *cache.Cache[Order]
	deps   deps
	orders *prometheus.CounterVec
}

func newAPI(svc *app.Service, c *cache.Cache[Order], d deps) *api {
	a := &api{db: svc.DB, cache: c, deps: d, orders: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orders_total", Help: "Order creations by outcome (paid, replayed, rejected, unavailable).",
	}, []string{"outcome"})}
	svc.Metrics.Registry.MustRegister(a.orders)
	return a
}

func (a *api) routes() []app.Route {
	read := auth.Requirement{Scopes: []string{"orders:read"}}
	return []app.Route{
		{Pattern: "POST /api/v1/orders", Need: auth.Requirement{Scopes: []string{"orders:write"}}, Handler: a.create},
		{Pattern: "GET /api/v1/orders/{id}", Need: read, Handler: a.get},
		{Pattern: "GET /api/v1/orders", Need: read, Handler: a.listByUser},
	}
}

var skuRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

type input struct {
	UserID   string `json:"user_id"`
	Items    []Item `json:"items"`
	Currency string `json:"currency"`
}

func (in *input) validate() (int64, string) {
	if !app.IsUUID(in.UserID) {
		return 0, "user_id: must be a UUID"
	}
	if !app.IsCurrency(in.Currency) {
		return 0, "currency: must be an ISO 4217 code such as EUR"
	}
	if len(in.Items) == 0 || len(in.Items) > 100 {
		return 0, "items: 1 to 100 lines"
	}
	var total int64
	for i, it := range in.Items {
		if !skuRe.MatchString(it.SKU) || it.Quantity < 1 || it.Quantity > 1000 || it.UnitPriceCents < 1 || it.UnitPriceCents > 10_000_000 {
			return 0, fmt.Sprintf("items[%d]: sku, quantity (1-1000) and unit_price_cents (1-10000000) are required", i)
		}
		total += it.Quantity * it.UnitPriceCents
	}
	if total > 100_000_000 {
		return 0, "items: the order total exceeds the limit"
	}
	return total, ""
}

// errUnknownUser and errInProgress are answered 422 and 409 (a reused
// Idempotency-Key, idempotency.ErrKeyReused, 422 too).
var (
	errUnknownUser = errors.New("unknown user")
	errInProgress  = errors.New("an order with this Idempotency-Key is being processed")
)

func (a *api) create(w http.ResponseWriter, r *http.Request) {
	key, ok := idempotency.Key(w, r)
	if !ok {
		return
	}
	var in input
	if err := app.Decode(r, &in); err != nil {
		app.Problem(w, http.StatusBadRequest, err.Error())
		return
	}
	total, msg := in.validate()
	if msg != "" {
		app.Problem(w, http.StatusBadRequest, msg)
		return
	}
	claims, _ := auth.FromContext(r.Context())
	o, replayed, err := a.place(r.Context(), claims.Subject, key, in, total)
	switch {
	case err == nil && replayed:
		a.orders.WithLabelValues("replayed").Inc()
	case err == nil:
		a.orders.WithLabelValues("paid").Inc()
	case errors.Is(err, idempotency.ErrKeyReused):
		a.orders.WithLabelValues("rejected").Inc()
	}
	if !idempotency.Answer(w, o, replayed, err) {
		a.fail(w, err)
	}
}

// place creates the order once per (caller, key), checks the user, and
// charges it. A replay of a paid order returns it; a replay of one whose
// charge did not finish resumes the charge (payment is idempotent on the
// order id), so a retry after a 503 completes the same order.
func (a *api) place(ctx context.Context, subject, key string, in input, total int64) (Order, bool, error) {
	if err := a.deps.paymentBreaker.Open(); err != nil {
		return Order{}, false, err
	}
	ctx, span := tracer.Start(ctx, "order.create")
	defer span.End()
	span.SetAttributes(attribute.Int("order.items", len(in.Items)), attribute.String("order.currency", in.Currency))
	items, err := json.Marshal(in.Items)
	if err != nil {
		return Order{}, false, err
	}
	o, err := scanOrder(a.db.Pool().QueryRow(ctx, `INSERT INTO orders (idempotency_key, subject, user_id, items, total_cents, currency, status)
		VALUES ($1, $2, $3, $4, $5, $6, 'pending') ON CONFLICT (subject, idempotency_key) DO NOTHING RETURNING `+orderCols,
		key, subject, in.UserID, items, total, in.Currency))
	replayed := false
	if errors.Is(err, pgx.ErrNoRows) {
		replayed = true
		if o, err = scanOrder(a.db.Pool().QueryRow(ctx, "SELECT "+orderCols+" FROM orders WHERE subject = $1 AND idempotency_key = $2", subject, key)); err != nil {
			return Order{}, false, err
		}
		if o.UserID != in.UserID || o.TotalCents != total || o.Currency != in.Currency {
			return Order{}, false, idempotency.ErrKeyReused
		}
		if o.Status == "paid" {
			span.SetAttributes(attribute.Bool("order.replayed", true))
			return o, true, nil
		}
	} else if err != nil {
		return Order{}, false, err
	}
	if err := a.checkUser(ctx, in.UserID); err != nil {
		return Order{}, false, err
	}
	paymentID, err := a.charge(ctx, o)
	if err != nil {
		return Order{}, false, err
	}
	o, err = scanOrder(a.db.Pool().QueryRow(ctx,
		"UPDATE orders SET status = 'paid', payment_id = $2, updated_at = now() WHERE id = $1 RETURNING "+orderCols, o.ID, paymentID))
	if err != nil {
		return Order{}, false, err
	}
	a.cache.Invalidate(ctx, o.ID)
	return o, replayed, nil
}

func (a *api) checkUser(ctx context.Context, userID string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.deps.userURL+"/api/v1/users/"+userID, nil)
	if err != nil {
		return err
	}
	resp, err := a.deps.users.Do(req)
	if err != nil {
		return fmt.Errorf("user service: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusNotFound:
		return errUnknownUser
	default:
		return fmt.Errorf("user service answered %s", resp.Status)
	}
}

func (a *api) charge(ctx context.Context, o Order) (string, error) {
	body, err := json.Marshal(map[string]any{"order_id": o.ID, "amount_cents": o.TotalCents, "currency": o.Currency})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.deps.paymentURL+"/api/v1/payments", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(idempotency.Header, "order-"+o.ID)
	resp, err := a.deps.payments.Do(req)
	if err != nil {
		return "", fmt.Errorf("payment service: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("payment service answered %s", resp.Status)
	}
	var p struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || p.ID == "" {
		return "", fmt.Errorf("payment service: unreadable answer: %v", err)
	}
	return p.ID, nil
}

func (a *api) fail(w http.ResponseWriter, err error) {
	var open *resilience.OpenError
	switch {
	case errors.As(err, &open):
		a.orders.WithLabelValues("unavailable").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(open.RetryAfter.Seconds()))))
		app.Problem(w, http.StatusServiceUnavailable, open.Dependency+" is unavailable; retry with the same Idempotency-Key")
	case errors.Is(err, errUnknownUser):
		a.orders.WithLabelValues("rejected").Inc()
		app.Problem(w, http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, db.ErrNotFound):
		app.Problem(w, http.StatusNotFound, "no such order")
	case errors.Is(err, context.Canceled):
	default:
		a.orders.WithLabelValues("unavailable").Inc()
		w.Header().Set("Retry-After", "1")
		app.Problem(w, http.StatusServiceUnavailable, "a dependency is unavailable; retry with the same Idempotency-Key")
	}
}

const orderCols = "id::text, user_id::text, items, total_cents, currency, status, coalesce(payment_id, ''), created_at"

func scanOrder(row pgx.Row) (Order, error) {
	var o Order
	var items []byte
	if err := row.Scan(&o.ID, &o.UserID, &items, &o.TotalCents, &o.Currency, &o.Status, &o.PaymentID, &o.CreatedAt); err != nil {
		return o, err // pgx.ErrNoRows included: place() tells a replay by it
	}
	return o, json.Unmarshal(items, &o.Items)
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	id, ok := app.UUIDParam(w, "id", r.PathValue("id"))
	if !ok {
		return
	}
	o, err := a.cache.Get(r.Context(), id, func(ctx context.Context) (Order, error) {
		o, err := scanOrder(a.db.Pool().QueryRow(ctx, "SELECT "+orderCols+" FROM orders WHERE id = $1", id))
		if errors.Is(err, pgx.ErrNoRows) {
			return o, db.ErrNotFound
		}
		return o, err
	})
	if err != nil {
		a.fail(w, err)
		return
	}
	app.JSON(w, http.StatusOK, o)
}

func (a *api) listByUser(w http.ResponseWriter, r *http.Request) {
	user, ok := app.UUIDParam(w, "user", r.URL.Query().Get("user"))
	if !ok {
		return
	}
	rows, err := a.db.Pool().Query(r.Context(), "SELECT "+orderCols+" FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 100", user)
	if err != nil {
		a.fail(w, err)
		return
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Order, error) { return scanOrder(row) })
	if err != nil {
		a.fail(w, err)
		return
	}
	if out == nil {
		out = []Order{}
	}
	app.JSON(w, http.StatusOK, out)
}
