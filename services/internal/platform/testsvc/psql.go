package testsvc

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Psql runs a psql script (with its meta-commands, such as \gexec) as the
// superuser in the postgres database, stopping at the first error, as the
// platform applies datastore.ProvisionScript to a server it doesn't
// install.
func (p *Postgres) Psql(script string) {
	p.t.Helper()
	bin, ok := pgBinary("psql")
	if !ok {
		p.t.Skip("psql is not installed (apt-get install postgresql-client)")
	}
	cmd := exec.Command(bin, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", strconv.Itoa(p.Port), "-U", "postgres", "-d", "postgres")
	cmd.Env = append(os.Environ(), "PGPASSWORD="+SuperuserPassword, "PGSSLMODE=disable")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("psql: %v\n%s", err, out)
	}
}
