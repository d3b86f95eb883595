package stackrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/bulwark-platform/bulwark/infra/program"
	"github.com/bulwark-platform/bulwark/internal/objpath"
)

// Resource is one Kubernetes object of the stack as Pulumi last read it.
type Resource struct {
	Type    string
	Outputs map[string]any
}

// resources reads the stack's checkpoint: every custom Kubernetes resource
// with the outputs the API server returned for it.
func (r *Runner) resources(ctx context.Context, s auto.Stack) ([]Resource, error) {
	dep, err := s.Export(ctx)
	if err != nil {
		return nil, fmt.Errorf("exporting stack %s: %w", r.Stack, err)
	}
	var d apitype.DeploymentV3
	if err := json.Unmarshal(dep.Deployment, &d); err != nil {
		return nil, fmt.Errorf("reading the checkpoint of stack %s: %w", r.Stack, err)
	}
	var out []Resource
	for _, res := range d.Resources {
		t := string(res.Type)
		if !res.Custom || !strings.HasPrefix(t, "kubernetes:") || strings.HasPrefix(t, "pulumi:providers:") {
			continue
		}
		out = append(out, Resource{Type: t, Outputs: res.Outputs})
	}
	return out, nil
}

// Check is one line of the security posture.
type Check struct {
	Name      string
	Pass, Of  int
	Offenders []string
}

// OK reports whether every object passed.
func (c Check) OK() bool { return c.Pass == c.Of && c.Of > 0 }

