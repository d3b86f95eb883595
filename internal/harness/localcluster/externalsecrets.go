package localcluster

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bulwark-platform/bulwark/internal/harness/proc"
)

// ExternalSecrets is the External Secrets controller (v0.16.2, built by
// `make tools` from its served module): it runs beside the control plane,
// out of cluster with its own identity, so that ExternalSecrets become
// real Secrets with the values in the local OpenBao. Only the controller:
// its webhook and cert-controller are other subcommands, and the CRDs it
// serves have no conversion webhook.
const ExternalSecrets = "external-secrets"

// externalSecretsUser is the controller's static-token user.
const externalSecretsUser = "bulwark-external-secrets"

// externalSecretsRole is the ClusterRole (and its binding) that grants
// externalSecretsUser what the upstream chart grants the controller's
// service account.
const externalSecretsRole = "bulwark-local:external-secrets-controller"

// externalSecretsRules are the rules of the chart's controller ClusterRole
// (deploy/charts/external-secrets/templates/rbac.yaml of v0.16.2) with the
// chart's defaults: every reconciler on (cluster stores, cluster external
// and push secrets) and the finalizers subresources (openshiftFinalizers).
// The chart's leader-election Role is left out: the controller runs with
// leader election off.
func externalSecretsRules() []rbacv1.PolicyRule {
	es := "external-secrets.io"
	gen := "generators.external-secrets.io"
	rule := func(group string, resources []string, verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: resources, Verbs: verbs}
	}
	return []rbacv1.PolicyRule{
		rule(es, []string{"secretstores", "clustersecretstores", "externalsecrets", "clusterexternalsecrets", "pushsecrets", "clusterpushsecrets"},
			"get", "list", "watch"),
		rule(es, []string{
			"externalsecrets", "externalsecrets/status", "externalsecrets/finalizers",
			"secretstores", "secretstores/status", "secretstores/finalizers",
			"clustersecretstores", "clustersecretstores/status", "clustersecretstores/finalizers",
			"clusterexternalsecrets", "clusterexternalsecrets/status", "clusterexternalsecrets/finalizers",
			"pushsecrets", "pushsecrets/status", "pushsecrets/finalizers",
			"clusterpushsecrets", "clusterpushsecrets/status", "clusterpushsecrets/finalizers",
		}, "get", "update", "patch"),
		rule(gen, []string{"generatorstates"}, "get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"),
		rule(gen, []string{
			"acraccesstokens", "clustergenerators", "ecrauthorizationtokens", "fakes", "gcraccesstokens", "githubaccesstokens",
			"quayaccesstokens", "passwords", "stssessiontokens", "uuids", "vaultdynamicsecrets", "webhooks", "grafanas",
		}, "get", "list", "watch"),
		rule("", []string{"serviceaccounts", "namespaces"}, "get", "list", "watch"),
		rule("", []string{"configmaps"}, "get", "list", "watch"),
		rule("", []string{"secrets"}, "get", "list", "watch", "create", "update", "delete", "patch"),
		// The Vault provider's Kubernetes auth logs in with a token it
		// requests for the SecretStore's service account.
		rule("", []string{"serviceaccounts/token"}, "create"),
		rule("", []string{"events"}, "create", "patch"),
		rule(es, []string{"externalsecrets"}, "create", "update", "delete"),
		rule(es, []string{"pushsecrets"}, "create", "update", "delete"),
	}
}

