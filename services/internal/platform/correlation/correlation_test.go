package correlation

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"0f8fad5b-d9cb-469f-a165-70867728950e", true},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAV", true},
		{"svc:order.1_a", true},
		{"", false},
		{"-starts-with-dash", false},
		{"has space", false},
		{"crlf\r\nSet-Cookie: x=1", false},
		{"<script>", false},
		{strings.Repeat("a", MaxLen), true},
		{strings.Repeat("a", MaxLen+1), false},
		{"ünïcode", false},
	}
	for _, tc := range tests {
		if _, ok := Parse(tc.in); ok != tc.ok {
			t.Errorf("Parse(%q) ok = %v, want %v", tc.in, ok, tc.ok)
		}
	}
	if _, ok := Parse(New()); !ok {
		t.Error("a generated ID does not parse")
	}
}

func serve(t *testing.T, header []string) (echoed, seen string) {
	t.Helper()
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = FromContext(r.Context()) }))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, v := range header {
		req.Header.Add(Header, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Header().Get(Header), seen
}

func TestMiddlewareKeepsAWellFormedID(t *testing.T) {
	echoed, seen := serve(t, []string{"abc-123"})
	if echoed != "abc-123" || seen != "abc-123" {
		t.Errorf("echoed %q, seen %q", echoed, seen)
	}
}

func TestMiddlewareReplacesBadOrAmbiguousIDs(t *testing.T) {
	for _, hdr := range [][]string{nil, {"bad id"}, {strings.Repeat("x", 500)}, {"a", "b"}} {
		echoed, seen := serve(t, hdr)
		if _, ok := Parse(echoed); !ok || echoed != seen || (len(hdr) == 1 && echoed == hdr[0]) {
			t.Errorf("header %q: echoed %q, seen %q", hdr, echoed, seen)
		}
	}
}

func TestTransportForwardsAndLogsCarryTheID(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get(Header) }))
	defer srv.Close()
	ctx := With(context.Background(), "req-42")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := (&http.Client{Transport: Transport{}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != "req-42" {
		t.Errorf("downstream saw %q", got)
	}
	if req.Header.Get(Header) != "" {
		t.Error("the caller's request was modified")
	}

	var buf bytes.Buffer
	log := slog.New(LogHandler{slog.NewJSONHandler(&buf, nil)})
	log.InfoContext(ctx, "hello")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["correlation_id"] != "req-42" {
		t.Errorf("log line %v", rec)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"abc", "", "a\r\nb", strings.Repeat("z", 70), "0f8fad5b-d9cb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := Parse(s)
		if !ok {
			return
		}
		if id != s || len(id) > MaxLen || strings.ContainsAny(id, " \r\n\t<>\"'") {
			t.Fatalf("accepted %q", s)
		}
	})
}
