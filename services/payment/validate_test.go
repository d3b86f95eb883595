package main

import (
	"strings"
	"testing"
)

func TestChargeInputValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    chargeInput
		field string // "" when valid
	}{
		{"valid", chargeInput{OrderID: "order-1", AmountCents: 2500, Currency: "EUR"}, ""},
		{"the largest amount", chargeInput{OrderID: "o", AmountCents: 100_000_000, Currency: "USD"}, ""},
		{"no order id", chargeInput{AmountCents: 1, Currency: "EUR"}, "order_id"},
		{"order id over 64", chargeInput{OrderID: strings.Repeat("o", 65), AmountCents: 1, Currency: "EUR"}, "order_id"},
		{"zero amount", chargeInput{OrderID: "o", Currency: "EUR"}, "amount_cents"},
		{"negative amount", chargeInput{OrderID: "o", AmountCents: -1, Currency: "EUR"}, "amount_cents"},
		{"amount over the limit", chargeInput{OrderID: "o", AmountCents: 100_000_001, Currency: "EUR"}, "amount_cents"},
		{"lower-case currency", chargeInput{OrderID: "o", AmountCents: 1, Currency: "eur"}, "currency"},
		{"four-letter currency", chargeInput{OrderID: "o", AmountCents: 1, Currency: "EURO"}, "currency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := tc.in.validate()
			if (tc.field == "" && msg != "") || (tc.field != "" && !strings.HasPrefix(msg, tc.field+":")) {
				t.Errorf("got %q, want %q", msg, tc.field)
			}
		})
	}
}
