package main

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc"
)

// run's errors begin with the step that failed, once.
func TestStartUpErrorsNameTheStep(t *testing.T) {
	unreachable := "http://127.0.0.1:" + strconv.Itoa(testsvc.FreePort(t))
	t.Setenv("OIDC_ISSUER", unreachable)
	t.Setenv("OIDC_AUDIENCE", "user")
	t.Setenv("DB_CREDENTIALS_FILE", "/nonexistent/db.json")
	t.Setenv("REDIS_ADDR", "")
	err := run(context.Background(), io.Discard)
	if want := "OIDC discovery: issuer " + unreachable + ": "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("an unreachable issuer: %v, want an error beginning %q", err, want)
	}
	t.Setenv("CACHE_L1_TTL", "soon")
	if err := run(context.Background(), io.Discard); err == nil || !strings.HasPrefix(err.Error(), "configuration: CACHE_L1_TTL: ") {
		t.Errorf("a bad variable: %v, want an error beginning %q", err, "configuration: CACHE_L1_TTL: ")
	}
}
