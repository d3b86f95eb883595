// Package localstores runs the local cluster's data stores, PostgreSQL and
// Redis, as detached processes on loopback beside its control plane (the
// Debian binaries, no containers): data under <stateDir>/stores, logs and
// pid files with the cluster's, authentication always on. A stopped store
// keeps its data and resumes on the next Up, on its previous port when it
// is still free, else on a new free one.
//
// PostgreSQL takes SCRAM passwords over TCP only (no Unix socket); its
// superuser's generated password is in credentials/postgres-superuser.
// Redis has a `default` user for the harness and an `app` user refused
// every @dangerous command (KEYS, FLUSHALL, FLUSHDB, CONFIG...), both with
// generated passwords in credentials/, and persists with an append-only
// file and RDB snapshots.
//
// Provision applies the data model's psql script (infra/datastore) and
// gives each role a stored password; RestoreDrill proves a base backup
// restores.
package localstores

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bulwark-platform/bulwark/internal/harness/proc"
)

// Process names (pid files, logs) in the state folder.
const (
	PostgresProcess = "postgres"
	RedisProcess    = "redis-server"
	// drillProcess is the restore drill's PostgreSQL, while a drill runs.
	drillProcess = "postgres-restore-drill"
)

// PostgresSuperuser is the local PostgreSQL's superuser.
const PostgresSuperuser = "postgres"

// Redis users.
const (
	RedisHarnessUser = "default"
	RedisAppUser     = "app"
)

