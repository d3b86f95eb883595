package policyreport

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bulwark-platform/bulwark/infra/policyeval"
)

func TestReportOfEveryStackMatchesItsGraph(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	for _, stack := range []string{"local", "ci", "dev", "staging", "prod"} {
		var out bytes.Buffer
		if err := Run(t.Context(), Options{Root: root, Stack: stack}, &out); err != nil {
			t.Fatalf("%s: %v\n%s", stack, err, out.String())
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^gateway\.istio-ingress +order\.shop +8080 +POST +/api/v1/orders$`),
			regexp.MustCompile(`(?m)^order\.shop +payment\.payments +8080 +POST`),
			regexp.MustCompile(`permits exactly the service graph`),
		} {
			if !want.MatchString(out.String()) {
				t.Errorf("%s: report lacks %s:\n%s", stack, want, out.String())
			}
		}
	}
}

func TestJSONRoundTrips(t *testing.T) {
	var out bytes.Buffer
	if err := Run(t.Context(), Options{Root: filepath.Join("..", "..", ".."), Stack: "prod", JSON: true}, &out); err != nil {
		t.Fatal(err)
	}
	var r policyeval.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	head, _, err := Compile(filepath.Join("..", "..", ".."), "prod")
	if err != nil {
		t.Fatal(err)
	}
	if d := policyeval.Diff(head, r); len(d) != 0 || len(r.Rows) == 0 {
		t.Errorf("JSON report differs: %v", d)
	}
}

func TestUnknownStackIsNamed(t *testing.T) {
	err := Run(t.Context(), Options{Root: filepath.Join("..", "..", ".."), Stack: "qa"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "stack qa") {
		t.Fatalf("got %v", err)
	}
}
