package contract

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"
)

// Common is the configuration every service reads.
//
// Fields tagged `contract:"file"` hold the path of a file the service
// reads (the platform mounts it); the service re-reads the secret ones
// when they change, so a rotation needs no restart.
type Common struct {
	HTTPPort             int           `env:"HTTP_PORT" envDefault:"8080"`
	MetricsPort          int           `env:"METRICS_PORT" envDefault:"9090"`
	BindHost             string        `env:"BIND_HOST" envDefault:"0.0.0.0"`
	OIDCIssuer           string        `env:"OIDC_ISSUER,required,notEmpty"`
	OIDCAudience         string        `env:"OIDC_AUDIENCE,required,notEmpty"`
	OIDCMaxTokenLifetime time.Duration `env:"OIDC_MAX_TOKEN_LIFETIME" envDefault:"24h"`
	// OIDCTLSCAFile is a PEM bundle: when set, the identity provider
	// (discovery, JWKS, token endpoint) is verified against it as well as
	// the system roots: a provider serving a private CA's certificate, as
	// the installed Keycloak does.
	OIDCTLSCAFile string `env:"OIDC_TLS_CA_FILE" contract:"file"`
	// DBCredentialsFile is JSON {username, password, database, host, port}
	// (the Vault agent's rendering of the database engine's credentials);
	// reloaded on change, the pool swapped.
	DBCredentialsFile string `env:"DB_CREDENTIALS_FILE,required,notEmpty" contract:"file"`
	// DBTLSCAFile is a PEM bundle: when set, PostgreSQL is reached over TLS
	// verified against it (sslmode=verify-full, the host name of the
	// credentials file); unset keeps sslmode=prefer, for a database on the
	// same trusted network (local, ci).
	DBTLSCAFile string `env:"DB_TLS_CA_FILE" contract:"file"`
	DBMaxConns  int32  `env:"DB_MAX_CONNS" envDefault:"10"`
	// RedisAddr is host:port; empty means no second cache level.
	RedisAddr string `env:"REDIS_ADDR"`
	// RedisUsername is the ACL user; it needs RedisPasswordFile.
	RedisUsername string `env:"REDIS_USERNAME"`
	// RedisPasswordFile holds the Redis password (the file's content
	// without surrounding whitespace). It is read again when it changes and
	// new connections log in with the new value, so the platform rotates it
	// without a restart. Without REDIS_USERNAME it logs in as the default
	// user (requirepass).
	RedisPasswordFile string `env:"REDIS_PASSWORD_FILE" contract:"file,requiredWith=REDIS_USERNAME"`
	// RedisTLSCAFile is a PEM bundle: when set, Redis is reached over TLS
	// verified against it, for the host of REDIS_ADDR.
	RedisTLSCAFile  string        `env:"REDIS_TLS_CA_FILE" contract:"file"`
	DrainDelay      time.Duration `env:"DRAIN_DELAY" envDefault:"5s"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"20s"`
	LogLevel        string        `env:"LOG_LEVEL" envDefault:"info"`
}

