package app

import (
	"net/http"
	"regexp"
	"strings"
)

var (
	uuidRe     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	keyRe      = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,128}$`)
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
)

// IsUUID reports whether s is a lower-case UUID, the form ids take here.
func IsUUID(s string) bool { return uuidRe.MatchString(s) }

// UUIDParam returns value, a path or query parameter called name, as the
// lower-case UUID it must be; otherwise it answers 400 naming the
// parameter and returns false.
func UUIDParam(w http.ResponseWriter, name, value string) (string, bool) {
	id := strings.ToLower(value)
	if !IsUUID(id) {
		Problem(w, http.StatusBadRequest, name+": must be a UUID")
		return "", false
	}
	return id, true
}

// IsIdempotencyKey reports whether s is an acceptable Idempotency-Key:
// 8 to 128 characters of [A-Za-z0-9._:-].
func IsIdempotencyKey(s string) bool { return keyRe.MatchString(s) }

// IsCurrency reports whether s looks like an ISO 4217 code.
func IsCurrency(s string) bool { return currencyRe.MatchString(s) }
