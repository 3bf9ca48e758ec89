package main

import (
	"fmt"
	"strings"

	"git.wntrmute.dev/kyle/mcr/bench/server"
)

// costRow is one measured case of the cost table: what it reached and
// what it cost, per registry.
type costRow struct {
	Case string // the throughput key without " throughput"
	Unit string
}

// costRows lists the cases that report both a throughput and a CPU per
// operation, in the order of the main table.
func costRows(rep *Report) []costRow {
	var out []costRow
	mcr := rep.Median[string(server.MCR)]
	for _, r := range rep.Rows {
		c, ok := strings.CutSuffix(r.Key, " throughput")
		if !ok {
			continue
		}
		if _, ok := mcr[c+" server CPU/op"]; !ok {
			continue
		}
		out = append(out, costRow{Case: c, Unit: r.Unit})
	}
	return out
}

// renderCost is the table docs/benchmarks.md leads with: per case, the
// rate of each registry and of the null registry (the ceiling), the
// registries' CPU per operation (the figure the load of a shared machine
// disturbs least), the load generator's CPU per operation, and the
// registries' resident set under the load.
func renderCost(rep *Report) string {
	rows := costRows(rep)
	if len(rows) == 0 {
		return ""
	}
	med := func(k server.Kind, key string) (float64, bool) {
		v, ok := rep.Median[string(k)][key]
		return v, ok
	}
	cell := func(k server.Kind, key string) string {
		if v, ok := med(k, key); ok {
			return num(v)
		}
		return "–"
	}
	ratio := func(key string, a, b server.Kind) string {
		x, ok1 := med(a, key)
		y, ok2 := med(b, key)
		if !ok1 || !ok2 || y == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", x/y)
	}
	var b strings.Builder
	b.WriteString("| case | server CPU/op ms: mcr | reference | mcr/ref | rate: mcr | reference | null | unit | mcr/null | " +
		"client CPU/op ms: mcr | reference | null | steady RSS MiB: mcr | reference |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range rows {
		srv, rate, cli, rss := r.Case+" server CPU/op", r.Case+" throughput", r.Case+" client CPU/op", r.Case+" steady RSS"
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Case,
			cell(server.MCR, srv), cell(server.Reference, srv), ratio(srv, server.MCR, server.Reference),
			cell(server.MCR, rate), cell(server.Reference, rate), cell(server.Null, rate), r.Unit, ratio(rate, server.MCR, server.Null),
			cell(server.MCR, cli), cell(server.Reference, cli), cell(server.Null, cli),
			cell(server.MCR, rss), cell(server.Reference, rss))
	}
	b.WriteString("\nCPU/op: user + system time of the process over the timed window (after the warm-up), over the operations " +
		"that completed in it; an operation of push-large and pull-large is one blob. The null registry answers the same " +
		"bytes and headers from memory and checks nothing (bench/server/null.go): its rate is the most the load generator " +
		"reaches on this machine. Steady RSS: the median of the registry's VmRSS sampled every 100 ms in the window.\n")
	return b.String()
}
