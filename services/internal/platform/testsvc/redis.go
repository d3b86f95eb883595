// Package testsvc starts real servers for tests: redis-server (and, as
// the services land, PostgreSQL and Ory Hydra) as processes on free
// loopback ports. A test skips when the server's binary is not installed;
// .ci/run installs every one of them.
package testsvc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a redis-server process.
type Redis struct {
	Addr string
	// CAFile is the CA certificate (PEM) the server's certificate chains
	// to, when it serves TLS.
	CAFile string
	opts   RedisOptions
	ca     *CA
	conf   string
	port   int
	cmd    *exec.Cmd
	t      testing.TB
}

// RedisOptions configure StartRedisWith. The zero value is StartRedis's
// server: plain text, the default user without a password.
type RedisOptions struct {
	// User and Password, when User is set, create an ACL user allowed
	// every command on every key and channel (what a service's Redis login
	// is given), and turn the default user off: a client must log in.
	User, Password string
	// TLS serves TLS only (no plain-text port), with a certificate for
	// 127.0.0.1 from a fresh CA (Redis.CAFile). Clients aren't asked for
	// certificates.
	TLS bool
}

// admin is the test's own login when the default user is off.
const (
	redisAdmin         = "bulwark-test-admin"
	redisAdminPassword = "admin-test-password"
)

// FreePort returns a loopback port nobody listens on.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartRedis starts a throwaway redis-server; it stops with the test.
func StartRedis(t testing.TB) *Redis { t.Helper(); return StartRedisWith(t, RedisOptions{}) }

// StartRedisWith starts a throwaway redis-server configured by o; it
// stops with the test.
func StartRedisWith(t testing.TB, o RedisOptions) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed (apt-get install redis-server; .ci/run does)")
	}
	r := &Redis{port: FreePort(t), t: t, opts: o}
	r.Addr = "127.0.0.1:" + strconv.Itoa(r.port)
	// The configuration goes in a file, not on the command line, so the
	// passwords don't show in the process list.
	port := "port " + strconv.Itoa(r.port) + "\n"
	conf := "bind 127.0.0.1\nsave \"\"\nappendonly no\nprotected-mode yes\n"
	if o.TLS {
		r.ca = NewCA(t)
		r.CAFile = r.ca.File
		cert, key := r.ca.Issue(t, "127.0.0.1")
		port = "port 0\ntls-port " + strconv.Itoa(r.port) + "\n"
		conf += fmt.Sprintf("tls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\ntls-auth-clients no\n", cert, key, r.CAFile)
	}
	if o.User != "" {
		conf += fmt.Sprintf("user default off\nuser %s on >%s ~* &* +@all\nuser %s on >%s ~* &* +@all\n",
			redisAdmin, redisAdminPassword, o.User, o.Password)
	}
	r.conf = filepath.Join(t.TempDir(), "redis.conf")
	if err := os.WriteFile(r.conf, []byte(port+conf), 0o600); err != nil {
		t.Fatal(err)
	}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Pool holds the CA the server's certificate chains to (nil without TLS).
func (r *Redis) Pool() *x509.CertPool {
	if r.ca == nil {
		return nil
	}
	return r.ca.Pool
}

// Client is a client with the test's own rights (the admin login when the
// default user is off, TLS when the server serves it); the caller closes it.
func (r *Redis) Client() *redis.Client {
	o := &redis.Options{Addr: r.Addr}
	if r.opts.User != "" {
		o.Username, o.Password = redisAdmin, redisAdminPassword
	}
	if r.opts.TLS {
		o.TLSConfig = &tls.Config{RootCAs: r.ca.Pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	}
	return redis.NewClient(o)
}

// Do runs one command with the test's own rights and fails the test on
// an error: ACL SETUSER, CLIENT KILL and the like.
func (r *Redis) Do(args ...any) any {
	r.t.Helper()
	c := r.Client()
	defer c.Close()
	v, err := c.Do(context.Background(), args...).Result()
	if err != nil {
		r.t.Fatalf("redis %v: %v", args, err)
	}
	return v
}

// Start (re)starts the server on its port and waits for PING. ACL
// changes made with Do since the last start are lost.
func (r *Redis) Start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", r.conf)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("starting redis-server: %v", err)
	}
	c := r.Client()
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s never answered", r.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (a crash, for fault tests).
func (r *Redis) Stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// String is the address.
func (r *Redis) String() string { return fmt.Sprintf("redis %s", r.Addr) }
