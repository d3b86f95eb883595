package testsvc

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// HydraOptions configure StartHydraWith.
type HydraOptions struct {
	// PublicPort is the public port (0: a free one): known before the
	// start when the issuer, built from it, is part of a compiled model.
	PublicPort int
	// Config is a Hydra configuration file (YAML), passed with --config:
	// the identity model's server settings. With it, the issuer and the
	// access-token strategy are the file's (Hydra's environment would win
	// over the file, so StartHydra's are left out).
	Config []byte
	// Env adds Hydra settings as environment variables, which win over
	// the file (a later one over an earlier one): the login and consent
	// URLs.
	Env []string
}

// StartHydraWith runs `hydra serve all --dev` in memory, as StartHydra
// does, with the settings of o. The issuer is URLS_SELF_ISSUER when o.Env
// sets it, else the public URL; Issuer is what discovery answers.
func StartHydraWith(t testing.TB, o HydraOptions) *Hydra {
	t.Helper()
	bin, ok := hydraBinary()
	if !ok {
		t.Skip("Ory Hydra is not built (hack/tools.sh hydra; make tools does)")
	}
	pub, adm := o.PublicPort, FreePort(t)
	if pub == 0 {
		pub = FreePort(t)
	}
	h := &Hydra{t: t, public: "http://127.0.0.1:" + strconv.Itoa(pub), admin: "http://127.0.0.1:" + strconv.Itoa(adm), logs: &strings.Builder{}}
	args := []string{"serve", "all", "--dev"}
	env := append(os.Environ(),
		"DSN=memory", "SECRETS_SYSTEM=bulwark-test-system-secret-0123456789",
		"SERVE_PUBLIC_PORT="+strconv.Itoa(pub), "SERVE_PUBLIC_HOST=127.0.0.1",
		"SERVE_ADMIN_PORT="+strconv.Itoa(adm), "SERVE_ADMIN_HOST=127.0.0.1",
		"LOG_LEVEL=warn",
	)
	if o.Config != nil {
		file := filepath.Join(t.TempDir(), "hydra.yaml")
		if err := os.WriteFile(file, o.Config, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", file)
	} else {
		env = append(env, "URLS_SELF_ISSUER="+h.public, "STRATEGIES_ACCESS_TOKEN=jwt")
	}
	h.cmd = exec.Command(bin, args...)
	h.cmd.Env = append(env, o.Env...)
	h.cmd.Stdout, h.cmd.Stderr = h.logs, h.logs
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("starting hydra: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = h.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = h.cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("--- hydra log ---\n%s", h.logs.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(h.public + "/.well-known/openid-configuration")
		if err == nil {
			var d struct {
				Issuer string `json:"issuer"`
			}
			err = json.NewDecoder(resp.Body).Decode(&d)
			resp.Body.Close()
			if err == nil && d.Issuer != "" {
				h.Issuer = d.Issuer
				return h
			}
		}
		select {
		case <-exited:
			t.Fatalf("hydra exited before serving discovery:\n%s", h.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hydra never served discovery: %v\n%s", err, h.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// PublicURL and AdminURL are Hydra's public and admin base URLs.
func (h *Hydra) PublicURL() string { return h.public }

// AdminURL is the admin API's base URL.
func (h *Hydra) AdminURL() string { return h.admin }

// Admin sends body as JSON to the admin API (method path), fails the
// test unless the answer's status is want, and returns the answer's body.
func (h *Hydra) Admin(method, path string, body any, want int, what string) []byte {
	h.t.Helper()
	return h.adminCall(method, path, body, want, what)
}
