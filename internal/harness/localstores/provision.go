package localstores

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/bulwark-platform/bulwark/infra/datastore"
	"github.com/bulwark-platform/bulwark/internal/harness/proc"
)

// Credentials are a role's login to a database on the store, in the JSON
// shape of the services' DB_CREDENTIALS_FILE (the Vault agent's template).
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Database string `json:"database"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
}

// Provision makes the store hold the data model: it runs the data model's
// psql script (datastore.ProvisionScript: the management role, and per
// service its owner role and database), then gives the management role
// and each owner role its password, generated once and kept in RolesFile
// (0600). It is idempotent: a second run changes nothing (a role's
// password is set only when the stored verifier doesn't match). It returns
// each service's owner credentials, by service.
func (s *Stores) Provision(ctx context.Context, dbs []datastore.Database, managementRole string) (map[string]Credentials, error) {
	if managementRole == "" {
		return nil, errors.New("provisioning PostgreSQL: no management role")
	}
	if _, err := s.Psql(ctx, "postgres", datastore.ProvisionScript(dbs, managementRole)); err != nil {
		return nil, fmt.Errorf("provisioning PostgreSQL: %w", err)
	}
	roles := []string{managementRole}
	for _, db := range dbs {
		roles = append(roles, db.Owner)
	}
	passwords, err := s.rolePasswords(roles)
	if err != nil {
		return nil, err
	}
	conn, err := s.Superuser(ctx, "postgres")
	if err != nil {
		return nil, fmt.Errorf("provisioning PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	current := map[string]string{}
	rows, err := conn.Query(ctx, "SELECT rolname, coalesce(rolpassword, '') FROM pg_authid WHERE rolname = ANY($1)", roles)
	if err != nil {
		return nil, fmt.Errorf("provisioning PostgreSQL: reading the roles' passwords: %w", err)
	}
	for rows.Next() {
		var name, verifier string
		if err := rows.Scan(&name, &verifier); err != nil {
			return nil, err
		}
		current[name] = verifier
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	set := 0
	for _, role := range roles {
		if scramMatches(current[role], passwords[role]) {
			continue
		}
		verifier, err := newScramVerifier(passwords[role])
		if err != nil {
			return nil, err
		}
		if _, err := conn.Exec(ctx, "ALTER ROLE "+ident(role)+" PASSWORD "+literal(verifier)); err != nil {
			return nil, fmt.Errorf("provisioning PostgreSQL: setting the password of %s: %w", role, err)
		}
		set++
	}
	if set > 0 {
		s.logf("data stores: PostgreSQL provisioned with %d databases; passwords set for %d roles (in %s)", len(dbs), set, s.RolesFile)
	}
	out := make(map[string]Credentials, len(dbs))
	for _, db := range dbs {
		out[db.Service] = Credentials{Username: db.Owner, Password: passwords[db.Owner], Database: db.Name, Host: s.Postgres.Host, Port: s.Postgres.Port}
	}
	return out, nil
}

// RoleCredentials are role's login to database, with the password
// Provision gave it.
func (s *Stores) RoleCredentials(role, database string) (Credentials, error) {
	stored, err := s.readRoles()
	if err != nil {
		return Credentials{}, err
	}
	pw, ok := stored[role]
	if !ok {
		return Credentials{}, fmt.Errorf("no password for role %s in %s: provision the store first", role, s.RolesFile)
	}
	return Credentials{Username: role, Password: pw, Database: database, Host: s.Postgres.Host, Port: s.Postgres.Port}, nil
}

func (s *Stores) readRoles() (map[string]string, error) {
	stored := map[string]string{}
	raw, err := os.ReadFile(s.RolesFile)
	if errors.Is(err, os.ErrNotExist) {
		return stored, nil
	} else if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &stored); err != nil {
		return nil, fmt.Errorf("%s: %w", s.RolesFile, err)
	}
	return stored, nil
}

// rolePasswords are the stored passwords of roles, generating (and
// storing) those missing.
func (s *Stores) rolePasswords(roles []string) (map[string]string, error) {
	stored, err := s.readRoles()
	if err != nil {
		return nil, err
	}
	changed := false
	for _, r := range roles {
		if stored[r] == "" {
			stored[r] = newPassword()
			changed = true
		}
	}
	if changed {
		if err := os.MkdirAll(s.credentialsDir(), 0o700); err != nil {
			return nil, err
		}
		if err := proc.WriteFile(s.RolesFile, stored, 0o600); err != nil {
			return nil, err
		}
	}
	out := make(map[string]string, len(roles))
	for _, r := range roles {
		out[r] = stored[r]
	}
	return out, nil
}
