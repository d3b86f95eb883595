package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc"
)

// The user service logs in to Redis as an ACL user (REDIS_USERNAME,
// REDIS_PASSWORD_FILE), over TLS with REDIS_TLS_CA_FILE, against real
// redis-servers that refuse anonymous clients: reads are served from
// Redis; a password rotation reaches new connections without a restart; a
// wrong password or an unverifiable certificate only degrades the service
// (reads come from PostgreSQL) and is logged, never a crash.
func TestRedisLoginRotationAndTLS(t *testing.T) {
	testsvc.Integration(t)
	ctx := context.Background()
	pg := testsvc.StartPostgres(t)
	pg.Exec("CREATE ROLE user_svc LOGIN PASSWORD 'pw-1'", "CREATE DATABASE users OWNER user_svc")
	hydra := testsvc.StartHydra(t)
	secret := hydra.Client("web", []string{"users:read", "users:write"}, []string{"user"})
	token := hydra.Token(ctx, "web", secret, []string{"users:read", "users:write"}, "user")
	creds := pg.CredentialsFile(t, "users", "user_svc", "pw-1")
	bin := testsvc.Build(t, ".")

	start := func(t *testing.T, redisAddr string, env ...string) *testsvc.Service {
		t.Helper()
		return testsvc.StartService(t, bin, testsvc.ServiceOptions{Issuer: hydra.Issuer, Audience: "user", Credentials: creds,
			// A tiny in-process TTL so reads really go to Redis.
			RedisAddr: redisAddr, Env: append([]string{"CACHE_L1_TTL=1ms", "DRAIN_DELAY=0s"}, env...)})
	}
	// One user to read, created without Redis.
	plain := start(t, "")
	code, created, _ := request(t, "POST", plain.URL+"/api/v1/users", token, `{"email":"redis-login@example.com","name":"Redis"}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, created)
	}
	plain.Kill()
	id := created["id"].(string)

	// readsServedFrom reads the user 20 times through svc (every read 200)
	// and reports whether Redis served any.
	readsServedFromRedis := func(t *testing.T, svc *testsvc.Service) bool {
		t.Helper()
		before := cacheReads(t, svc.MetricsURL, "l2")
		for range 20 {
			if code, got, _ := request(t, "GET", svc.URL+"/api/v1/users/"+id, token, ""); code != 200 || got["id"] != id {
				t.Fatalf("read: %d %v", code, got)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return cacheReads(t, svc.MetricsURL, "l2") > before
	}
	waitReadiness := func(t *testing.T, svc *testsvc.Service, want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, status := readiness(svc.URL)
			if code == http.StatusOK && status == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("readiness: %d %s, want 200 %s", code, status, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitLog := func(t *testing.T, svc *testsvc.Service, line string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(svc.Logs(), line) {
			if time.Now().After(deadline) {
				t.Fatalf("the log never said %s", line)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	t.Run("ACL login, rotation and a wrong password", func(t *testing.T) {
		r := testsvc.StartRedisWith(t, testsvc.RedisOptions{User: "user_svc", Password: "redis-pw-1"})
		password := writeSecret(t, "redis-pw-1")
		svc := start(t, r.Addr, "REDIS_USERNAME=user_svc", "REDIS_PASSWORD_FILE="+password)
		waitReadiness(t, svc, "up")
		if !readsServedFromRedis(t, svc) {
			t.Fatal("no read served from Redis with the ACL login")
		}

		// The rotation as a platform runs it: Redis accepts the new
		// password, the file follows, then the old password is removed.
		r.Do("ACL", "SETUSER", "user_svc", ">redis-pw-2")
		replaceSecret(t, password, "redis-pw-2")
		waitLog(t, svc, `"redis password reloaded"`)
		r.Do("ACL", "SETUSER", "user_svc", "<redis-pw-1")
		// Established connections stay logged in; drop them, so that every
		// read from now on needs a new connection and a login.
		r.Do("CLIENT", "KILL", "USER", "user_svc")
		waitReadiness(t, svc, "up")
		if !readsServedFromRedis(t, svc) {
			t.Error("no read served from Redis after the rotation: new connections don't use the new password")
		}
		if strings.Contains(svc.Logs(), "redis refused the login") {
			t.Error("a login was refused during the rotation")
		}

		// A wrong password: the service starts, readiness says degraded,
		// reads come from PostgreSQL, and the log says why. Writing the
		// right one into the file heals it without a restart.
		wrong := writeSecret(t, "not-the-password")
		bad := start(t, r.Addr, "REDIS_USERNAME=user_svc", "REDIS_PASSWORD_FILE="+wrong)
		waitReadiness(t, bad, "degraded")
		if readsServedFromRedis(t, bad) {
			t.Error("reads served from Redis with a wrong password")
		}
		waitLog(t, bad, `"redis refused the login (REDIS_USERNAME, REDIS_PASSWORD_FILE)"`)
		replaceSecret(t, wrong, "redis-pw-2")
		waitReadiness(t, bad, "up")
		if !readsServedFromRedis(t, bad) {
			t.Error("no read served from Redis once the password file was right")
		}
		waitLog(t, bad, `"redis accepts the connection again"`)
		if logs := svc.Logs() + bad.Logs(); strings.Contains(logs, "redis-pw-") || strings.Contains(logs, "not-the-password") {
			t.Error("a Redis password reached the log")
		}
	})

	t.Run("TLS with an ACL login", func(t *testing.T) {
		r := testsvc.StartRedisWith(t, testsvc.RedisOptions{User: "user_svc", Password: "redis-pw-1", TLS: true})
		password := writeSecret(t, "redis-pw-1")
		svc := start(t, r.Addr, "REDIS_USERNAME=user_svc", "REDIS_PASSWORD_FILE="+password, "REDIS_TLS_CA_FILE="+r.CAFile)
		waitReadiness(t, svc, "up")
		if !readsServedFromRedis(t, svc) {
			t.Fatal("no read served from Redis over TLS")
		}

		// A server whose certificate the CA didn't sign is not trusted: the
		// service degrades and says so.
		other := testsvc.NewCA(t)
		bad := start(t, r.Addr, "REDIS_USERNAME=user_svc", "REDIS_PASSWORD_FILE="+password, "REDIS_TLS_CA_FILE="+other.File)
		waitReadiness(t, bad, "degraded")
		if readsServedFromRedis(t, bad) {
			t.Error("reads served from a Redis whose certificate does not verify")
		}
		waitLog(t, bad, `"redis's TLS certificate does not verify (REDIS_TLS_CA_FILE, REDIS_ADDR)"`)

		// Plain text to the TLS port doesn't get in either.
		noTLS := start(t, r.Addr, "REDIS_USERNAME=user_svc", "REDIS_PASSWORD_FILE="+password)
		waitReadiness(t, noTLS, "degraded")
	})
}

// writeSecret writes a secret file, as a mounted Secret holds one.
func writeSecret(t *testing.T, value string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "password")
	replaceSecret(t, path, value)
	return path
}

// replaceSecret replaces the file's content atomically (write, then
// rename), as the kubelet and the Vault agent do.
func replaceSecret(t *testing.T, path, value string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}
