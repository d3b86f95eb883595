package main

import (
	"strings"
	"testing"
)

func TestUserInputValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    input
		field string // "" when valid
		want  string // the name after validation
	}{
		{"valid, name trimmed", input{Email: "ada@example.com", Name: "  Ada Lovelace "}, "", "Ada Lovelace"},
		{"unicode name", input{Email: "zoe@example.com", Name: "Zoë Ångström"}, "", "Zoë Ångström"},
		{"display-name form", input{Email: "Ada <ada@example.com>", Name: "Ada"}, "email", ""},
		{"no at sign", input{Email: "ada.example.com", Name: "Ada"}, "email", ""},
		{"header injection", input{Email: "ada@example.com\r\nBcc: x@evil.example", Name: "Ada"}, "email", ""},
		{"over 254 characters", input{Email: strings.Repeat("a", 250) + "@example.com", Name: "Ada"}, "email", ""},
		{"blank name", input{Email: "ada@example.com", Name: "   "}, "name", ""},
		{"name over 200 characters", input{Email: "ada@example.com", Name: strings.Repeat("é", 201)}, "name", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			msg := in.validate()
			switch {
			case tc.field == "" && (msg != "" || in.Name != tc.want):
				t.Errorf("got %q (name %q), want valid with name %q", msg, in.Name, tc.want)
			case tc.field != "" && !strings.HasPrefix(msg, tc.field+":"):
				t.Errorf("got %q, want an error naming %s", msg, tc.field)
			}
		})
	}
}
