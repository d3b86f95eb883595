// Package idempotency is the services' shared handling of the
// Idempotency-Key header on creations (order, payment): the key's syntax,
// the answer to a replay (the first result, 201, with
// Idempotent-Replayed: true) and to a key reused with a different request
// (422). Each service stores its results and compares a replay with the
// first request itself; what it answers is decided here, once.
package idempotency

import (
	"errors"
	"net/http"
	"regexp"

	"github.com/bulwark-platform/bulwark/services/internal/platform/app"
	"github.com/bulwark-platform/bulwark/services/internal/platform/resilience"
)

const (
	// Header carries the key (the resilience transport retries requests
	// that have one).
	Header = resilience.IdempotencyKeyHeader
	// ReplayedHeader marks an answer as the replay of a first result.
	ReplayedHeader = "Idempotent-Replayed"
	// KeyProblem is the 400 problem detail for a missing or malformed key.
	KeyProblem = "Idempotency-Key: required, 8 to 128 characters of [A-Za-z0-9._:-]"
	// ReusedProblem is the 422 problem detail for a key reused with a
	// different request.
	ReusedProblem = "Idempotency-Key reused with a different request"
)

// ErrKeyReused is returned (possibly wrapped) by a creation whose key was
// first used for a different request.
var ErrKeyReused = errors.New(ReusedProblem)

var keyRe = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,128}$`)

// Valid reports whether key is an acceptable Idempotency-Key.
func Valid(key string) bool { return keyRe.MatchString(key) }

// Key returns the request's Idempotency-Key; when it is missing or
// malformed it answers 400 itself and returns false.
func Key(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.Header.Get(Header)
	if !Valid(key) {
		app.Problem(w, http.StatusBadRequest, KeyProblem)
		return "", false
	}
	return key, true
}

// Answer writes the outcome of an idempotent creation: v with 201, marked
// Idempotent-Replayed when replayed; or 422 with ReusedProblem when err is
// ErrKeyReused. Any other error is left to the caller: Answer then writes
// nothing and returns false.
func Answer(w http.ResponseWriter, v any, replayed bool, err error) bool {
	switch {
	case errors.Is(err, ErrKeyReused):
		app.Problem(w, http.StatusUnprocessableEntity, ReusedProblem)
	case err != nil:
		return false
	default:
		if replayed {
			w.Header().Set(ReplayedHeader, "true")
		}
		app.JSON(w, http.StatusCreated, v)
	}
	return true
}
