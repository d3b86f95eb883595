package idempotency

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func problem(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want a problem document", ct)
	}
	var p map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	return p
}

func TestKey(t *testing.T) {
	for _, tc := range []struct {
		header string
		ok     bool
	}{{"order-0b7e1c7a", true}, {"key-00000001", true}, {"", false}, {"k1", false}, {"key with spaces", false}, {string(make([]byte, 129)), false}} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		if tc.header != "" {
			r.Header.Set(Header, tc.header)
		}
		rec := httptest.NewRecorder()
		key, ok := Key(rec, r)
		if ok != tc.ok || (ok && key != tc.header) {
			t.Errorf("%q: got %q %v, want ok %v", tc.header, key, ok, tc.ok)
		}
		if ok && rec.Body.Len() != 0 {
			t.Errorf("%q: a valid key was answered: %s", tc.header, rec.Body)
		}
		if !ok {
			if p := problem(t, rec); rec.Code != 400 || p["detail"] != KeyProblem || p["status"] != 400.0 {
				t.Errorf("%q: %d %v, want 400 with %q", tc.header, rec.Code, p, KeyProblem)
			}
		}
	}
}

func TestAnswer(t *testing.T) {
	type thing struct {
		ID string `json:"id"`
	}
	rec := httptest.NewRecorder()
	if !Answer(rec, thing{"a"}, false, nil) || rec.Code != 201 || rec.Header().Get(ReplayedHeader) != "" || rec.Body.String() != "{\"id\":\"a\"}\n" {
		t.Errorf("first request: %d %v %q", rec.Code, rec.Header(), rec.Body)
	}

	rec = httptest.NewRecorder()
	if !Answer(rec, thing{"a"}, true, nil) || rec.Code != 201 || rec.Header().Get(ReplayedHeader) != "true" || rec.Body.String() != "{\"id\":\"a\"}\n" {
		t.Errorf("replay: %d %v %q", rec.Code, rec.Header(), rec.Body)
	}

	reused := fmt.Errorf("charge for order-1: %w", ErrKeyReused)
	if !errors.Is(reused, ErrKeyReused) {
		t.Fatal("a wrapped ErrKeyReused does not match")
	}
	rec = httptest.NewRecorder()
	if !Answer(rec, thing{}, false, reused) || rec.Code != 422 || rec.Header().Get(ReplayedHeader) != "" {
		t.Errorf("reused key: %d %v", rec.Code, rec.Header())
	}
	if p := problem(t, rec); p["detail"] != ReusedProblem || p["status"] != 422.0 {
		t.Errorf("reused key: %v, want the one problem text %q (not the wrapped error's)", p, ReusedProblem)
	}

	rec = httptest.NewRecorder()
	if Answer(rec, thing{}, false, errors.New("storage down")) || rec.Body.Len() != 0 || len(rec.Header()) != 0 {
		t.Errorf("another error was answered: %d %q", rec.Code, rec.Body)
	}
}
