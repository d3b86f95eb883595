package localstores

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwark-platform/bulwark/internal/harness/proc"
)

// Restore drill names on the store.
const (
	DrillDatabase = "bulwark_restore_drill"
	drillTable    = "drill_rows"
	drillRole     = "bulwark_restore_drill"
)

// ErrRestoreDiffers is the drill's failure: the restored table is not the
// original's.
var ErrRestoreDiffers = errors.New("restore drill: the restored data differs from the original")

// DrillOptions shape a restore drill.
type DrillOptions struct {
	// Rows in the drill's table; default 5000.
	Rows int
	// AfterBackup, when set, runs on the original's drill database (as the
	// superuser) once the base backup is taken: a test changes a row there
	// to prove the comparison catches a restore that differs.
	AfterBackup func(ctx context.Context, original *pgx.Conn) error
}

// TableSum is a table's row count and the MD5 of its rows in id order,
// both computed by PostgreSQL.
type TableSum struct {
	Rows     int64
	Checksum string
}

// DrillResult is what a drill measured.
type DrillResult struct {
	Original, Restored TableSum
	// BackupBytes is the base backup's size (data and WAL), taken in
	// BackupTime; the instance started from it accepted queries after
	// ReadyTime.
	BackupBytes int64
	BackupTime  time.Duration
	ReadyTime   time.Duration
}

// String is the drill's one-line report.
func (r *DrillResult) String() string {
	verdict := "identical"
	if err := Compare(r.Original, r.Restored); err != nil {
		verdict = "DIFFERENT (" + err.Error() + ")"
	}
	sum := r.Original.Checksum
	if len(sum) > 12 {
		sum = sum[:12] + "..."
	}
	return fmt.Sprintf("restore drill: %d rows, checksum %s, base backup %.1f MB in %.1f s, restored instance ready in %.1f s: %s",
		r.Original.Rows, sum, float64(r.BackupBytes)/1e6, r.BackupTime.Seconds(), r.ReadyTime.Seconds(), verdict)
}

// Compare is the drill's verdict: nil when the restored table is the
// original's, else an error wrapping ErrRestoreDiffers with both sides.
func Compare(original, restored TableSum) error {
	if original == restored {
		return nil
	}
	return fmt.Errorf("%w: original %d rows, checksum %s; restored %d rows, checksum %s",
		ErrRestoreDiffers, original.Rows, original.Checksum, restored.Rows, restored.Checksum)
}

