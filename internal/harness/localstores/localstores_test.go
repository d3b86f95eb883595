package localstores

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A verifier PostgreSQL 15 made for the password "pencil" (CREATE ROLE x
// PASSWORD 'pencil'; SELECT rolpassword FROM pg_authid).
const pencil = "SCRAM-SHA-256$4096:t6206zK6LEIWitLC28pADw==$03gEg4oqfG7LYd3zfstlGzzlir+9LhhDw95q4B3EZGM=:c13cKW+X9p4lkhSk4mmqpfehxUfPwMJyewRvl/RTGs8="

func TestScramVerifierIsPostgreSQLs(t *testing.T) {
	if !scramMatches(pencil, "pencil") {
		t.Error("PostgreSQL's verifier of pencil does not match pencil")
	}
	for _, v := range []string{pencil, "", "md5abc", "SCRAM-SHA-256$x:y$z:w"} {
		if scramMatches(v, "pencil2") {
			t.Errorf("%q matches the wrong password", v)
		}
	}
	v, err := newScramVerifier("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "SCRAM-SHA-256$4096:") || !scramMatches(v, "s3cret") || scramMatches(v, "s3cret!") {
		t.Errorf("a new verifier %q does not verify its own password only", v)
	}
	if w, _ := newScramVerifier("s3cret"); w == v {
		t.Error("two verifiers of one password share their salt")
	}
}

// The app user is refused @dangerous commands; passwords appear only
// hashed; persistence is on.
func TestRedisConfig(t *testing.T) {
	conf := redisConfig("/state/stores/redis", 6390, "harness-pw", "app-pw")
	for _, want := range []string{
		"bind 127.0.0.1\n", "port 6390\n", `dir "/state/stores/redis"` + "\n", "appendonly yes\n", "save 3600 1 300 100 60 10000\n",
		"user default reset on #" + sha256Hex("harness-pw") + " ~* &* +@all\n",
		"user app reset on #" + sha256Hex("app-pw") + " ~* &* +@all -@dangerous\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("redis.conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "harness-pw") || strings.Contains(conf, "app-pw") {
		t.Errorf("redis.conf holds a password in clear:\n%s", conf)
	}
}

func TestPostgresSettings(t *testing.T) {
	args := strings.Join(pgArgs("/d", 5999), " ")
	for _, want := range []string{"-D /d", "-p 5999", "listen_addresses=127.0.0.1", "unix_socket_directories= ", "password_encryption=scram-sha-256"} {
		if !strings.Contains(args, want) {
			t.Errorf("postgres arguments lack %q: %s", want, args)
		}
	}
	for _, line := range strings.Split(pgHBA, "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			if f[0] != "host" || f[3] != "127.0.0.1/32" || f[4] != "scram-sha-256" {
				t.Errorf("pg_hba.conf allows more than SCRAM over loopback: %q", line)
			}
		}
	}
	if !strings.Contains(pgHBA, "host    replication  all   127.0.0.1/32   scram-sha-256") {
		t.Error("pg_hba.conf does not allow replication connections on loopback (pg_basebackup)")
	}
}

// The drill's verdict: identical sums pass, any difference fails with
// both sides.
func TestCompare(t *testing.T) {
	a := TableSum{Rows: 5000, Checksum: "9f1c"}
	if err := Compare(a, a); err != nil {
		t.Errorf("identical: %v", err)
	}
	for _, b := range []TableSum{{Rows: 4999, Checksum: "9f1c"}, {Rows: 5000, Checksum: "9f1d"}} {
		err := Compare(a, b)
		if !errors.Is(err, ErrRestoreDiffers) || !strings.Contains(err.Error(), b.Checksum) {
			t.Errorf("%+v against %+v: %v", b, a, err)
		}
	}
	r := &DrillResult{Original: a, Restored: a, BackupBytes: 3_100_000, BackupTime: 800e6, ReadyTime: 1200e6}
	if got, want := r.String(), "restore drill: 5000 rows, checksum 9f1c, base backup 3.1 MB in 0.8 s, restored instance ready in 1.2 s: identical"; got != want {
		t.Errorf("report %q, want %q", got, want)
	}
}

// A password is generated once, kept 0600 and reused.
func TestPasswordIsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pw")
	p1, err := password(path)
	if err != nil || len(p1) != 48 {
		t.Fatalf("%q %v", p1, err)
	}
	if p2, err := password(path); err != nil || p2 != p1 {
		t.Errorf("second read %q %v, want %q", p2, err, p1)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v %v", fi.Mode(), err)
	}
}
