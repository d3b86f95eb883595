package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/jackc/pgx/v5"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/datastore"
	"github.com/bulwark-platform/bulwark/infra/secrets"
	dbsecrets "github.com/bulwark-platform/bulwark/services/internal/platform/secrets"
	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc"
)

// Rotation end to end, under load. The ci stack's secrets are compiled as
// the platform compiles them; a real OpenBao's database engine is
// configured with the compiled connection, the user service's role (its
// creation and revocation statements and the ci lease TTLs, verbatim) and
// its policy, on a real PostgreSQL provisioned with the data model's
// script. `bao agent`, logged in with a token holding only that policy,
// renders the platform's own template to the file DB_CREDENTIALS_FILE
// names, and the user service swaps its pool at each new lease while four
// workers create and read users. Asserted: not one request fails; the
// file held at least four leases (three rotations); every superseded
// lease is revoked (its role dropped, no session left on it) and the
// service logged a pool swap to each new one.
func TestCredentialRotationUnderLoadFailsNoRequest(t *testing.T) {
	testsvc.Integration(t)
	const service, workers, wantLeases = "user", 4, 4
	bao := testsvc.StartOpenBao(t) // skips when bao is not built
	pg := testsvc.StartPostgres(t)

	// The ci stack's compilation, with the handed-over store addresses.
	cfg := config.Defaults(config.CI)
	cfg.Data.Postgres.External.Port = pg.Port
	cfg.Vault.External.Port = bao.Port
	set, err := secrets.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	plan := set.Plan
	if plan.Database == nil {
		t.Fatal("the ci plan has no database engine")
	}
	i := slices.IndexFunc(plan.Database.Roles, func(r secrets.DBRole) bool { return r.Service == service })
	if i < 0 {
		t.Fatalf("the ci plan has no database role for %s", service)
	}
	role := plan.Database.Roles[i]
	i = slices.IndexFunc(plan.Database.Connections, func(c secrets.Connection) bool { return c.Name == role.Connection })
	if i < 0 {
		t.Fatalf("role %s names connection %q, which the plan lacks", role.Name, role.Connection)
	}
	conn := plan.Database.Connections[i]
	inj, ok := set.Injection(service)
	if !ok {
		t.Fatalf("the ci plan renders no credentials for %s", service)
	}
	policy, ok := plan.Policy(secrets.PolicyName(plan.PathPrefix, service))
	if !ok {
		t.Fatalf("the ci plan has no policy for %s", service)
	}
	ttl := time.Duration(role.TTL) * time.Second
	t.Logf("lease TTL %s, max %ds; credentials at %s", ttl, role.MaxTTL, inj.CredentialsPath)

	// PostgreSQL holds the data model for the user service; the
	// management role logs in with a password only Vault is given.
	var dbs []datastore.Database
	for _, d := range datastore.Databases(&cfg.Graph) {
		if d.Service == service {
			dbs = append(dbs, d)
		}
	}
	mgmt := cfg.Data.Postgres.ManagementRole
	mgmtPassword := rand.Text()
	pg.Psql(datastore.ProvisionScript(dbs, mgmt))
	pg.Exec(fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'", pgx.Identifier{mgmt}.Sanitize(), mgmtPassword))

	// OpenBao: the database engine at the plan's mount, the connection,
	// the service's role and its policy, as the Vault layer applies them.
	bao.Write("sys/mounts/"+plan.Mounts.Database, map[string]any{"type": "database"})
	bao.Write(plan.Mounts.Database+"/config/"+conn.Name, map[string]any{
		"plugin_name": "postgresql-database-plugin", "connection_url": conn.URL(),
		"username": conn.Username, "password": mgmtPassword, "allowed_roles": conn.AllowedRoles,
		"password_authentication": "scram-sha-256", "verify_connection": true,
	})
	bao.Write(plan.Mounts.Database+"/roles/"+role.Name, map[string]any{
		"db_name": role.Connection, "creation_statements": role.Creation, "revocation_statements": role.Revocation,
		"default_ttl": role.TTL, "max_ttl": role.MaxTTL,
	})
	bao.Write("sys/policies/acl/"+policy.Name, map[string]any{"policy": policy.HCL()})
	token := bao.Token([]string{policy.Name}, time.Hour)

	// The agent renders the injector's template, verbatim, to the file.
	credsFile := filepath.Join(t.TempDir(), secrets.CredentialsFileName)
	agent := bao.StartAgent(t, token, testsvc.AgentTemplate{Contents: inj.Template, Destination: credsFile, Perms: "0400"})
	leases := watchCredentials(t, credsFile, agent)

	// The service reads that file, with a cache too short to hide the
	// database from the load.
	is := testsvc.NewIssuer(t)
	bearer := testsvc.Sign(t, jose.RS256, is.RSA, "rsa-1", nil, is.Claims("user", time.Now(), func(c map[string]any) {
		c["scope"], c["exp"] = "users:read users:write", time.Now().Add(time.Hour).Unix()
	}))
	svc := testsvc.StartService(t, testsvc.Build(t, "."), testsvc.ServiceOptions{Issuer: is.URL, Audience: "user",
		Env: []string{"DB_CREDENTIALS_FILE=" + credsFile, "CACHE_L1_TTL=1ms", "DRAIN_DELAY=100ms"}})

	super, err := pgx.Connect(context.Background(), pg.DSN("postgres", testsvc.SuperuserPassword, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close(context.Background())
	roleExists := func(name string) bool {
		var n int
		if err := super.QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname = $1", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}

	// Load: each worker creates a user, then reads it back, until the file
	// held wantLeases leases and every superseded one is revoked.
	load := newLoad(svc.URL, bearer)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { load.run(ctx, w) })
	}
	start := time.Now()
	deadline := start.Add(time.Duration(wantLeases+2) * ttl)
	var seen []lease
	for {
		seen = leases.snapshot()
		revoked := len(seen) >= wantLeases && !slices.ContainsFunc(seen[:len(seen)-1], func(l lease) bool { return roleExists(l.username) })
		if revoked || time.Now().After(deadline) || !agent.Running() || t.Failed() {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	stop()
	wg.Wait()
	t.Logf("%d requests in %s over %d leases, %d failed", load.ok.Load()+load.failed.Load(), time.Since(start).Round(time.Second), len(seen), load.failed.Load())
	for i, l := range seen {
		// Vault's default username template ends with the lease's creation
		// time: how long the old lease still had when its successor came.
		margin := ""
		if i > 0 {
			prev := seen[i-1].username
			if born, err := strconv.ParseInt(prev[strings.LastIndex(prev, "-")+1:], 10, 64); err == nil {
				margin = fmt.Sprintf(", %s before the previous lease's end", time.Unix(born, 0).Add(ttl).Sub(l.at).Round(100*time.Millisecond))
			}
		}
		t.Logf("lease %s rendered at %+.1fs%s", l.username, l.at.Sub(start).Seconds(), margin)
	}

	if !agent.Running() {
		t.Errorf("bao agent exited:\n%s", agent.Logs())
	}
	if n := load.failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed during the rotations; the first ones:\n%s", n, n+load.ok.Load(), load.failures())
	}
	if load.ok.Load() < 100 {
		t.Errorf("only %d requests succeeded: the load was too light to prove anything", load.ok.Load())
	}
	// Every create the load counted is a row: the requests reached the
	// database through each lease's pool.
	var rowsN int64
	users, err := pgx.Connect(context.Background(), pg.DSN("postgres", testsvc.SuperuserPassword, role.Database))
	if err != nil {
		t.Fatal(err)
	}
	defer users.Close(context.Background())
	if err := users.QueryRow(context.Background(), "SELECT count(*) FROM users").Scan(&rowsN); err != nil || rowsN < load.created.Load() {
		t.Errorf("the users table holds %d rows after %d creates (%v)", rowsN, load.created.Load(), err)
	}
	if len(seen) < wantLeases {
		t.Fatalf("the file held %d leases within %s, want the first and at least %d rotations", len(seen), time.Since(start).Round(time.Second), wantLeases-1)
	}

	// Every superseded lease is revoked: its role is gone (after its TTL at
	// most) and no session is left on it; the current one is alive.
	var superseded []string
	for _, l := range seen[:len(seen)-1] {
		superseded = append(superseded, l.username)
	}
	for _, name := range superseded {
		if roleExists(name) {
			t.Errorf("role %s of a superseded lease still exists %s after the load", name, time.Since(start).Round(time.Second))
		}
	}
	var left []string
	rows, err := super.Query(context.Background(), "SELECT usename FROM pg_stat_activity WHERE usename = ANY($1)", superseded)
	if err != nil {
		t.Fatal(err)
	}
	if left, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("sessions left on revoked roles: %v", left)
	}
	if current := seen[len(seen)-1].username; !roleExists(current) {
		t.Errorf("the current lease's role %s does not exist", current)
	}
	// Vault holds no lease beyond the current one and, at most, its
	// successor: a revocation that failed would stay listed, retried.
	if ids := bao.List("sys/leases/lookup/" + inj.CredentialsPath); len(ids) > 2 {
		t.Errorf("%d leases outstanding under %s, want the current one (and at most its successor): %v", len(ids), inj.CredentialsPath, ids)
	}

	// The service swapped its pool to each new lease, and never kept an
	// old pool because new credentials failed.
	logs := svc.Logs()
	for _, l := range seen[1:] {
		if !slices.ContainsFunc(strings.Split(logs, "\n"), func(line string) bool {
			return strings.Contains(line, `"msg":"database credentials rotated"`) && strings.Contains(line, `"user":"`+l.username+`"`)
		}) {
			t.Errorf("the service logged no pool swap to %s", l.username)
		}
	}
	if strings.Contains(logs, "keeping the old") || strings.Contains(logs, `"msg":"database credentials file"`) {
		t.Errorf("the service failed to take up new credentials:\n%s", grepLines(logs, "credentials"))
	}
}

// lease is one username the agent rendered, when the test first saw it.
type lease struct {
	username string
	at       time.Time
}

type leaseLog struct {
	mu     sync.Mutex
	leases []lease
}

func (l *leaseLog) snapshot() []lease {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.leases)
}

// watchCredentials waits for the agent's first rendering of path (a file
// the service can read), then records every username it holds, polling,
// until the test ends.
func watchCredentials(t *testing.T, path string, agent *testsvc.Agent) *leaseLog {
	t.Helper()
	l := &leaseLog{}
	read := func() (string, error) {
		raw, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		c, err := dbsecrets.ParseDB(raw)
		return c.Username, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		name, err := read()
		if err == nil {
			l.leases = append(l.leases, lease{name, time.Now()})
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the agent rendered a file the service can't read: %v", err)
		}
		if time.Now().After(deadline) || !agent.Running() {
			t.Fatalf("the agent rendered no credentials: %v\n%s", err, agent.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if name, err := read(); err == nil {
				l.mu.Lock()
				if l.leases[len(l.leases)-1].username != name {
					l.leases = append(l.leases, lease{name, time.Now()})
				}
				l.mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return l
}

// loadGen creates and reads users through the API, counting every answer
// that isn't the one expected.
type loadGen struct {
	base, bearer string
	client       *http.Client
	seq          atomic.Int64
	ok, failed   atomic.Int64
	created      atomic.Int64
	mu           sync.Mutex
	first        []string
}

func newLoad(base, bearer string) *loadGen {
	return &loadGen{base: base, bearer: bearer, client: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
}

func (g *loadGen) run(ctx context.Context, worker int) {
	for ctx.Err() == nil {
		n := g.seq.Add(1)
		var created User
		code, body, err := g.do(ctx, http.MethodPost, "/api/v1/users", fmt.Sprintf(`{"email":"rotation-%d-%d@example.com","name":"Rotation"}`, worker, n), &created)
		if !g.check(ctx, "create", code, 201, body, err) {
			continue
		}
		g.created.Add(1)
		var got User
		code, body, err = g.do(ctx, http.MethodGet, "/api/v1/users/"+created.ID, "", &got)
		if g.check(ctx, "get", code, 200, body, err) && got.ID != created.ID {
			g.fail("get " + created.ID + " answered user " + got.ID)
		}
	}
}

func (g *loadGen) do(ctx context.Context, method, path, body string, out any) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+g.bearer)
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode/100 == 2 {
		err = json.Unmarshal(raw, out)
	}
	return resp.StatusCode, string(raw), err
}

// check counts one answer; a request the test's own stop cut short is
// neither a success nor a failure.
func (g *loadGen) check(ctx context.Context, op string, code, want int, body string, err error) bool {
	if ctx.Err() != nil && (err != nil || code == 0) {
		return false
	}
	if err != nil || code != want {
		g.fail(fmt.Sprintf("%s %s: %d %v %.300s", time.Now().Format("15:04:05.000"), op, code, err, strings.TrimSpace(body)))
		return false
	}
	g.ok.Add(1)
	return true
}

func (g *loadGen) fail(what string) {
	g.failed.Add(1)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.first) < 20 {
		g.first = append(g.first, what)
	}
}

func (g *loadGen) failures() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return strings.Join(g.first, "\n")
}

func grepLines(s, word string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, word) {
			out = append(out, strings.TrimRight(line, "\n"))
		}
	}
	return strings.Join(out, "\n")
}
