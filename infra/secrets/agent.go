package secrets

import (
	"fmt"
	"strconv"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// Injection is what a pod needs for the agent injector to render its
// service's database credentials: the pod annotations (the chosen
// distribution's) and the projected token the agent logs in with.
type Injection struct {
	Service     string            `json:"service"`
	Annotations map[string]string `json:"annotations"`
	// TokenVolume is a projected service-account token for Vault's
	// audience; the agent logs in with it. The application container
	// mounts no token at all.
	TokenVolume TokenVolume `json:"tokenVolume"`
	// CredentialsFile is where the credentials appear in the application
	// container: its DB_CREDENTIALS_FILE.
	CredentialsFile string `json:"credentialsFile"`
	// Template renders the credentials file (also what `bao agent` runs
	// in the rotation test).
	Template string `json:"template"`
	// Role and AuthPath are the agent's login.
	Role     string `json:"role"`
	AuthPath string `json:"authPath"`
	// CredentialsPath is the database engine's path the template reads.
	CredentialsPath string `json:"credentialsPath"`
}

// TokenVolume is a projected service-account token volume.
type TokenVolume struct {
	Name              string `json:"name"`
	Audience          string `json:"audience"`
	ExpirationSeconds int64  `json:"expirationSeconds"`
	// Path of the token file within the volume.
	Path string `json:"path"`
}

// Where the agent puts the rendered files in the application container,
// and the credentials file's name there.
const (
	AgentSecretsDir     = "/vault/secrets"
	CredentialsFileName = "database.json"
	// TokenVolumeName is the projected token volume of pods that log in.
	TokenVolumeName = "vault-token"
	// tokenLifetime: the kubelet renews the projected token at 80 % of
	// this; the agent reads the file at each login.
	tokenLifetime = 3600
)

// AnnotationPrefix is the agent injector's annotation prefix of a
// distribution: OpenBao's injector (openbao-k8s) reads its own domain.
func AnnotationPrefix(distribution string) string {
	if distribution == "vault" {
		return "vault.hashicorp.com/"
	}
	return "openbao.openbao.org/"
}

// CredentialsTemplate renders the database engine's credentials as the
// JSON the services read (services' secrets.DBCredentials): the lease's
// username and password, JSON-quoted, and where to connect.
func CredentialsTemplate(path string, r DBRole) string {
	return fmt.Sprintf(`{{ with secret %q -}}
{"username":{{ .Data.username | toJSON }},"password":{{ .Data.password | toJSON }},"database":%q,"host":%q,"port":%d}
{{- end }}
`, path, r.Database, r.Host, r.Port)
}

// injections are, per service with a database role, the agent's
// annotations: log in with the service's role through the projected token,
// render the credentials before the application starts (pre-populate) and
// keep them fresh as leases end (the sidecar), into the application
// container only, as the application's own user.
func injections(cfg *config.Config, p *Plan) []Injection {
	if p.Database == nil {
		return nil
	}
	pre := AnnotationPrefix(p.Distribution)
	var out []Injection
	for _, r := range p.Database.Roles {
		path := p.Mounts.Database + "/creds/" + r.Name
		in := Injection{
			Service:         r.Service,
			TokenVolume:     TokenVolume{Name: TokenVolumeName, Audience: p.Kubernetes.Audience, ExpirationSeconds: tokenLifetime, Path: "token"},
			CredentialsFile: AgentSecretsDir + "/" + CredentialsFileName,
			Template:        CredentialsTemplate(path, r),
			Role:            r.Service,
			AuthPath:        "auth/" + p.Mounts.Kubernetes,
			CredentialsPath: path,
		}
		a := map[string]string{
			"agent-inject":       "true",
			"agent-pre-populate": "true",
			"service":            p.Address,
			"role":               in.Role,
			"auth-path":          in.AuthPath,
			// The agent logs in with the audience-bound projected token,
			// not an automounted API token (there is none).
			"agent-service-account-token-volume-name":      TokenVolumeName,
			"secret-volume-path":                           AgentSecretsDir,
			"agent-inject-secret-" + CredentialsFileName:   path,
			"agent-inject-template-" + CredentialsFileName: in.Template,
			// Readable by the application's user only: the agent runs as it.
			"agent-inject-perms-" + CredentialsFileName: "0400",
			"agent-run-as-same-user":                    "true",
			"agent-inject-containers":                   r.Service,
			// A template that can't render (a revoked role, Vault away
			// longer than the retries) ends the sidecar, so the pod
			// restarts rather than serving with credentials about to die.
			"template-config-exit-on-retry-failure": "true",
			"agent-requests-cpu":                    "10m",
			"agent-requests-mem":                    "32Mi",
			"agent-limits-cpu":                      "100m",
			"agent-limits-mem":                      "64Mi",
			"agent-requests-ephemeral":              "16Mi",
			"agent-limits-ephemeral":                "64Mi",
		}
		if cfg.Install.Vault && cfg.Vault.Mode != "dev" {
			// The installed Vault's certificate is the private CA's: the
			// agent verifies it with the namespace's trust bundle.
			a["tls-secret"] = naming.TrustBundle
			a["ca-cert"] = "/vault/tls/ca.crt"
		}
		in.Annotations = map[string]string{}
		for k, v := range a {
			in.Annotations[pre+k] = v
		}
		out = append(out, in)
	}
	return out
}

// Injection returns the service's injection, if it logs in to Vault.
func (s *Set) Injection(service string) (Injection, bool) {
	for _, in := range s.Injections {
		if in.Service == service {
			return in, true
		}
	}
	return Injection{}, false
}

// quoteAll is strconv.Quote over a list, for messages.
func quoteAll(vs []string) string {
	out := ""
	for i, v := range vs {
		if i > 0 {
			out += ", "
		}
		out += strconv.Quote(v)
	}
	return out
}
