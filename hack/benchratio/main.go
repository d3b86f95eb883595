// Command benchratio reads `go test -bench` output and prints each result
// beside the baseline measured in the same run, with the targets: the
// middleware chain against the bare handler, the L1 cache hit, JWT
// verification per algorithm, and the order service's answer with the
// payment breaker open against its cached read and its paid creation.
//
//	go test -run '^$' -bench . -benchmem ./services/... | go run ./hack/benchratio
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:\s+([\d.]+) B/op\s+([\d.]+) allocs/op)?`)

// metric finds a custom metric (b.ReportMetric) on a result line.
var metric = regexp.MustCompile(`([\d.]+) ([a-z-]+/[a-z]+)`)

type result struct {
	ns, allocs float64
	metrics    map[string]float64
}

func main() {
	results := map[string]result{}
	var order []string
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		fmt.Println(sc.Text())
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		ns, _ := strconv.ParseFloat(m[2], 64)
		allocs, _ := strconv.ParseFloat(m[4], 64)
		if _, seen := results[m[1]]; !seen {
			order = append(order, m[1])
		}
		r := result{ns: ns, allocs: allocs, metrics: map[string]float64{}}
		for _, mm := range metric.FindAllStringSubmatch(sc.Text(), -1) {
			r.metrics[mm[2]], _ = strconv.ParseFloat(mm[1], 64)
		}
		results[m[1]] = r
	}
	fmt.Println("\nFigures (same run):")
	bare, okB := results["BenchmarkBare"]
	chain, okC := results["BenchmarkChain"]
	if okB && okC {
		fmt.Printf("  middleware chain: %.1f µs/op (%.0fx the bare handler's %.2f µs), %.0f allocs/op   target <= 60 µs, <= 100 allocs: %s\n",
			chain.ns/1000, chain.ns/bare.ns, bare.ns/1000, chain.allocs, verdict(chain.ns <= 60_000 && chain.allocs <= 100))
	}
	if l1, ok := results["BenchmarkL1Hit"]; ok {
		fmt.Printf("  L1 cache hit: %.1f ns/op, %.0f allocs/op                                       target <= 50 ns, 0 allocs: %s\n",
			l1.ns, l1.allocs, verdict(l1.ns <= 50 && l1.allocs == 0))
	}
	if st, ok := results["BenchmarkColdKeyStampede"]; ok {
		gets := st.metrics["redis-gets/stampede"]
		fmt.Printf("  100 concurrent misses on one key: %.2f Redis GETs and %.2f loads per stampede (%.0f µs)      target 1 GET: %s\n",
			gets, st.metrics["loads/stampede"], st.ns/1000, verdict(gets == 1))
	}
	if l1, ok := results["BenchmarkL1HitCounted"]; ok {
		fmt.Printf("  L1 cache hit with its metric: %.1f ns/op, %.0f allocs/op\n", l1.ns, l1.allocs)
	}
	get, okG := results["BenchmarkOrderAnswer/get-cached"]
	paid, okP := results["BenchmarkOrderAnswer/create-paid"]
	open, okO := results["BenchmarkOrderAnswer/create-breaker-open"]
	if okG && okP && okO {
		fmt.Printf("  order over HTTP: cached GET %.2f ms, paid POST %.2f ms, POST with the payment breaker open %.2f ms (%.2fx the cached GET, %.2fx the paid POST)   target < 5 ms: %s\n",
			get.ns/1e6, paid.ns/1e6, open.ns/1e6, open.ns/get.ns, open.ns/paid.ns, verdict(open.ns < 5e6))
	}
	for _, name := range order {
		if alg, ok := strings.CutPrefix(name, "BenchmarkVerify/"); ok {
			r := results[name]
			fmt.Printf("  JWT verify %-6s %.1f µs/op, %.0f allocs/op", alg+":", r.ns/1000, r.allocs)
			if rs, ok := results["BenchmarkVerify/RS256"]; ok {
				fmt.Printf(" (%.2fx RS256)", r.ns/rs.ns)
			}
			fmt.Println()
		}
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
