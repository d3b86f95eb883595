// Package secrets reads secrets from files (as Vault Agent templates and
// Kubernetes secret volumes write them) and reloads them on change without
// a restart. A change that doesn't parse is reported and ignored: the last
// good value stays in force, so nothing is half-applied or lost.
package secrets

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// DBCredentials is the database secret: the JSON the Vault template writes.
type DBCredentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Database string `json:"database"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
}

// ParseDB decodes and checks database credentials; errors name the field,
// never its value.
func ParseDB(raw []byte) (DBCredentials, error) {
	var c DBCredentials
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return DBCredentials{}, fmt.Errorf("database credentials: not valid JSON of username, password, database, host, port: %w", err)
	}
	var missing []string
	for field, v := range map[string]string{"username": c.Username, "password": c.Password, "database": c.Database, "host": c.Host} {
		if v == "" {
			missing = append(missing, field)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return DBCredentials{}, fmt.Errorf("database credentials: missing %s", strings.Join(missing, ", "))
	}
	if c.Port < 1 || c.Port > 65535 {
		return DBCredentials{}, fmt.Errorf("database credentials: port %d is not between 1 and 65535", c.Port)
	}
	return c, nil
}

// ParseText is a single-value secret (a client secret): the file's
// content without surrounding whitespace, which must not be empty.
func ParseText(raw []byte) (string, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return "", errors.New("secret file is empty")
	}
	return s, nil
}

// ReadCA reads a PEM bundle of CA certificates (to verify a server's TLS
// certificate against). A file without one certificate is an error, not
// an empty pool: an empty pool would fail every handshake later with a
// far less helpful error.
func ReadCA(path string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if err := AddCA(pool, path); err != nil {
		return nil, err
	}
	return pool, nil
}

// AddCA adds the PEM bundle's certificates to pool (the system roots, for
// a server that may carry either), with ReadCA's errors.
func AddCA(pool *x509.CertPool, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	n := 0
	for rest := raw; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue // a bundle may carry comments or other blocks
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Errorf("%s: certificate %d: %w", path, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s: no PEM certificate", path)
	}
	return nil
}

// Watch reads path with parse and calls onChange with every later value
// that parses and differs; onError gets the failures. It returns the
// initial value, or an error if that one doesn't read or parse. The
// directory is watched, not the file: Kubernetes swaps a symlinked folder
// atomically, which no watch on the old file would see.
func Watch[T comparable](ctx context.Context, path string, parse func([]byte) (T, error), onChange func(T), onError func(error)) (T, error) {
	var zero T
	read := func() (T, error) {
		raw, err := os.ReadFile(path)
		if err != nil {
			return zero, fmt.Errorf("reading %s: %w", path, err)
		}
		v, err := parse(raw)
		if err != nil {
			return zero, fmt.Errorf("%s: %w", path, err)
		}
		return v, nil
	}
	current, err := read()
	if err != nil {
		return zero, err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return zero, fmt.Errorf("watching %s: %w", path, err)
	}
	if err := w.Add(filepath.Dir(path)); err != nil {
		w.Close()
		return zero, fmt.Errorf("watching %s: %w", path, err)
	}
	var mu sync.Mutex
	go func() {
		defer w.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				onError(err)
			case _, ok := <-w.Events:
				if !ok {
					return
				}
				v, err := read()
				if err != nil {
					if !errors.Is(err, os.ErrNotExist) { // mid-swap
						onError(err)
					}
					continue
				}
				mu.Lock()
				changed := v != current
				current = v
				mu.Unlock()
				if changed {
					onChange(v)
				}
			}
		}
	}()
	return current, nil
}