// Posture evaluates the security promises over the stack's objects.
func Posture(resources []Resource) []Check {
	byKind := map[string][]Resource{}
	for _, r := range resources {
		byKind[kind(r.Type)] = append(byKind[kind(r.Type)], r)
	}
	deployments := byKind["Deployment"]
	check := func(name string, objs []Resource, ok func(Resource) bool) Check {
		c := Check{Name: name, Of: len(objs)}
		for _, o := range objs {
			if ok(o) {
				c.Pass++
			} else {
				c.Offenders = append(c.Offenders, objName(o))
			}
		}
		return c
	}
	covered := func(targets []Resource, match func(d, t Resource) bool) func(Resource) bool {
		return func(d Resource) bool {
			return slices.ContainsFunc(targets, func(t Resource) bool {
				return objpath.String(t.Outputs, "metadata", "namespace") == objpath.String(d.Outputs, "metadata", "namespace") && match(d, t)
			})
		}
	}
	sameSelector := func(d, t Resource) bool {
		return maps.Equal(strMap(objpath.Get(d.Outputs, "spec", "selector", "matchLabels")), strMap(objpath.Get(t.Outputs, "spec", "selector", "matchLabels")))
	}
	targetsIt := func(d, t Resource) bool {
		ref := "scaleTargetRef"
		if kind(t.Type) == "VerticalPodAutoscaler" {
			ref = "targetRef"
		}
		return objpath.String(t.Outputs, "spec", ref, "kind") == "Deployment" && objpath.String(t.Outputs, "spec", ref, "name") == objpath.String(d.Outputs, "metadata", "name")
	}
	var meshed []Resource // application namespaces: those Istio injects into
	for _, ns := range byKind["Namespace"] {
		if objpath.String(ns.Outputs, "metadata", "labels", "istio-injection") == "enabled" {
			meshed = append(meshed, ns)
		}
	}
	inNamespace := func(objs []Resource, ok func(Resource) bool) func(Resource) bool {
		return func(ns Resource) bool {
			return slices.ContainsFunc(objs, func(o Resource) bool {
				return objpath.String(o.Outputs, "metadata", "namespace") == objpath.String(ns.Outputs, "metadata", "name") && ok(o)
			})
		}
	}
	empty := func(v any) bool { m, _ := v.(map[string]any); return len(m) == 0 }
	return []Check{
		check(`namespaces enforcing Pod Security "restricted"`, meshed, func(r Resource) bool {
			return objpath.String(r.Outputs, "metadata", "labels", "pod-security.kubernetes.io/enforce") == "restricted"
		}),
		check("namespaces with STRICT mTLS", meshed, inNamespace(byKind["PeerAuthentication"], func(p Resource) bool {
			return objpath.Get(p.Outputs, "spec", "selector") == nil && objpath.String(p.Outputs, "spec", "mtls", "mode") == "STRICT"
		})),
		check("namespaces denying every request not explicitly allowed", meshed, inNamespace(byKind["AuthorizationPolicy"], func(a Resource) bool {
			return empty(objpath.Get(a.Outputs, "spec"))
		})),
		check("namespaces denying all ingress and egress not explicitly allowed", meshed, inNamespace(byKind["NetworkPolicy"], func(n Resource) bool {
			types, _ := objpath.Get(n.Outputs, "spec", "policyTypes").([]any)
			return empty(objpath.Get(n.Outputs, "spec", "podSelector")) && objpath.Get(n.Outputs, "spec", "ingress") == nil &&
				objpath.Get(n.Outputs, "spec", "egress") == nil && len(types) == 2
		})),
		check("deployments with every replica ready", deployments, func(r Resource) bool {
			want, _ := objpath.Get(r.Outputs, "spec", "replicas").(float64)
			ready, _ := objpath.Get(r.Outputs, "status", "readyReplicas").(float64)
			return want > 0 && ready >= want
		}),
		check("deployments whose containers have liveness, readiness and startup probes", deployments, allContainers(func(c map[string]any) bool {
			return objpath.Get(c, "livenessProbe") != nil && objpath.Get(c, "readinessProbe") != nil && objpath.Get(c, "startupProbe") != nil
		})),
		check("deployments whose containers have CPU, memory and ephemeral-storage requests and limits", deployments, allContainers(func(c map[string]any) bool {
			for _, part := range []string{"requests", "limits"} {
				for _, res := range []string{"cpu", "memory", "ephemeral-storage"} {
					if objpath.String(c, "resources", part, res) == "" {
						return false
					}
				}
			}
			return true
		})),
		check("deployments with a restricted securityContext", deployments, restricted),
		check("deployments covered by a PodDisruptionBudget", deployments, covered(byKind["PodDisruptionBudget"], sameSelector)),
		check("deployments scaled by a HorizontalPodAutoscaler", deployments, covered(byKind["HorizontalPodAutoscaler"], targetsIt)),
		check("deployments sized by a VerticalPodAutoscaler", deployments, covered(byKind["VerticalPodAutoscaler"], targetsIt)),
	}
}

func restricted(d Resource) bool {
	pod, _ := objpath.Get(d.Outputs, "spec", "template", "spec").(map[string]any)
	podNonRoot, _ := objpath.Get(pod, "securityContext", "runAsNonRoot").(bool)
	podSeccomp := objpath.String(pod, "securityContext", "seccompProfile", "type")
	return allContainers(func(c map[string]any) bool {
		nonRoot, set := objpath.Get(c, "securityContext", "runAsNonRoot").(bool)
		if !set {
			nonRoot = podNonRoot
		}
		seccomp := objpath.String(c, "securityContext", "seccompProfile", "type")
		if seccomp == "" {
			seccomp = podSeccomp
		}
		roRoot, _ := objpath.Get(c, "securityContext", "readOnlyRootFilesystem").(bool)
		escalation, escSet := objpath.Get(c, "securityContext", "allowPrivilegeEscalation").(bool)
		drops, _ := objpath.Get(c, "securityContext", "capabilities", "drop").([]any)
		return nonRoot && roRoot && escSet && !escalation && seccomp == "RuntimeDefault" && slices.Contains(drops, any("ALL"))
	})(d)
}

