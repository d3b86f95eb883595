package contract

import (
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestServicesAndFor(t *testing.T) {
	if got := Services(); !slices.Equal(got, []string{"order", "payment", "user"}) {
		t.Errorf("Services() = %v", got)
	}
	for _, s := range Services() {
		c, ok := For(s)
		if !ok || c.Service != s || len(c.Vars) == 0 {
			t.Errorf("For(%q) = %+v, %v: every listed service has a contract", s, c, ok)
		}
		// A derivation error would make For false; say which.
		if _, err := derive(s, registry[s]); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if c, ok := For("nope"); ok || c.Vars != nil {
		t.Errorf(`For("nope") = %+v, %v; want nothing, false`, c, ok)
	}
}

// common is Common's variables as its struct declares them.
var common = []Var{
	{Name: "HTTP_PORT", Default: "8080"},
	{Name: "METRICS_PORT", Default: "9090"},
	{Name: "BIND_HOST", Default: "0.0.0.0"},
	{Name: "OIDC_ISSUER", Required: true},
	{Name: "OIDC_AUDIENCE", Required: true},
	{Name: "OIDC_MAX_TOKEN_LIFETIME", Default: "24h"},
	{Name: "OIDC_TLS_CA_FILE", File: true},
	{Name: "DB_CREDENTIALS_FILE", Required: true, File: true},
	{Name: "DB_TLS_CA_FILE", File: true},
	{Name: "DB_MAX_CONNS", Default: "10"},
	{Name: "REDIS_ADDR"},
	{Name: "REDIS_USERNAME"},
	{Name: "REDIS_PASSWORD_FILE", File: true, RequiredWith: "REDIS_USERNAME"},
	{Name: "REDIS_TLS_CA_FILE", File: true},
	{Name: "DRAIN_DELAY", Default: "5s"},
	{Name: "SHUTDOWN_TIMEOUT", Default: "20s"},
	{Name: "LOG_LEVEL", Default: "info"},
}

// The derived contract of each service is what its struct says: every
// variable, in order, with what is required, the defaults, the files and
// the callee URLs.
func TestEachServiceContractIsWhatItsStructSays(t *testing.T) {
	cacheTTLs := []Var{{Name: "CACHE_L1_TTL", Default: "5s"}, {Name: "CACHE_L2_TTL", Default: "5m"}}
	want := map[string][]Var{
		"user":    append(slices.Clone(common), cacheTTLs...),
		"payment": common,
		"order": append(slices.Clone(common),
			Var{Name: "USER_URL", Required: true, URLOf: "user"},
			Var{Name: "PAYMENT_URL", Required: true, URLOf: "payment"},
			Var{Name: "OAUTH_CLIENT_ID", Required: true},
			Var{Name: "OAUTH_CLIENT_SECRET_FILE", Required: true, File: true},
			cacheTTLs[0], cacheTTLs[1],
			Var{Name: "BREAKER_OPEN_FOR", Default: "5s"}),
	}
	for service, vars := range want {
		t.Run(service, func(t *testing.T) {
			c, ok := For(service)
			if !ok {
				t.Fatalf("no contract")
			}
			if !reflect.DeepEqual(c.Vars, vars) {
				t.Errorf("got\n%s\nwant\n%s", describe(c.Vars), describe(vars))
			}
		})
	}

	// The order service, as the issue states it.
	order, _ := For("order")
	var required, files []string
	urls := map[string]string{}
	for _, v := range order.Vars {
		if v.Required {
			required = append(required, v.Name)
		}
		if v.File {
			files = append(files, v.Name)
		}
		if v.URLOf != "" {
			urls[v.Name] = v.URLOf
		}
	}
	if w := []string{"OIDC_ISSUER", "OIDC_AUDIENCE", "DB_CREDENTIALS_FILE", "USER_URL", "PAYMENT_URL", "OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET_FILE"}; !slices.Equal(required, w) {
		t.Errorf("order requires %v, want %v", required, w)
	}
	if w := []string{"OIDC_TLS_CA_FILE", "DB_CREDENTIALS_FILE", "DB_TLS_CA_FILE", "REDIS_PASSWORD_FILE", "REDIS_TLS_CA_FILE", "OAUTH_CLIENT_SECRET_FILE"}; !slices.Equal(files, w) {
		t.Errorf("order's files: %v, want %v", files, w)
	}
	if !reflect.DeepEqual(urls, map[string]string{"USER_URL": "user", "PAYMENT_URL": "payment"}) {
		t.Errorf("order's callee URLs: %v", urls)
	}
	if v, ok := order.Var("USER_URL"); !ok || v.URLOf != "user" {
		t.Errorf(`Var("USER_URL") = %+v, %v`, v, ok)
	}
	if _, ok := order.Var("NOPE"); ok {
		t.Error(`Var("NOPE") found something`)
	}
}

func describe(vars []Var) string {
	var b strings.Builder
	for _, v := range vars {
		b.WriteString("  " + fmtVar(v) + "\n")
	}
	return b.String()
}

func fmtVar(v Var) string {
	return v.Name + " required=" + boolString(v.Required) + " default=" + v.Default + " file=" + boolString(v.File) +
		" url=" + v.URLOf + " requiredWith=" + v.RequiredWith
}

func boolString(b bool) string { return strconv.FormatBool(b) }

// What the contract says about each service holds for its loader: the
// required variables (each one missing is refused, by name), requiredWith
// (set the other, leave this one out: refused, by name), and a complete
// environment built from the contract alone is accepted. So the platform
// can fill a Deployment from the contract and trust it.
func TestTheContractHoldsForTheServicesLoader(t *testing.T) {
	for _, service := range Services() {
		t.Run(service, func(t *testing.T) {
			c, _ := For(service)
			env := map[string]string{}
			for _, v := range c.Vars {
				switch {
				case !v.Required:
				case v.URLOf != "":
					env[v.Name] = "http://" + v.URLOf + ".shop.svc.cluster.local:8080"
				case v.File:
					env[v.Name] = "/run/secrets/" + strings.ToLower(v.Name)
				default:
					env[v.Name] = "stand-in"
				}
			}
			if err := c.Check(env); err != nil {
				t.Fatalf("the required variables, filled from the contract: %v", err)
			}
			for _, v := range c.Vars {
				if v.Required {
					without := maps.Clone(env)
					delete(without, v.Name)
					if err := c.Check(without); err == nil || !strings.Contains(err.Error(), v.Name+": required, not set") {
						t.Errorf("without %s: %v, want it named as not set", v.Name, err)
					}
				}
				if v.RequiredWith != "" {
					with := maps.Clone(env)
					with["REDIS_ADDR"] = "redis.data.svc:6379" // a Redis login needs a Redis
					with[v.RequiredWith] = "stand-in"
					if err := c.Check(with); err == nil || !strings.Contains(err.Error(), v.Name+": required when "+v.RequiredWith+" is set") {
						t.Errorf("%s set without %s: %v, want %s named", v.RequiredWith, v.Name, err, v.Name)
					}
					with[v.Name] = "/run/secrets/x"
					if err := c.Check(with); err != nil {
						t.Errorf("%s with %s: %v", v.RequiredWith, v.Name, err)
					}
				}
			}
		})
	}
}

// Check runs the service's own rules and reads nothing but the map.
func TestCheckUsesTheServicesRulesAndOnlyTheMap(t *testing.T) {
	t.Setenv("OIDC_ISSUER", "https://from-the-process.example.com")
	order, _ := For("order")
	env := map[string]string{"OIDC_AUDIENCE": "order", "DB_CREDENTIALS_FILE": "/run/db/creds.json",
		"USER_URL": "user.shop:8080", "PAYMENT_URL": "http://payment.payments:8080", "OAUTH_CLIENT_ID": "order",
		"OAUTH_CLIENT_SECRET_FILE": "/run/oauth/client_secret", "REDIS_USERNAME": "order"}
	err := order.Check(env)
	for _, want := range []string{"OIDC_ISSUER: required, not set"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
	env["OIDC_ISSUER"] = "https://id.example.com"
	err = order.Check(env)
	for _, want := range []string{"USER_URL: must be an http(s) URL", "REDIS_PASSWORD_FILE: required when REDIS_USERNAME is set",
		"REDIS_USERNAME: set, but REDIS_ADDR is empty"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
	if err := (Contract{Service: "made-up"}).Check(env); err == nil {
		t.Error("a contract not from For checked something")
	}
}

// A struct whose tags the contract can't describe faithfully is refused,
// the error naming the field.
func TestBadTagsAreRefused(t *testing.T) {
	type (
		fileOption struct {
			Key string `env:"KEY_FILE,file"`
		}
		unknownContract struct {
			Key string `env:"KEY_FILE" contract:"fiel"`
		}
		unknownService struct {
			URL string `env:"NOPE_URL" contract:"url=nope"`
		}
		emptyURL struct {
			URL string `env:"USER_URL" contract:"url="`
		}
		fileNotString struct {
			Port int `env:"PORT" contract:"file"`
		}
		requiredWithDefault struct {
			Port int `env:"PORT,required" envDefault:"80"`
		}
		lowerCase struct {
			Port int `env:"port"`
		}
		untagged struct {
			Port int
		}
		twice struct {
			Common
			Port int `env:"HTTP_PORT"`
		}
		withUnknown struct {
			Pass string `env:"PASS_FILE" contract:"file,requiredWith=USER"`
		}
		fileAndURL struct {
			URL string `env:"USER_URL" contract:"file,url=user"`
		}
		emptyContract struct {
			URL string `env:"USER_URL" contract:""`
		}
		unexportedTagged struct {
			port int `env:"PORT"`
		}
	)
	_ = unexportedTagged{}.port
	for _, tc := range []struct {
		name, want string
		cfg        func() any
	}{
		{"the env file option", `fileOption.Key: env option "file"`, func() any { return new(fileOption) }},
		{"an unknown contract option", `unknownContract.Key: contract option "fiel"`, func() any { return new(unknownContract) }},
		{"a URL of an unknown service", `unknownService.URL: contract url=nope: no such service`, func() any { return new(unknownService) }},
		{"an empty url=", `emptyURL.URL: contract url="" is not a service name`, func() any { return new(emptyURL) }},
		{"a file that is not a string", `fileNotString.Port: a file path or URL must be a string`, func() any { return new(fileNotString) }},
		{"required with a default", `requiredWithDefault.Port: PORT is required and has a default`, func() any { return new(requiredWithDefault) }},
		{"a lower-case name", `lowerCase.Port: env name "port"`, func() any { return new(lowerCase) }},
		{"an exported field without a tag", `untagged.Port: exported but has no env tag`, func() any { return new(untagged) }},
		{"a variable declared twice", `twice.Port: HTTP_PORT is declared twice`, func() any { return new(twice) }},
		{"requiredWith an unknown variable", `PASS_FILE: requiredWith=USER: no such variable`, func() any { return new(withUnknown) }},
		{"both a file and a URL", `fileAndURL.URL: both a file and a URL`, func() any { return new(fileAndURL) }},
		{"an empty contract tag", `emptyContract.URL: empty contract tag`, func() any { return new(emptyContract) }},
		{"an unexported field with a tag", `unexportedTagged.port: unexported`, func() any { return new(unexportedTagged) }},
		{"not a pointer to a struct", `must be a pointer to a struct`, func() any { return fileOption{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := derive("test", tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "contract test: ") {
				t.Errorf("got %+v, %v; want an error containing %q", c, err, tc.want)
			}
		})
	}
}

// Embedded and nested groups follow caarlos0/env: fields are promoted,
// envPrefix prefixes the names; env:"-" and unexported fields are skipped.
func TestGroupsAndPrefixes(t *testing.T) {
	type group struct {
		Addr string `env:"ADDR,required"`
		File string `env:"PASSWORD_FILE" contract:"file"`
	}
	type cfg struct {
		Payment
		Cache   group  `envPrefix:"CACHE_"`
		Skipped string `env:"-"`
		hidden  string
		Wait    time.Duration `env:"WAIT" envDefault:"1s"`
	}
	_ = cfg{}.hidden
	c, err := derive("test", func() any { return new(cfg) })
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range c.Vars[len(common):] {
		names = append(names, fmtVar(v))
	}
	want := []string{
		"CACHE_ADDR required=true default= file=false url= requiredWith=",
		"CACHE_PASSWORD_FILE required=false default= file=true url= requiredWith=",
		"WAIT required=false default=1s file=false url= requiredWith=",
	}
	if !reflect.DeepEqual(c.Vars[:len(common)], common) || !slices.Equal(names, want) {
		t.Errorf("got %v after Common, want %v", names, want)
	}
}