// Options locate the stores.
type Options struct {
	// StateDir is the local cluster's state folder: data in stores/, logs
	// in logs/, pid files in pids/.
	StateDir string
	// Binaries, when nil, are found by FindBinaries.
	Binaries *Binaries
	// Log receives progress lines; nil discards them.
	Log func(format string, args ...any)
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// Endpoint is a store's loopback address.
type Endpoint struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

// Address is host:port.
func (e Endpoint) Address() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// Stores are running local data stores.
type Stores struct {
	// Postgres and Redis are where they listen.
	Postgres Endpoint `json:"postgres"`
	Redis    Endpoint `json:"redis"`
	// PostgresPasswordFile holds the password of PostgresSuperuser.
	PostgresPasswordFile string `json:"-"`
	// RedisPasswordFile holds the password of the Redis `default` user
	// (the harness's), RedisAppPasswordFile the `app` user's.
	RedisPasswordFile    string `json:"-"`
	RedisAppPasswordFile string `json:"-"`
	// RolesFile holds the passwords Provision gave the PostgreSQL roles of
	// the data model (JSON, role to password).
	RolesFile string `json:"-"`

	dir  string // <stateDir>/stores
	bins Binaries
	log  func(format string, args ...any)
}

// Binaries are the store programs.
type Binaries struct {
	// PostgresBinDir holds postgres, initdb, pg_basebackup and psql.
	PostgresBinDir string
	RedisServer    string
}

func (b Binaries) pg(name string) string { return filepath.Join(b.PostgresBinDir, name) }

// FindBinaries finds PostgreSQL (the newest /usr/lib/postgresql/<v>/bin, as
// Debian installs it, else postgres on PATH) and redis-server on PATH.
// Its error says what is missing and how to install it.
func FindBinaries() (Binaries, error) {
	var b Binaries
	var missing []string
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(dirs) > 0 {
		slices.SortFunc(dirs, func(a, c string) int { return pgMajor(a) - pgMajor(c) })
		for _, d := range dirs {
			if hasPostgresTools(d) {
				b.PostgresBinDir = d
			}
		}
	}
	if b.PostgresBinDir == "" {
		if p, err := exec.LookPath("postgres"); err == nil && hasPostgresTools(filepath.Dir(p)) {
			b.PostgresBinDir = filepath.Dir(p)
		}
	}
	if b.PostgresBinDir == "" {
		missing = append(missing, "PostgreSQL (postgres, initdb, pg_basebackup, psql: apt-get install postgresql)")
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		b.RedisServer = p
	} else {
		missing = append(missing, "redis-server (apt-get install redis-server)")
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("not installed: %s", strings.Join(missing, ", "))
	}
	return b, nil
}

func hasPostgresTools(dir string) bool {
	for _, t := range []string{"postgres", "initdb", "pg_basebackup", "psql"} {
		if _, err := os.Stat(filepath.Join(dir, t)); err != nil {
			return false
		}
	}
	return true
}

// pgMajor is the version in /usr/lib/postgresql/<v>/bin, 0 if none.
func pgMajor(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// paths in the state folder.
func storesDir(stateDir string) string { return filepath.Join(stateDir, "stores") }

func newStores(stateDir string, bins Binaries, log func(string, ...any)) *Stores {
	dir := storesDir(stateDir)
	cred := filepath.Join(dir, "credentials")
	// A data folder made by another major version needs its binaries.
	if raw, err := os.ReadFile(filepath.Join(dir, "postgres", "PG_VERSION")); err == nil {
		if d := filepath.Join("/usr/lib/postgresql", strings.TrimSpace(string(raw)), "bin"); d != bins.PostgresBinDir && hasPostgresTools(d) {
			bins.PostgresBinDir = d
		}
	}
	return &Stores{
		PostgresPasswordFile: filepath.Join(cred, "postgres-superuser"),
		RedisPasswordFile:    filepath.Join(cred, "redis-default"),
		RedisAppPasswordFile: filepath.Join(cred, "redis-app"),
		RolesFile:            filepath.Join(cred, "postgres-roles.json"),
		dir:                  dir, bins: bins, log: log,
	}
}

func (s *Stores) stateDir() string       { return filepath.Dir(s.dir) }
func (s *Stores) pgData() string         { return filepath.Join(s.dir, "postgres") }
func (s *Stores) redisData() string      { return filepath.Join(s.dir, "redis") }
func (s *Stores) endpointsFile() string  { return filepath.Join(s.dir, "endpoints.json") }
func (s *Stores) credentialsDir() string { return filepath.Join(s.dir, "credentials") }

func (s *Stores) logf(format string, args ...any) {
	if s.log != nil {
		s.log(format, args...)
	}
}

// Up starts the stores of the cluster in o.StateDir, or returns them when
// they already run (then it only reads a file and dials two ports).
func Up(ctx context.Context, o Options) (*Stores, error) {
	var bins Binaries
	if o.Binaries != nil {
		bins = *o.Binaries
	} else {
		var err error
		if bins, err = FindBinaries(); err != nil {
			return nil, err
		}
	}
	s := newStores(o.StateDir, bins, o.Log)
	prev, _ := readEndpoints(s.endpointsFile())
	pgUp := prev != nil && serving(o.StateDir, PostgresProcess, prev.Postgres)
	redisUp := prev != nil && serving(o.StateDir, RedisProcess, prev.Redis)
	if pgUp && redisUp {
		s.Postgres, s.Redis = prev.Postgres, prev.Redis
		return s, nil
	}
	if err := os.MkdirAll(s.credentialsDir(), 0o700); err != nil {
		return nil, err
	}
	var was Stores
	if prev != nil {
		was = *prev
	}
	if pgUp {
		s.Postgres = prev.Postgres
	} else if err := s.startPostgres(ctx, was.Postgres.Port); err != nil {
		return nil, err
	}
	if redisUp {
		s.Redis = prev.Redis
	} else if err := s.startRedis(ctx, was.Redis.Port); err != nil {
		return nil, err
	}
	if err := proc.WriteFile(s.endpointsFile(), s, 0o600); err != nil {
		return nil, err
	}
	return s, nil
}

// Current returns the stores running in stateDir, or an error saying they
// don't.
func Current(stateDir string) (*Stores, error) {
	bins, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	s := newStores(stateDir, bins, nil)
	prev, err := readEndpoints(s.endpointsFile())
	if err != nil || !serving(stateDir, PostgresProcess, prev.Postgres) || !serving(stateDir, RedisProcess, prev.Redis) {
		return nil, fmt.Errorf("the data stores in %s are not running", stateDir)
	}
	s.Postgres, s.Redis = prev.Postgres, prev.Redis
	return s, nil
}

// Down stops the stores of the cluster in stateDir (and a restore drill's
// instance left over); their data stays.
func Down(stateDir string) error {
	return errors.Join(
		proc.Stop(stateDir, drillProcess, syscall.SIGINT, 30*time.Second),
		// SIGTERM: Redis writes its snapshot and syncs its AOF, then exits.
		proc.Stop(stateDir, RedisProcess, syscall.SIGTERM, 30*time.Second),
		// SIGINT is PostgreSQL's fast shutdown: it disconnects clients
		// (SIGTERM would wait for them), checkpoints and exits.
		proc.Stop(stateDir, PostgresProcess, syscall.SIGINT, 30*time.Second),
	)
}

// Running reports whether a store of the cluster in stateDir runs.
func Running(stateDir string) bool {
	return proc.Alive(stateDir, PostgresProcess) || proc.Alive(stateDir, RedisProcess)
}

// port is the port a store starts on: the one it had if it is still
// free, so that a resumed store keeps its address (and the policies a
// stack compiled from it stay unchanged), else a free one.
func port(previous int) (int, error) {
	if previous > 0 {
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(previous))); err == nil {
			l.Close()
			return previous, nil
		}
	}
	ports, err := proc.FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// serving says the recorded process runs and its port accepts.
func serving(stateDir, name string, e Endpoint) bool {
	if e.Port == 0 || !proc.Alive(stateDir, name) {
		return false
	}
	c, err := net.DialTimeout("tcp", e.Address(), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func readEndpoints(path string) (*Stores, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Stores
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// password reads the password in path, generating and storing one (0600)
// when there is none.
func password(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(raw))) > 0 {
		return strings.TrimSpace(string(raw)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	pw := newPassword()
	if err := proc.WriteFile(path, pw, 0o600); err != nil {
		return "", err
	}
	return pw, nil
}

// newPassword is 192 random bits in hex: nothing to escape in a URL, a
// connection string or SQL.
func newPassword() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// runAs is the user PostgreSQL runs as: the caller, or as root the
// postgres user (PostgreSQL refuses to run as root).
type runAs struct {
	cred     *syscall.Credential // nil: the caller
	uid, gid int
}

func postgresUser() (runAs, error) {
	if os.Geteuid() != 0 {
		return runAs{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return runAs{}, errors.New("running as root, PostgreSQL must run as the postgres user, which does not exist (apt-get install postgresql creates it)")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return runAs{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid: uid, gid: gid}, nil
}

// own gives path to the user (a no-op unless it is another user).
func (r runAs) own(path string) error {
	if r.cred == nil {
		return nil
	}
	return os.Lchown(path, r.uid, r.gid)
}

// letReach makes dir reachable by the user: a folder on its way that the
// user may not search gets search permission for others (x, not r: its
// entries still can't be listed, and the private files in the state
// folder stay 0600).
func (r runAs) letReach(dir string, logf func(string, ...any)) error {
	if r.cred == nil {
		return nil
	}
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		perm := fi.Mode().Perm()
		searchable := perm&0o001 != 0 ||
			(ok && int(st.Uid) == r.uid && perm&0o100 != 0) ||
			(ok && int(st.Gid) == r.gid && perm&0o010 != 0)
		if !searchable {
			keep := fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
			if err := os.Chmod(d, keep|0o001); err != nil {
				return fmt.Errorf("letting the postgres user reach its data: %w", err)
			}
			if logf != nil {
				logf("data stores: %s is now searchable (o+x) so that the postgres user reaches its data", d)
			}
		}
		if parent := filepath.Dir(d); parent == d {
			return nil
		}
	}
}

// waitFor polls check until it succeeds, the process dies or timeout.
func waitFor(ctx context.Context, stateDir, name string, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if !proc.Alive(stateDir, name) {
			return fmt.Errorf("%s exited (last check: %v)\n--- last lines of %s ---\n%s", name, last,
				proc.LogPath(stateDir, name), proc.LogTail(proc.LogPath(stateDir, name), 20))
		}
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last: %v)\n--- last lines of %s ---\n%s", name, ctx.Err(), last,
				proc.LogPath(stateDir, name), proc.LogTail(proc.LogPath(stateDir, name), 20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
