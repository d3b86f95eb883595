package podconfig

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/bulwark-platform/bulwark/infra/config"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/services/contract"
)

// Environ is the pod's environment as the service sees it at start-up:
// the literal variables, the ports the Deployment sets from the graph, and
// for variables read from a Secret a stand-in (their value is the
// Secret's; the stack check reads the real one).
func (p Pod) Environ(port, metricsPort int) map[string]string {
	env := maps.Clone(p.Env)
	env["HTTP_PORT"], env["METRICS_PORT"] = strconv.Itoa(port), strconv.Itoa(metricsPort)
	for k, ref := range p.SecretEnv {
		env[k] = "<" + ref.Secret + "/" + ref.Key + ">"
	}
	return env
}

// Check holds one pod's configuration against the service's contract
// (services/contract): the service's own loader and rules accept the
// environment, every variable that names a file names one the pod mounts,
// and every callee URL is the callee the contract says. A service with
// no contract (not built on the platform's library) passes unchecked;
// Contracted says which did.
func Check(c contract.Contract, p Pod, port, metricsPort int) error {
	env := p.Environ(port, metricsPort)
	var errs []string
	if err := c.Check(env); err != nil {
		errs = append(errs, err.Error())
	}
	for _, v := range c.Vars {
		val, set := env[v.Name]
		switch {
		case !set:
			continue
		case v.File:
			if _, mounted := p.Files[val]; !mounted {
				errs = append(errs, fmt.Sprintf("%s: %s is no file the pod mounts (mounted: %s)", v.Name, val, strings.Join(slices.Sorted(maps.Keys(p.Files)), ", ")))
			}
		case v.URLOf != "":
			if !strings.HasPrefix(val, "http://"+v.URLOf+".") {
				errs = append(errs, fmt.Sprintf("%s: %s is not the URL of %s", v.Name, val, v.URLOf))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(errs, "; "))
}

// CheckAll checks every service of the graph that has a contract, each
// failure named by the service's graph entry: a configuration that would
// leave a pod stopping at start-up registers nothing.
func CheckAll(cfg *config.Config, pods []Pod) error {
	var l fielderr.List
	for i, s := range cfg.Graph.Services {
		c, ok := contract.For(s.Name)
		if !ok {
			continue
		}
		if err := Check(c, pods[i], s.Port, s.MetricsPort); err != nil {
			l.Add(fielderr.ErrRequired, fmt.Sprintf("%s:graph.services[%d]", config.Namespace, i),
				"service %s would not start: %v (its contract: services/contract)", s.Name, err)
		}
	}
	return l.Err()
}

// Contracted lists the graph's services that have a contract.
func Contracted(cfg *config.Config) []string {
	var out []string
	for _, s := range cfg.Graph.Services {
		if _, ok := contract.For(s.Name); ok {
			out = append(out, s.Name)
		}
	}
	return out
}
