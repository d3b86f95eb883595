package policyreport

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
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
		// The identity provider, a peer of every service: the operator's
		// Keycloak from dev up, the runner's Hydra on loopback below.
		idp := regexp.MustCompile(`(?m)^user\.shop +identity\.identity +8443 +- `)
		if stack == "local" || stack == "ci" {
			idp = regexp.MustCompile(`(?m)^pods of shop selected by user-to-identity +127\.0\.0\.1/32 +any +- `)
		}
		for _, want := range []*regexp.Regexp{
			// Beside the mesh and network allows, the client and scopes
			// that authorize each call.
			regexp.MustCompile(`(?m)^FROM +TO +PORT +METHODS +PATHS +CLIENT +SCOPES$`),
			regexp.MustCompile(`(?m)^gateway\.istio-ingress +order\.shop +8080 +POST +/api/v1/orders +bulwark-web +orders:write$`),
			regexp.MustCompile(`(?m)^order\.shop +payment\.payments +8080 +POST +/api/v1/payments +order +payments:write$`),
			idp,
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
	if d := policyeval.DiffAuthorized(head, r); len(d) != 0 || len(r.Rows) == 0 || !slices.ContainsFunc(r.Rows, func(row policyeval.Row) bool { return row.Client != "" }) {
		t.Errorf("JSON report differs or lacks the identity columns: %v", d)
	}
}

func TestUnknownStackIsNamed(t *testing.T) {
	err := Run(t.Context(), Options{Root: filepath.Join("..", "..", ".."), Stack: "qa"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "stack qa") {
		t.Fatalf("got %v", err)
	}
}
