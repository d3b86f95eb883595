package testsvc

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Metric reads one series, written as exposed (`name{label="v",...}`),
// from a service's Prometheus /metrics endpoint.
func Metric(metricsURL, series string) (float64, error) {
	resp, err := http.Get(metricsURL)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s has no %s", metricsURL, series)
}

// Families lists the metric families a service's /metrics exposes (its
// "# TYPE" lines).
func Families(metricsURL string) (map[string]bool, error) {
	resp, err := http.Get(metricsURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			if name, _, ok := strings.Cut(rest, " "); ok {
				out[name] = true
			}
		}
	}
	return out, nil
}
