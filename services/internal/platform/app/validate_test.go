package app

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestUUIDParam(t *testing.T) {
	for _, tc := range []struct {
		value, want string
		ok          bool
	}{
		{"0B7E1C7A-4F8E-4D55-9C1A-2F0D6F3C9E11", "0b7e1c7a-4f8e-4d55-9c1a-2f0d6f3c9e11", true},
		{"", "", false},
		{"42", "", false},
		{"0b7e1c7a-4f8e-4d55-9c1a-2f0d6f3c9e11' OR '1'='1", "", false},
	} {
		w := httptest.NewRecorder()
		got, ok := UUIDParam(w, "user", tc.value)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: got %q %v, want %q %v", tc.value, got, ok, tc.want, tc.ok)
		}
		if !ok && (w.Code != 400 || !strings.Contains(w.Body.String(), `"user: must be a UUID"`)) {
			t.Errorf("%q: answered %d %s, want 400 naming the parameter", tc.value, w.Code, w.Body)
		}
	}
}