// RestoreDrill proves that the store's base backups restore: it fills a
// drill database with a table of deterministic rows, takes a base backup
// with pg_basebackup (WAL streamed, over TCP, as a role with REPLICATION
// made for the drill), starts a second PostgreSQL from it on another free
// port, and compares the table's row count and checksum on both sides.
// The restored instance, the backup, the drill database and role are
// removed whatever the outcome. The error wraps ErrRestoreDiffers when
// the data differs; the result holds the figures whenever both sides
// could be read.
func (s *Stores) RestoreDrill(ctx context.Context, o DrillOptions) (res *DrillResult, err error) {
	if o.Rows <= 0 {
		o.Rows = 5000
	}
	sd := s.stateDir()
	run, err := postgresUser()
	if err != nil {
		return nil, err
	}
	admin, err := s.Superuser(ctx, "postgres")
	if err != nil {
		return nil, fmt.Errorf("restore drill: connecting to the store: %w", err)
	}
	cleanupCtx := context.WithoutCancel(ctx)
	defer admin.Close(cleanupCtx)
	drop := func() error {
		_, err1 := admin.Exec(cleanupCtx, "DROP DATABASE IF EXISTS "+ident(DrillDatabase)+" WITH (FORCE)")
		_, err2 := admin.Exec(cleanupCtx, "DROP ROLE IF EXISTS "+ident(drillRole))
		return errors.Join(err1, err2)
	}
	// A drill interrupted earlier may have left its instance and data.
	work := filepath.Join(s.dir, "restore-drill")
	if err := errors.Join(proc.Stop(sd, drillProcess, syscall.SIGINT, 30*time.Second), os.RemoveAll(work), drop()); err != nil {
		return nil, fmt.Errorf("restore drill: clearing a previous drill: %w", err)
	}
	defer func() {
		if cerr := errors.Join(proc.Stop(sd, drillProcess, syscall.SIGINT, 30*time.Second), os.RemoveAll(work), drop()); cerr != nil && err == nil {
			err = fmt.Errorf("restore drill: cleaning up: %w", cerr)
		}
	}()

	// The data.
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident(DrillDatabase)); err != nil {
		return nil, fmt.Errorf("restore drill: %w", err)
	}
	orig, err := s.Superuser(ctx, DrillDatabase)
	if err != nil {
		return nil, fmt.Errorf("restore drill: %w", err)
	}
	defer orig.Close(cleanupCtx)
	for _, stmt := range []string{
		`CREATE TABLE ` + drillTable + ` (id integer PRIMARY KEY, name text NOT NULL, amount_cents bigint NOT NULL, digest text NOT NULL)`,
		`INSERT INTO ` + drillTable + ` SELECT g, 'row ' || g, (g::bigint * 7919) % 100003, md5('bulwark' || g) FROM generate_series(1, ` + strconv.Itoa(o.Rows) + `) AS g`,
	} {
		if _, err := orig.Exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("restore drill: filling the drill table: %w", err)
		}
	}

	// The base backup, as a replication role over TCP.
	rolePW := newPassword()
	verifier, err := newScramVerifier(rolePW)
	if err != nil {
		return nil, err
	}
	if _, err := admin.Exec(ctx, "CREATE ROLE "+ident(drillRole)+" LOGIN REPLICATION PASSWORD "+literal(verifier)); err != nil {
		return nil, fmt.Errorf("restore drill: creating the replication role: %w", err)
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		return nil, err
	}
	if err := run.own(work); err != nil {
		return nil, err
	}
	data := filepath.Join(work, "data")
	started := time.Now()
	cmd := exec.CommandContext(ctx, s.bins.pg("pg_basebackup"), "-h", s.Postgres.Host, "-p", strconv.Itoa(s.Postgres.Port),
		"-U", drillRole, "-w", "-D", data, "-X", "stream", "--checkpoint=fast", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: run.cred}
	cmd.Dir = "/"
	cmd.Env = pgEnv("PGPASSWORD="+rolePW, "PGSSLMODE=disable", "PGCONNECT_TIMEOUT=10")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("restore drill: pg_basebackup: %w\n%s", err, out)
	}
	res = &DrillResult{BackupTime: time.Since(started)}
	if res.BackupBytes, err = dirSize(data); err != nil {
		return res, err
	}
	if o.AfterBackup != nil {
		if err := o.AfterBackup(ctx, orig); err != nil {
			return res, fmt.Errorf("restore drill: after the backup: %w", err)
		}
	}

	// The restored instance: its own data folder and port. pg_basebackup
	// leaves out the original's postmaster.pid and replication slots; a
	// standby's signal files (none without -R) would make it a replica
	// rather than a copy. The port and every other setting are on its
	// command line (pgArgs), as for the store.
	for _, f := range []string{"postmaster.pid", "postmaster.opts", "standby.signal", "recovery.signal"} {
		if err := os.Remove(filepath.Join(data, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, err
		}
	}
	ports, err := proc.FreePorts(1)
	if err != nil {
		return res, err
	}
	restored := Endpoint{Host: "127.0.0.1", Port: ports[0]}
	started = time.Now()
	if err := proc.Start(sd, proc.Spec{Name: drillProcess, Path: s.bins.pg("postgres"), Args: pgArgs(data, restored.Port),
		Dir: data, Env: pgEnv(), Credential: run.cred}); err != nil {
		return res, fmt.Errorf("restore drill: %w", err)
	}
	superPW, err := os.ReadFile(s.PostgresPasswordFile)
	if err != nil {
		return res, err
	}
	var copyConn *pgx.Conn
	err = waitFor(ctx, sd, drillProcess, 120*time.Second, func(ctx context.Context) error {
		c, err := s.connect(ctx, restored, PostgresSuperuser, strings.TrimSpace(string(superPW)), DrillDatabase)
		if err == nil {
			copyConn = c
		}
		return err
	})
	if err != nil {
		return res, fmt.Errorf("restore drill: the restored instance: %w", err)
	}
	res.ReadyTime = time.Since(started)
	defer copyConn.Close(cleanupCtx)

	// The comparison, each side summed by PostgreSQL.
	if res.Original, err = tableSum(ctx, orig); err != nil {
		return res, fmt.Errorf("restore drill: the original: %w", err)
	}
	if res.Restored, err = tableSum(ctx, copyConn); err != nil {
		return res, fmt.Errorf("restore drill: the restored instance: %w", err)
	}
	return res, Compare(res.Original, res.Restored)
}

// tableSum counts the drill table's rows and hashes them in id order.
func tableSum(ctx context.Context, c *pgx.Conn) (TableSum, error) {
	var t TableSum
	err := c.QueryRow(ctx, `SELECT count(*), coalesce(md5(string_agg(t::text, E'\n' ORDER BY id)), '') FROM `+drillTable+` AS t`).
		Scan(&t.Rows, &t.Checksum)
	return t, err
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
