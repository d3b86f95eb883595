package config

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/internal/fielderr"
	"github.com/bulwark-platform/bulwark/services/contract"
)

// SLO is a service's objectives, which its burn-rate alerts hold it to.
type SLO struct {
	// Availability is the share of requests that must not fail with a
	// 5xx (0.999: an error budget of 0.1 %).
	Availability float64 `json:"availability"`
	// LatencyTarget is the share of requests that must finish within
	// LatencyThreshold, which must be a bucket of the services' latency
	// histogram (contract.LatencyBuckets).
	LatencyTarget    float64       `json:"latencyTarget"`
	LatencyThreshold time.Duration `json:"latencyThreshold"`
}

// Objective bounds: above 99.99 % a 30-day budget is minutes, which no
// burn-rate window can see in time; below 90 % it is no objective.
const (
	MinObjective = 0.9
	MaxObjective = 0.9999
)

// SLOOf is a service's objectives: its own entry in slos, else slo.
func (o *Observability) SLOOf(service string) SLO {
	if s, ok := o.SLOs[service]; ok {
		return s
	}
	return o.SLO
}

func (o *Observability) validate(g *graph.Graph, bad badFunc) {
	o.SLO.validate("observability.slo", bad)
	names := make([]string, 0, len(o.SLOs))
	for name := range o.SLOs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := "observability.slos." + name
		if g.Service(name) == nil {
			bad(fielderr.ErrUnknown, path, "%q is not a service of the graph", name)
			continue
		}
		s := o.SLOs[name]
		s.validate(path, bad)
	}
}

func (s *SLO) validate(path string, bad badFunc) {
	for _, f := range []struct {
		name string
		v    float64
	}{{"availability", s.Availability}, {"latencyTarget", s.LatencyTarget}} {
		if f.v < MinObjective || f.v > MaxObjective {
			bad(fielderr.ErrOutOfRange, path+"."+f.name, "must be between %s and %s, got %s", fmtFloat(MinObjective), fmtFloat(MaxObjective), fmtFloat(f.v))
		}
	}
	if i := slices.Index(contract.LatencyBuckets, s.LatencyThreshold.Seconds()); i < 0 || i == len(contract.LatencyBuckets)-1 {
		var b []string
		for _, v := range contract.LatencyBuckets {
			b = append(b, (time.Duration(v * float64(time.Second))).String())
		}
		// The largest bucket is excluded: no percentile can be read above it.
		bad(fielderr.ErrInvalid, path+".latencyThreshold", "%s is not a bucket of the services' latency histogram below its largest (%v)", s.LatencyThreshold, b[:len(b)-1])
	}
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// LE is the histogram's le label of the threshold.
func (s SLO) LE() string { return fmt.Sprint(s.LatencyThreshold.Seconds()) }