// Validate checks what types can't. Errors name the variable.
func (c *Common) Validate() error {
	var errs []error
	for _, p := range []struct {
		name string
		port int
	}{{"HTTP_PORT", c.HTTPPort}, {"METRICS_PORT", c.MetricsPort}} {
		if p.port < 1 || p.port > 65535 {
			errs = append(errs, fmt.Errorf("%s: must be between 1 and 65535, got %d", p.name, p.port))
		}
	}
	if c.HTTPPort == c.MetricsPort {
		errs = append(errs, errors.New("METRICS_PORT: must differ from HTTP_PORT"))
	}
	if c.DrainDelay < 0 || c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("DRAIN_DELAY and SHUTDOWN_TIMEOUT: must be positive"))
	}
	if c.OIDCMaxTokenLifetime <= 0 {
		errs = append(errs, fmt.Errorf("OIDC_MAX_TOKEN_LIFETIME: must be positive, got %s", c.OIDCMaxTokenLifetime))
	}
	if c.DBMaxConns < 1 {
		errs = append(errs, fmt.Errorf("DB_MAX_CONNS: must be at least 1, got %d", c.DBMaxConns))
	}
	if c.RedisAddr != "" {
		// TLS verifies the server for this host, so it must parse here
		// rather than fail every dial later.
		if host, _, err := net.SplitHostPort(c.RedisAddr); err != nil || host == "" {
			errs = append(errs, fmt.Errorf("REDIS_ADDR: must be host:port, got %q", c.RedisAddr))
		}
	} else {
		// A login or CA for no Redis is a wiring mistake, not something to
		// ignore silently.
		for _, v := range []struct{ name, value string }{
			{"REDIS_USERNAME", c.RedisUsername}, {"REDIS_PASSWORD_FILE", c.RedisPasswordFile}, {"REDIS_TLS_CA_FILE", c.RedisTLSCAFile},
		} {
			if v.value != "" {
				errs = append(errs, fmt.Errorf("%s: set, but REDIS_ADDR is empty (no Redis to connect to)", v.name))
			}
		}
	}
	if c.RedisUsername != "" && c.RedisPasswordFile == "" {
		errs = append(errs, errors.New("REDIS_PASSWORD_FILE: required when REDIS_USERNAME is set"))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// User is the user service's configuration.
type User struct {
	Common
	CacheL1TTL time.Duration `env:"CACHE_L1_TTL" envDefault:"5s"`
	CacheL2TTL time.Duration `env:"CACHE_L2_TTL" envDefault:"5m"`
}

// Validate adds the user service's rules to the common ones.
func (c *User) Validate() error {
	return errors.Join(c.Common.Validate(), validateTTLs(c.CacheL1TTL, c.CacheL2TTL))
}

// Order is the order service's configuration. USER_URL and PAYMENT_URL
// are the base URLs of its callees, which the platform derives from the
// service graph (the `contract:"url=<service>"` tags).
type Order struct {
	Common
	UserURL    string `env:"USER_URL,required,notEmpty" contract:"url=user"`
	PaymentURL string `env:"PAYMENT_URL,required,notEmpty" contract:"url=payment"`
	ClientID   string `env:"OAUTH_CLIENT_ID,required,notEmpty"`
	// ClientSecretFile holds the OAuth client secret; reloaded on change.
	ClientSecretFile string        `env:"OAUTH_CLIENT_SECRET_FILE,required,notEmpty" contract:"file"`
	CacheL1TTL       time.Duration `env:"CACHE_L1_TTL" envDefault:"5s"`
	CacheL2TTL       time.Duration `env:"CACHE_L2_TTL" envDefault:"5m"`
	BreakerOpenFor   time.Duration `env:"BREAKER_OPEN_FOR" envDefault:"5s"`
}

// Validate adds the order service's rules to the common ones.
func (c *Order) Validate() error {
	errs := []error{c.Common.Validate()}
	for _, v := range []struct{ name, value string }{{"USER_URL", c.UserURL}, {"PAYMENT_URL", c.PaymentURL}} {
		if u, err := url.Parse(v.value); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s: must be an http(s) URL", v.name))
		}
	}
	return errors.Join(append(errs, validateTTLs(c.CacheL1TTL, c.CacheL2TTL))...)
}

// Payment is the payment service's configuration: the common one (it
// has no cache, so no Redis is needed).
type Payment struct {
	Common
}

// Validate checks the common rules.
func (c *Payment) Validate() error { return c.Common.Validate() }

// validateTTLs holds the cache's rule (0 < L1 <= L2) at start-up, where
// the error can name the variables.
func validateTTLs(l1, l2 time.Duration) error {
	var errs []error
	if l1 <= 0 {
		errs = append(errs, fmt.Errorf("CACHE_L1_TTL: must be positive, got %s", l1))
	}
	if l2 < l1 {
		errs = append(errs, fmt.Errorf("CACHE_L2_TTL: must be at least CACHE_L1_TTL (%s), got %s", l1, l2))
	}
	return errors.Join(errs...)
}
