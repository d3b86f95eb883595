package main

import (
	"strings"
	"testing"
)

func TestOrderInputValidation(t *testing.T) {
	const user = "0b7e1c7a-4f8e-4d55-9c1a-2f0d6f3c9e11"
	item := func(sku string, q, price int64) Item { return Item{SKU: sku, Quantity: q, UnitPriceCents: price} }
	many := make([]Item, 101)
	for i := range many {
		many[i] = item("sku", 1, 1)
	}
	for _, tc := range []struct {
		name  string
		in    input
		total int64
		field string // "" when valid
	}{
		{"valid, total summed", input{UserID: user, Currency: "EUR", Items: []Item{item("book-1", 2, 1250), item("pen", 1, 99)}}, 2599, ""},
		{"user id not a UUID", input{UserID: "42", Currency: "EUR", Items: []Item{item("a", 1, 1)}}, 0, "user_id"},
		{"user id with an injection", input{UserID: user + "'; --", Currency: "EUR", Items: []Item{item("a", 1, 1)}}, 0, "user_id"},
		{"lower-case currency", input{UserID: user, Currency: "eur", Items: []Item{item("a", 1, 1)}}, 0, "currency"},
		{"no items", input{UserID: user, Currency: "EUR"}, 0, "items"},
		{"101 lines", input{UserID: user, Currency: "EUR", Items: many}, 0, "items"},
		{"zero quantity", input{UserID: user, Currency: "EUR", Items: []Item{item("a", 0, 1)}}, 0, "items[0]"},
		{"negative price", input{UserID: user, Currency: "EUR", Items: []Item{item("a", 1, 1), item("b", 1, -5)}}, 0, "items[1]"},
		{"sku with a space", input{UserID: user, Currency: "EUR", Items: []Item{item("a b", 1, 1)}}, 0, "items[0]"},
		{"total over the limit", input{UserID: user, Currency: "EUR", Items: []Item{item("a", 1000, 10_000_000)}}, 0, "total exceeds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			total, msg := tc.in.validate()
			switch {
			case tc.field == "" && (msg != "" || total != tc.total):
				t.Errorf("got total %d, %q; want %d, valid", total, msg, tc.total)
			case tc.field != "" && !strings.Contains(msg, tc.field):
				t.Errorf("got %q, want an error naming %s", msg, tc.field)
			}
		})
	}
}
