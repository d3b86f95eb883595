package app

import (
	"net/http"
	"regexp"
	"strings"
)

var (
	uuidRe     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
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

// IsCurrency reports whether s looks like an ISO 4217 code.
func IsCurrency(s string) bool { return currencyRe.MatchString(s) }
