package secrets

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
)

// Validate checks the invariants least privilege rests on, whoever built
// the plan (the compiler, or a hand-edited stack output the Vault layer
// reads): every error names its field under "plan".
//
//   - A service's role is bound to exactly one service account in exactly
//     one namespace (never "*") for one audience, and its policies grant
//     only reads under that service's own KV prefix (<ns>/<svc>/) and of
//     its own database credentials.
//   - A secret store's role grants only reads of exact static-secret paths
//     of its own namespace; the identity provider's store, only reads of
//     the services' oauth-client secrets.
//   - Token and credential lifetimes lie within config's bounds.
//   - Names are unique; every static secret and database role is one.
func (p *Plan) Validate() error {
	var l fielderr.List
	bad := l.Add
	policies := map[string]int{}
	for i, pol := range p.Policies {
		if j, dup := policies[pol.Name]; dup {
			bad(fielderr.ErrDuplicate, fmt.Sprintf("plan.policies[%d].name", i), "%q is also plan.policies[%d]", pol.Name, j)
		}
		policies[pol.Name] = i
	}
	roles := map[string]int{}
	used := map[string]bool{}
	for i, r := range p.Roles {
		rp := fmt.Sprintf("plan.roles[%d]", i)
		if j, dup := roles[r.Name]; dup {
			bad(fielderr.ErrDuplicate, rp+".name", "%q is also plan.roles[%d]", r.Name, j)
		}
		roles[r.Name] = i
		for _, f := range []struct{ field, v string }{{"serviceAccount", r.ServiceAccount}, {"namespace", r.Namespace}, {"audience", r.Audience}} {
			if f.v == "" || strings.ContainsAny(f.v, "*,") {
				bad(fielderr.ErrForbidden, rp+"."+f.field, "must name exactly one %s, got %q", f.field, f.v)
			}
		}
		lifetimes(bad, rp, r.TTL, r.MaxTTL)
		if len(r.Policies) == 0 {
			bad(fielderr.ErrRequired, rp+".policies", "a role without a policy logs in to nothing")
		}
		for j, name := range r.Policies {
			k, ok := policies[name]
			if !ok {
				bad(fielderr.ErrUnknown, fmt.Sprintf("%s.policies[%d]", rp, j), "no policy %q in the plan", name)
				continue
			}
			used[name] = true
			p.checkRules(bad, fmt.Sprintf("plan.policies[%d]", k), p.Policies[k], r)
		}
	}
	for i, pol := range p.Policies {
		if !used[pol.Name] {
			bad(fielderr.ErrUnknown, fmt.Sprintf("plan.policies[%d]", i), "policy %q is bound to no role", pol.Name)
		}
	}
	statics := map[string]int{}
	for i, s := range p.Static {
		if j, dup := statics[s.Path]; dup {
			bad(fielderr.ErrDuplicate, fmt.Sprintf("plan.static[%d].path", i), "%q is also plan.static[%d]", s.Path, j)
		}
		statics[s.Path] = i
		if s.Path != s.Namespace+"/"+s.Service+"/"+s.Name {
			bad(fielderr.ErrInvalid, fmt.Sprintf("plan.static[%d].path", i), "%q is not %s/%s/%s", s.Path, s.Namespace, s.Service, s.Name)
		}
	}
	if d := p.Database; d != nil {
		byRole := map[string]int{}
		for i, r := range d.Roles {
			rp := fmt.Sprintf("plan.database.roles[%d]", i)
			if j, dup := byRole[r.Name]; dup {
				bad(fielderr.ErrDuplicate, rp+".name", "%q is also plan.database.roles[%d]", r.Name, j)
			}
			byRole[r.Name] = i
			lifetimes(bad, rp, r.TTL, r.MaxTTL)
			ci := slices.IndexFunc(d.Connections, func(c Connection) bool { return c.Name == r.Connection })
			switch {
			case ci < 0:
				bad(fielderr.ErrUnknown, rp+".connection", "no connection %q in the plan", r.Connection)
			case !slices.Contains(d.Connections[ci].AllowedRoles, r.Name):
				bad(fielderr.ErrForbidden, rp+".connection", "connection %q does not allow role %q", r.Connection, r.Name)
			}
		}
	}
	return l.Err()
}

// checkRules holds a role's policy to what the role may read.
func (p *Plan) checkRules(bad func(error, string, string, ...any), path string, pol Policy, r Role) {
	for j, rule := range pol.Rules {
		rp := fmt.Sprintf("%s.rules[%d]", path, j)
		if !slices.Equal(rule.Capabilities, []string{"read"}) {
			bad(fielderr.ErrForbidden, rp+".capabilities", "services and secret stores only read, got %s", quoteAll(rule.Capabilities))
		}
		if !p.allowed(r, rule.Path) {
			owner := "the secret store of " + r.Namespace
			if r.Service != "" {
				owner = "service " + r.Namespace + "/" + r.Service
			}
			bad(fielderr.ErrForbidden, rp+".path", "%q is outside what %s may read (%s)", rule.Path, owner, strings.Join(p.prefixes(r), ", "))
		}
	}
}

// prefixes describes what a role may read, for messages.
func (p *Plan) prefixes(r Role) []string {
	if r.Service != "" {
		return []string{p.Mounts.KV + "/data/" + r.Namespace + "/" + r.Service + "/", p.Mounts.Database + "/creds/" + r.Service}
	}
	if r.Namespace == p.IdentityNamespace {
		return []string{p.Mounts.KV + "/data/<namespace>/<service>/" + graph.OAuthClientSecret + " of a service"}
	}
	return []string{p.Mounts.KV + "/data/" + r.Namespace + "/<service>/<secret> of a static secret"}
}

func (p *Plan) allowed(r Role, path string) bool {
	if r.Service != "" {
		own := p.Mounts.KV + "/data/" + r.Namespace + "/" + r.Service + "/"
		rest, ok := strings.CutPrefix(path, own)
		switch {
		case ok:
			return rest != "" && !strings.Contains(rest, "..") && !strings.ContainsAny(rest, "+") && (rest == "*" || !strings.Contains(rest, "*"))
		default:
			return path == p.Mounts.Database+"/creds/"+r.Service
		}
	}
	rest, ok := strings.CutPrefix(path, p.Mounts.KV+"/data/")
	if !ok {
		return false
	}
	if p.IdentityNamespace != "" && r.Namespace == p.IdentityNamespace {
		return slices.ContainsFunc(p.Static, func(s StaticSecret) bool { return s.Name == graph.OAuthClientSecret && s.Path == rest })
	}
	return slices.ContainsFunc(p.Static, func(s StaticSecret) bool { return s.Namespace == r.Namespace && s.Path == rest })
}

func lifetimes(bad func(error, string, string, ...any), path string, ttl, maxTTL int) {
	minS, maxS := int(config.MinLeaseTTL.Seconds()), int(config.MaxLeaseTTL.Seconds())
	switch {
	case ttl < minS:
		bad(fielderr.ErrOutOfRange, path+".ttl", "must be at least %ds, got %ds", minS, ttl)
	case maxTTL > maxS:
		bad(fielderr.ErrOutOfRange, path+".maxTTL", "%ds is above the maximum of %ds", maxTTL, maxS)
	case ttl > maxTTL:
		bad(fielderr.ErrConflict, path+".ttl", "%ds exceeds maxTTL %ds", ttl, maxTTL)
	}
}
