package main

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/bulwark-platform/bulwark/services/internal/platform/app"
	"github.com/bulwark-platform/bulwark/services/internal/platform/auth"
	"github.com/bulwark-platform/bulwark/services/internal/platform/cache"
	"github.com/bulwark-platform/bulwark/services/internal/platform/db"
)

var tracer = otel.Tracer("github.com/bulwark-platform/bulwark/services/user")

type api struct {
	store store
	cache *cache.Cache[User]
}

// routes is the user service's route table: every route and what a
// caller needs for it, in one place.
func (a *api) routes() []app.Route {
	read := auth.Requirement{Scopes: []string{"users:read"}}
	write := auth.Requirement{Scopes: []string{"users:write"}}
	return []app.Route{
		{Pattern: "POST /api/v1/users", Need: write, Handler: a.create},
		{Pattern: "GET /api/v1/users", Need: auth.Requirement{Scopes: []string{"users:read"}, Roles: []string{"admin"}}, Handler: a.list},
		{Pattern: "GET /api/v1/users/{id}", Need: read, Handler: a.get},
		{Pattern: "PUT /api/v1/users/{id}", Need: write, Handler: a.update},
		{Pattern: "DELETE /api/v1/users/{id}", Need: write, Handler: a.delete},
	}
}

type input struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

func (in *input) validate() string {
	addr, err := mail.ParseAddress(in.Email)
	if err != nil || addr.Address != in.Email || len(in.Email) > 254 {
		return "email: must be a plain address such as ada@example.com"
	}
	in.Name = strings.TrimSpace(in.Name)
	if n := utf8.RuneCountInString(in.Name); n < 1 || n > 200 {
		return "name: must be 1 to 200 characters"
	}
	return ""
}

// readInput decodes and validates a create or update body, answering 400
// itself when it is bad.
func readInput(w http.ResponseWriter, r *http.Request) (input, bool) {
	var in input
	if err := app.Decode(r, &in); err != nil {
		app.Problem(w, http.StatusBadRequest, err.Error())
		return in, false
	}
	if msg := in.validate(); msg != "" {
		app.Problem(w, http.StatusBadRequest, msg)
		return in, false
	}
	return in, true
}

func (a *api) create(w http.ResponseWriter, r *http.Request) {
	in, ok := readInput(w, r)
	if !ok {
		return
	}
	u, err := a.store.create(r.Context(), in.Email, in.Name)
	a.respond(w, r, http.StatusCreated, u, err)
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	id, ok := app.UUIDParam(w, "id", r.PathValue("id"))
	if !ok {
		return
	}
	u, err := a.lookup(r.Context(), id)
	a.respond(w, r, http.StatusOK, u, err)
}

// lookup is the business operation other services call through GET.
func (a *api) lookup(ctx context.Context, id string) (User, error) {
	ctx, span := tracer.Start(ctx, "user.lookup")
	defer span.End()
	u, err := a.cache.Get(ctx, id, func(ctx context.Context) (User, error) { return a.store.get(ctx, id) })
	span.SetAttributes(attribute.Bool("user.found", err == nil))
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		span.SetStatus(codes.Error, "lookup failed")
	}
	return u, err
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	users, err := a.store.list(r.Context(), 100)
	a.respond(w, r, http.StatusOK, users, err)
}

func (a *api) update(w http.ResponseWriter, r *http.Request) {
	id, ok := app.UUIDParam(w, "id", r.PathValue("id"))
	if !ok {
		return
	}
	in, ok := readInput(w, r)
	if !ok {
		return
	}
	u, err := a.store.update(r.Context(), id, in.Email, in.Name)
	a.cache.Invalidate(r.Context(), id)
	a.respond(w, r, http.StatusOK, u, err)
}

func (a *api) delete(w http.ResponseWriter, r *http.Request) {
	id, ok := app.UUIDParam(w, "id", r.PathValue("id"))
	if !ok {
		return
	}
	err := a.store.delete(r.Context(), id)
	a.cache.Invalidate(r.Context(), id)
	if err == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	a.respond(w, r, 0, nil, err)
}

func (a *api) respond(w http.ResponseWriter, r *http.Request, code int, v any, err error) {
	switch {
	case err == nil:
		app.JSON(w, code, v)
	case errors.Is(err, db.ErrNotFound):
		app.Problem(w, http.StatusNotFound, "no such user")
	case errors.Is(err, errConflict):
		app.Problem(w, http.StatusConflict, errConflict.Error())
	case errors.Is(err, context.Canceled):
	default:
		w.Header().Set("Retry-After", "1")
		app.Problem(w, http.StatusServiceUnavailable, "storage unavailable, retry later")
	}
}
