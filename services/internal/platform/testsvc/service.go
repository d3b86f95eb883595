package testsvc

import (
	"strconv"
	"testing"
)

// ServiceOptions configure a service process the way the platform does,
// through contract.Common's environment variables (the rest go in Env).
type ServiceOptions struct {
	// Issuer and Audience: OIDC_ISSUER, OIDC_AUDIENCE.
	Issuer, Audience string
	// Credentials: DB_CREDENTIALS_FILE.
	Credentials *CredentialsFile
	// RedisAddr: REDIS_ADDR; empty for none.
	RedisAddr string
	// Env adds variables; a later one wins over an earlier one of the same
	// name (os/exec keeps the last).
	Env []string
}

// Service is a running service with its addresses.
type Service struct {
	*Process
	// URL serves the API and health; MetricsURL is the /metrics endpoint.
	URL, MetricsURL string
}

// StartService runs the service binary bin on free loopback ports and
// waits for its readiness.
func StartService(t testing.TB, bin string, o ServiceOptions) *Service {
	t.Helper()
	port, metrics := FreePort(t), FreePort(t)
	s := &Service{URL: "http://127.0.0.1:" + strconv.Itoa(port), MetricsURL: "http://127.0.0.1:" + strconv.Itoa(metrics) + "/metrics"}
	env := []string{"BIND_HOST=127.0.0.1", "HTTP_PORT=" + strconv.Itoa(port), "METRICS_PORT=" + strconv.Itoa(metrics),
		"OIDC_ISSUER=" + o.Issuer, "OIDC_AUDIENCE=" + o.Audience}
	if o.Credentials != nil {
		env = append(env, "DB_CREDENTIALS_FILE="+o.Credentials.Path)
	}
	if o.RedisAddr != "" {
		env = append(env, "REDIS_ADDR="+o.RedisAddr)
	}
	s.Process = StartProcess(t, bin, s.URL+"/health/ready", append(env, o.Env...)...)
	return s
}