// externalSecretsRBAC makes the controller's ClusterRole and binding hold
// what externalSecretsRules says; unchanged objects cost one read each
// (this runs at every Up).
func externalSecretsRBAC(ctx context.Context, kubeconfig string) error {
	cs, err := Client(kubeconfig)
	if err != nil {
		return err
	}
	rbac := cs.RbacV1()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: externalSecretsRole}, Rules: externalSecretsRules()}
	cur, err := rbac.ClusterRoles().Get(ctx, role.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = rbac.ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
	case err == nil && !reflect.DeepEqual(cur.Rules, role.Rules):
		cur.Rules = role.Rules
		_, err = rbac.ClusterRoles().Update(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("ClusterRole %s: %w", role.Name, err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: externalSecretsRole},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: externalSecretsRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: externalSecretsUser}},
	}
	curB, err := rbac.ClusterRoleBindings().Get(ctx, binding.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = rbac.ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{})
	case err == nil && !reflect.DeepEqual(curB.Subjects, binding.Subjects):
		// The role reference can't change; the name pins it.
		curB.Subjects = binding.Subjects
		_, err = rbac.ClusterRoleBindings().Update(ctx, curB, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("ClusterRoleBinding %s: %w", binding.Name, err)
	}
	return nil
}

// externalSecretsArgs are the controller's flags. It reads its kubeconfig
// from KUBECONFIG (it has no --kubeconfig flag).
func externalSecretsArgs(metricsPort int) []string {
	return []string{
		// Its only listener (the webhook server is not started by the
		// controller command), on loopback: the default :8080 would be
		// on every interface and collide between two local clusters.
		fmt.Sprintf("--metrics-addr=127.0.0.1:%d", metricsPort),
		// One instance per cluster: no lease to take.
		"--enable-leader-election=false",
		"--zap-time-encoding=iso8601",
	}
}

// externalSecrets starts the External Secrets controller unless it runs;
// when it is not built it returns why it is off (no error: ExternalSecrets
// then stay unsynced, and a check that needs them names the reason).
func (o *Options) externalSecrets(ctx context.Context, kubeconfig string) (off string, err error) {
	bin := filepath.Join(o.BinDir, ExternalSecrets)
	if _, err := os.Stat(bin); err != nil {
		return fmt.Sprintf("not built (%s is missing: `make tools` builds it)", bin), nil
	}
	if err := externalSecretsRBAC(ctx, kubeconfig); err != nil {
		return "", fmt.Errorf("local cluster: the External Secrets controller's RBAC: %w", err)
	}
	if proc.Alive(o.StateDir, ExternalSecrets) {
		return "", nil
	}
	// Without its CRDs (a tool folder from before they joined the
	// add-ons) it would wait for their informers forever.
	cs, err := Client(kubeconfig)
	if err != nil {
		return "", err
	}
	if _, err := cs.Discovery().ServerResourcesForGroupVersion("external-secrets.io/v1"); apierrors.IsNotFound(err) {
		return "its CRDs (external-secrets.io/v1) are not installed: `make tools` puts them in the add-on CRD folder", nil
	} else if err != nil {
		return "", fmt.Errorf("local cluster: looking for the External Secrets CRDs: %w", err)
	}
	ports, err := proc.FreePorts(1)
	if err != nil {
		return "", fmt.Errorf("local cluster: finding a free port: %w", err)
	}
	o.logf("starting the External Secrets controller")
	err = proc.Start(o.StateDir, proc.Spec{
		Name: ExternalSecrets, Path: bin, Args: externalSecretsArgs(ports[0]), Dir: o.StateDir,
		Env: append(os.Environ(), "HOME="+o.StateDir, "KUBECONFIG="+filepath.Join(o.StateDir, "kubeconfig-external-secrets")),
	})
	if err != nil {
		return "", fmt.Errorf("local cluster: %w", err)
	}
	// The metrics endpoint answers before the controllers have synced
	// their caches; their worker gauges appear once they have, which
	// needs the CRDs and the RBAC above: wait for the ExternalSecret one.
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[0])
	if err := waitMetric(ctx, metrics, `controller_runtime_active_workers{controller="externalsecret"}`, 60*time.Second); err != nil {
		return "", o.controllerFailed(ExternalSecrets, err)
	}
	return "", nil
}

// waitMetric polls a Prometheus endpoint until a sample's name and labels
// start with series.
func waitMetric(ctx context.Context, url, series string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		last = hasMetric(ctx, url, series)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func hasMetric(ctx context.Context, url, series string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), series) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%s has no %s yet", url, series)
}
