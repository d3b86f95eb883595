package envconf

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type cfg struct {
	Port   int           `env:"HTTP_PORT" envDefault:"8080"`
	Issuer string        `env:"OIDC_ISSUER,required,notEmpty"`
	Drain  time.Duration `env:"DRAIN_DELAY" envDefault:"5s"`
}

func (c *cfg) Validate() error {
	if c.Port < 1 || c.Port > 65535 {
		return errors.New("HTTP_PORT: must be between 1 and 65535")
	}
	return nil
}

func TestLoad(t *testing.T) {
	t.Setenv("OIDC_ISSUER", "https://id.example.com")
	var c cfg
	if err := Load(&c); err != nil || c.Port != 8080 || c.Drain != 5*time.Second {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"HTTP_PORT": "eighty"}, []string{"HTTP_PORT: not a valid int", "OIDC_ISSUER: required, not set"}},
		{map[string]string{"OIDC_ISSUER": "", "DRAIN_DELAY": "soon"}, []string{"OIDC_ISSUER: required, empty", "DRAIN_DELAY: not a valid duration"}},
		{map[string]string{"OIDC_ISSUER": "x", "HTTP_PORT": "70000"}, []string{"HTTP_PORT: must be between 1 and 65535"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.want, ","), func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var c cfg
			err := Load(&c)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("env %v: error %v lacks %q", tc.env, err, w)
				}
			}
		})
	}
}

// LoadFrom reads only the map it is given, never the process environment.
func TestLoadFromReadsOnlyItsMap(t *testing.T) {
	t.Setenv("OIDC_ISSUER", "https://from-the-process.example.com")
	var c cfg
	if err := LoadFrom(&c, nil); err == nil || !strings.Contains(err.Error(), "OIDC_ISSUER: required, not set") {
		t.Errorf("a nil map: %v, want OIDC_ISSUER not set", err)
	}
	if err := LoadFrom(&c, map[string]string{"OIDC_ISSUER": "https://id.example.com", "HTTP_PORT": "8081"}); err != nil || c.Issuer != "https://id.example.com" || c.Port != 8081 {
		t.Errorf("%+v %v", c, err)
	}
	if err := LoadFrom(&cfg{}, map[string]string{"OIDC_ISSUER": "x", "HTTP_PORT": "0"}); err == nil || !strings.HasPrefix(err.Error(), "configuration: HTTP_PORT: ") {
		t.Errorf("validation: %v, want it to run", err)
	}
}