func allContainers(ok func(map[string]any) bool) func(Resource) bool {
	return func(d Resource) bool {
		cs, _ := objpath.Get(d.Outputs, "spec", "template", "spec", "containers").([]any)
		if len(cs) == 0 {
			return false
		}
		for _, c := range cs {
			m, _ := c.(map[string]any)
			if m == nil || !ok(m) {
				return false
			}
		}
		return true
	}
}

// WriteSummary prints resources by kind, the security posture and the
// stack outputs.
func WriteSummary(w io.Writer, res *Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\n== Bulwark stack %q: %s ==\n", res.Stack, changeLine(res.Up))
	counts := map[string]int{}
	for _, r := range res.Resources {
		counts[kind(r.Type)]++
	}
	fmt.Fprintf(tw, "\nResources by kind (%d):\n", len(res.Resources))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(tw, "  %s\t%d\n", k, counts[k])
	}
	fmt.Fprintf(tw, "\nSecurity posture:\n")
	for _, c := range Posture(res.Resources) {
		mark := "ok  "
		if !c.OK() {
			mark = "FAIL"
		}
		line := fmt.Sprintf("  [%s] %s\t%d/%d", mark, c.Name, c.Pass, c.Of)
		if len(c.Offenders) > 0 {
			line += "\t(" + strings.Join(c.Offenders, ", ") + ")"
		}
		fmt.Fprintln(tw, line)
	}
	if raw, ok := res.Up.Outputs["data"]; ok {
		if err := writeDataPosture(tw, raw.Value); err != nil {
			return err
		}
	}
	fmt.Fprintf(tw, "\nOutputs:\n")
	for _, k := range slices.Sorted(maps.Keys(res.Up.Outputs)) {
		if k == "vault" {
			// The whole plan the Vault layer applies: long, and summarised
			// by the secrets posture.
			fmt.Fprintf(tw, "  %s:\t(the Vault layer's plan: pulumi stack output vault)\n", k)
			continue
		}
		raw, err := json.Marshal(res.Up.Outputs[k].Value)
		if err != nil {
			return fmt.Errorf("output %s: %w", k, err)
		}
		fmt.Fprintf(tw, "  %s:\t%s\n", k, raw)
	}
	fmt.Fprintln(tw)
	return tw.Flush()
}

// writeDataPosture prints the stores: where they run, who owns which
// database, backups, TLS and authentication.
func writeDataPosture(w io.Writer, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var d program.DataOutput
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("reading the data output: %w", err)
	}
	var dbs []string
	for _, db := range d.Postgres.Databases {
		dbs = append(dbs, fmt.Sprintf("%s: %s (owner %s)", db.Service, db.Name, db.Owner))
	}
	tls := func(on bool) string {
		if on {
			return "on"
		}
		return "off (local only)"
	}
	fmt.Fprintf(w, "\nData posture:\n")
	for _, line := range [][2]string{
		{"PostgreSQL", d.Postgres.Where},
		{"  databases", strings.Join(dbs, ", ")},
		{"  backups", d.Postgres.Backups},
		{"  TLS", tls(d.Postgres.TLS)},
		{"  auth", d.Postgres.Auth},
		{"Redis", d.Redis.Where},
		{"  persistence", d.Redis.Backups},
		{"  TLS", tls(d.Redis.TLS)},
		{"  auth", d.Redis.Auth},
	} {
		fmt.Fprintf(w, "  %s\t%s\n", line[0], line[1])
	}
	return nil
}

func changeLine(up auto.UpResult) string {
	changes := up.Summary.ResourceChanges
	if changes == nil || len(*changes) == 0 {
		return up.Summary.Result
	}
	if len(*changes) == 1 && (*changes)["same"] > 0 {
		return fmt.Sprintf("%s, no changes (%d unchanged)", up.Summary.Result, (*changes)["same"])
	}
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(*changes)) {
		parts = append(parts, fmt.Sprintf("%d %s", (*changes)[op], op))
	}
	return up.Summary.Result + " (" + strings.Join(parts, ", ") + ")"
}

