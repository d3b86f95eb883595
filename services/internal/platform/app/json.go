package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

// Problem writes an RFC 9457 problem document.
func Problem(w http.ResponseWriter, code int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(code)
	_ = jsonEncode(w, map[string]any{"title": http.StatusText(code), "status": code, "detail": detail})
}

// MaxBody bounds a request body.
const MaxBody = 64 << 10

// Decode reads a JSON body strictly: bounded size, no unknown fields, one
// value. The error names the problem for a 400.
func Decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("body exceeds %d bytes", MaxBody)
		}
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	if dec.More() {
		return errors.New("invalid JSON body: more than one value")
	}
	return nil
}
