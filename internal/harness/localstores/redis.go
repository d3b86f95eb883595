package localstores

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bulwark-platform/bulwark/internal/harness/proc"
)

// RedisSnapshots are the RDB save points: after an hour if a key changed,
// five minutes if 100 did, a minute if 10000 did.
const RedisSnapshots = "3600 1 300 100 60 10000"

// redisConfig is the server's whole configuration. Passwords appear only
// as SHA-256 hashes; the `app` user may run everything but @dangerous
// commands (KEYS, FLUSHALL, FLUSHDB, CONFIG, DEBUG, SHUTDOWN...).
func redisConfig(dir string, port int, harnessPassword, appPassword string) string {
	return fmt.Sprintf(`# Written by Bulwark's local stores (internal/harness/localstores) at each start.
bind 127.0.0.1
port %d
protected-mode yes
daemonize no
logfile ""
dir %s
appendonly yes
appendfsync everysec
save %s
user %s reset on #%s ~* &* +@all
user %s reset on #%s ~* &* +@all -@dangerous
`, port, strconv.Quote(dir), RedisSnapshots, RedisHarnessUser, sha256Hex(harnessPassword), RedisAppUser, sha256Hex(appPassword))
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// startRedis starts the store's Redis on a free port.
func (s *Stores) startRedis(ctx context.Context, previousPort int) error {
	sd := s.stateDir()
	if err := proc.Stop(sd, RedisProcess, syscall.SIGTERM, 30*time.Second); err != nil {
		return err
	}
	harness, err := password(s.RedisPasswordFile)
	if err != nil {
		return err
	}
	app, err := password(s.RedisAppPasswordFile)
	if err != nil {
		return err
	}
	data := s.redisData()
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	p, err := port(previousPort)
	if err != nil {
		return err
	}
	s.Redis = Endpoint{Host: "127.0.0.1", Port: p}
	conf := filepath.Join(s.dir, "redis.conf")
	if err := proc.WriteFile(conf, redisConfig(data, s.Redis.Port, harness, app), 0o600); err != nil {
		return err
	}
	s.logf("starting Redis on %s", s.Redis.Address())
	if err := proc.Start(sd, proc.Spec{Name: RedisProcess, Path: s.bins.RedisServer, Args: []string{conf}, Dir: data}); err != nil {
		return err
	}
	return waitFor(ctx, sd, RedisProcess, 60*time.Second, func(ctx context.Context) error {
		_, err := RedisCommand(ctx, s.Redis, RedisHarnessUser, harness, "PING")
		return err
	})
}

// RedisCommand runs one command on Redis at e as user (no AUTH when
// password is empty) and returns its reply, a simple string, an integer or
// a bulk string; an error reply is an error.
func RedisCommand(ctx context.Context, e Endpoint, user, password string, args ...string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.Address())
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	}
	r := bufio.NewReader(conn)
	if password != "" {
		if _, err := redisRoundTrip(conn, r, "AUTH", user, password); err != nil {
			return "", fmt.Errorf("AUTH as %s: %w", user, err)
		}
	}
	return redisRoundTrip(conn, r, args...)
}

func redisRoundTrip(conn net.Conn, r *bufio.Reader, args ...string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err // a nil bulk string is ""
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unsupported reply %q", line)
}