// kind is the last segment of a type token: kubernetes:apps/v1:Deployment.
func kind(t string) string { return t[strings.LastIndexByte(t, ':')+1:] }

func objName(r Resource) string {
	if ns := objpath.String(r.Outputs, "metadata", "namespace"); ns != "" {
		return ns + "/" + objpath.String(r.Outputs, "metadata", "name")
	}
	return objpath.String(r.Outputs, "metadata", "name")
}

func strMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	out := make(map[string]string, len(m))
	for k, x := range m {
		s, _ := x.(string)
		out[k] = s
	}
	return out
}

// SecretsPosture is what the summary says about secrets after both layers
// are up.
type SecretsPosture struct {
	// Secrets is the platform stack's "secrets" output.
	Secrets program.SecretsOutput
	// Policies, Roles, Mounts and DatabaseRoles are the Vault layer's
	// outputs; StaticSecrets the KV paths it seeded.
	Mounts, Policies, Roles, StaticSecrets, DatabaseRoles []string
	// Synced are the ExternalSecrets Ready with their Secret written, of
	// Secrets.ExternalSecrets; NotSynced says why the others are not.
	Synced    []string
	NotSynced map[string]string
}

// ReadSecretsPosture reads the posture from the two layers' results; the
// sync state is filled by the caller, which can see the cluster.
func ReadSecretsPosture(platform, vault *Result) (*SecretsPosture, error) {
	p := &SecretsPosture{NotSynced: map[string]string{}}
	if err := outputInto(platform, "secrets", &p.Secrets); err != nil {
		return nil, err
	}
	for k, dst := range map[string]*[]string{"mounts": &p.Mounts, "policies": &p.Policies, "roles": &p.Roles,
		"staticSecrets": &p.StaticSecrets, "databaseRoles": &p.DatabaseRoles} {
		if err := outputInto(vault, k, dst); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func outputInto(res *Result, key string, dst any) error {
	if res == nil {
		return nil
	}
	o, ok := res.Up.Outputs[key]
	if !ok {
		return nil
	}
	raw, err := json.Marshal(o.Value)
	if err != nil {
		return fmt.Errorf("output %s of stack %s: %w", key, res.Stack, err)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("output %s of stack %s: %w", key, res.Stack, err)
	}
	return nil
}

// WriteSecretsPosture prints the secrets posture: what Vault holds, who
// may read it, what is synced, and whose configuration contract holds.
func WriteSecretsPosture(w io.Writer, p *SecretsPosture) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	list := func(xs []string) string {
		if len(xs) == 0 {
			return "none"
		}
		return fmt.Sprintf("%d: %s", len(xs), strings.Join(xs, ", "))
	}
	synced := fmt.Sprintf("%d/%d", len(p.Synced), len(p.Secrets.ExternalSecrets))
	if len(p.NotSynced) > 0 {
		var why []string
		for _, k := range slices.Sorted(maps.Keys(p.NotSynced)) {
			why = append(why, k+": "+p.NotSynced[k])
		}
		synced += " (not yet: " + strings.Join(why, "; ") + ")"
	}
	fmt.Fprintf(tw, "\nSecrets posture:\n")
	for _, line := range [][2]string{
		{"Vault", p.Secrets.Vault},
		{"  mounts", list(p.Mounts)},
		{"  policies", list(p.Policies)},
		{"  roles (one service account each)", list(p.Roles)},
		{"  static secrets in KV", list(p.StaticSecrets)},
		{"  database roles (dynamic credentials)", list(p.DatabaseRoles)},
		{"External Secrets synced", synced},
		{"  refresh interval", p.Secrets.RefreshInterval},
		{"config contract holds", list(p.Secrets.ContractHolds)},
	} {
		fmt.Fprintf(tw, "  %s\t%s\n", line[0], line[1])
	}
	fmt.Fprintln(tw)
	return tw.Flush()
}
