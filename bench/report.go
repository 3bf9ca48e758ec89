package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"git.wntrmute.dev/kyle/mcr/bench/machine"
	"git.wntrmute.dev/kyle/mcr/bench/plot"
	"git.wntrmute.dev/kyle/mcr/bench/scenario"
	"git.wntrmute.dev/kyle/mcr/bench/server"
)

// row is one line of the comparison table.
type row struct {
	Key    string  `json:"key"`
	Unit   string  `json:"unit"`
	Higher bool    `json:"higher"`
	MCR    float64 `json:"mcr"`
	Ref    float64 `json:"reference"`
	// NMCR and NRef are how many rounds produced the metric, when fewer
	// than all (a failed scenario measures nothing).
	NMCR   int    `json:"n_mcr,omitempty"`
	NRef   int    `json:"n_reference,omitempty"`
	Target string `json:"target,omitempty"`
	Met    string `json:"met,omitempty"` // "yes", "no" or ""
}

// target is one of the performance targets (issues 6 and 20), tied to a
// metric key of the full configuration.
type target struct {
	key   string
	text  string
	check func(mcr, ref float64) bool
}

func targets(l machine.Limits) []target {
	ingest := 0.85 * min(l.SHA256, l.Fsync)
	pull := 0.70 * l.Loopback
	pushLarge := func(m, _ float64) bool { return m >= ingest }
	cpuShare := func(n float64) func(m, r float64) bool {
		return func(m, r float64) bool { return m > 0 && r > 0 && m <= r/n }
	}
	ts := []target{
		{"push-large monolithic throughput", fmt.Sprintf("≥ 85%% of min(sha256, fsync) = %.0f", ingest), pushLarge},
		{"push-large chunked 8 MiB throughput", fmt.Sprintf("≥ %.0f (as above)", ingest), pushLarge},
		// The registry's CPU per blob against SHA-256 of the same bytes
		// on one core, timed just before each push (scenario.PushLarge).
		{"push-large monolithic server CPU ÷ sha256", "≤ 1.5", func(m, _ float64) bool { return m > 0 && m <= 1.5 }},
		{"push-image c=16 repos=8 throughput", "≥ 5× ref", func(m, r float64) bool { return m >= 5*r }},
		{"push-image c=16 repos=8 server CPU/op", "≤ ref / 8", cpuShare(8)},
		{"push-image c=64 repos=8 peak RSS", "≤ 256 MiB", func(m, _ float64) bool { return m > 0 && m <= 256 }},
		{"pull-manifest GET c=64 throughput", "≥ 5× ref", func(m, r float64) bool { return m >= 5*r }},
		{"pull-manifest GET c=64 p99", "≤ ref / 5", func(m, r float64) bool { return m <= r/5 }},
		{"pull-manifest GET c=64 server CPU/op", "≤ ref / 10", cpuShare(10)},
		{"pull-manifest HEAD c=64 server CPU/op", "≤ ref / 10", cpuShare(10)},
		{"pull-blob-small GET 64 KiB c=64 throughput", "≥ 15× ref", func(m, r float64) bool { return m >= 15*r }},
		{"pull-blob-small GET 64 KiB c=64 server CPU/op", "≤ ref / 10", cpuShare(10)},
		{"mount c=16 server CPU/op", "≤ ref / 10", cpuShare(10)},
		{"tag-list full list of 10000 p50", "≤ ref / 15", func(m, r float64) bool { return m <= r/15 }},
		{"tag-list page of 100 of 100000 p99", "< 2 ms", func(m, _ float64) bool { return m < 2 }},
		{"mixed no GC c=32 errors", "0", func(m, _ float64) bool { return m == 0 }},
		{"mixed with GC c=32 errors", "0", func(m, _ float64) bool { return m == 0 }},
		{"mixed with GC / no GC throughput", "≥ 90 %", func(m, _ float64) bool { return m >= 90 }},
		{idleKey, "< 64 MiB", func(m, _ float64) bool { return m > 0 && m < 64 }},
	}
	for _, order := range []string{"after push", "cold", "warm"} {
		ts = append(ts, target{"pull-large " + order + " GET sha256-verified throughput",
			fmt.Sprintf("≥ 1.2× ref and ≥ 70%% of loopback = %.0f", pull), func(m, r float64) bool { return m >= 1.2*r && m >= pull }})
	}
	return ts
}

// buildRows lays the medians out scenario by scenario, each scenario's
// metrics in the order it produced them (a metric that only a later round
// produced still sits with its scenario).
func buildRows(rep *Report) []row {
	return pairRows(rep, string(server.MCR), string(server.Reference), targets(rep.Limits))
}

// pairRows is the table of registry mcrName against registry refName
// (names as in rep.Raw), with targets ts checked on it.
func pairRows(rep *Report, mcrName, refName string, ts []target) []row {
	mcr, ref := rep.Median[mcrName], rep.Median[refName]
	if mcr == nil || ref == nil {
		return nil
	}
	nm, nr := samples(rep.Raw[mcrName]), samples(rep.Raw[refName])
	var rows []row
	seen := map[string]bool{}
	add := func(key, unit string, higher bool) {
		if seen[key] {
			return
		}
		seen[key] = true
		r := row{Key: key, Unit: unit, Higher: higher, MCR: mcr[key], Ref: ref[key]}
		if nm[key] < rep.Rounds && nm[key] > 0 {
			r.NMCR = nm[key]
		}
		if nr[key] < rep.Rounds && nr[key] > 0 {
			r.NRef = nr[key]
		}
		rows = append(rows, r)
	}
	// The scenario's own measurements first, then the process figures
	// runOne adds to every scenario (a case-less peak RSS, CPU).
	extra := func(m scenario.Metric) bool { return m.Case == "" && (m.Name == "peak RSS" || m.Unit == "cores") }
	for _, s := range scenario.All() {
		for _, wantExtra := range []bool{false, true} {
			for _, name := range []string{mcrName, refName} {
				for _, rs := range rep.Raw[name] {
					for _, r := range rs {
						if r.Scenario != s.Name {
							continue
						}
						for _, m := range r.Metrics {
							if extra(m) == wantExtra {
								add(m.Key(), m.Unit, m.Higher)
							}
						}
					}
				}
			}
		}
	}
	add("overall peak RSS", "MiB", false)
	for _, m := range idleMarks {
		add(m.key, "MiB", false)
	}
	for i := range rows {
		if strings.HasSuffix(rows[i].Key, " steady RSS") {
			// Memory under load: at most the reference's (issue 20).
			rows[i].Target, rows[i].Met = "≤ ref", "no"
			if rows[i].MCR > 0 && rows[i].MCR <= rows[i].Ref {
				rows[i].Met = "yes"
			}
		}
		for _, t := range ts {
			if t.key == rows[i].Key {
				rows[i].Target = t.text
				rows[i].Met = "no"
				if t.check(rows[i].MCR, rows[i].Ref) {
					rows[i].Met = "yes"
				}
			}
		}
	}
	return rows
}

func ratio(r row) string {
	if r.Ref == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", r.MCR/r.Ref)
}

// renderMarkdown is the report as Markdown, ready for docs/benchmarks.md.
func renderMarkdown(rep *Report) string {
	var b strings.Builder
	m := rep.Machine
	fmt.Fprintf(&b, "Run of %s UTC, %d round(s), %.1f min.\n\n", rep.Date.Format("2006-01-02 15:04"), rep.Rounds, rep.Elapsed.Minutes())
	fmt.Fprintf(&b, "- machine: %s, %d cores, %d MiB memory, Linux %s\n", m.CPU, m.Cores, m.MemMiB, m.Kernel)
	rep.writeVersions(&b, "mcr", "reference")
	fmt.Fprintf(&b, "- command: `%s`\n", rep.Command)
	fmt.Fprintf(&b, "- machine limits, same run: single-core sha256 **%.0f MB/s** (%.0f MB per CPU-second), loopback TCP **%.0f MB/s**, sequential write+fsync **%.0f MB/s**; "+
		"4 KiB write+fsync pairs on one thread: **%.0f/s**\n\n",
		rep.Limits.SHA256, rep.Limits.SHA256CPU, rep.Limits.Loopback, rep.Limits.Fsync, rep.Limits.SmallFsyncs)
	if c := renderCost(rep); c != "" {
		b.WriteString("Cost per operation:\n\n" + c + "\nEvery measurement:\n\n")
	}
	if len(rep.Rows) > 0 {
		renderTable(&b, rep.Rows, rep.Rounds, "mcr", "reference")
	}
	renderBackends(&b, rep)
	b.WriteString("\n↑ higher is better, ↓ lower is better. Medians over the rounds; MB/s are MiB/s. " +
		"\"CPU\" rows are the cores used during the whole scenario (set-up included) by the registry, by the load generator, " +
		"and by every other process on the machine (the idle other registry, other users' work).\n")
	fmt.Fprintf(&b, "\nLoad average (1 min) at the start %.2f, at the end %.2f.\n", rep.LoadStart, rep.LoadEnd)
	rep.writeFailures(&b, slices.Sorted(maps.Keys(rep.Raw)))
	return b.String()
}

// renderTable writes rows as a Markdown table, mcrCol and refCol naming
// the two registries' columns.
func renderTable(b *strings.Builder, rows []row, rounds int, mcrCol, refCol string) {
	fmt.Fprintf(b, "| scenario / case / metric | unit | %s | %s | ratio | target | met |\n", mcrCol, refCol)
	b.WriteString("| --- | --- | ---: | ---: | ---: | --- | --- |\n")
	for _, r := range rows {
		dir := "↑"
		switch {
		case r.Unit == "cores":
			dir = ""
		case !r.Higher:
			dir = "↓"
		}
		cell := func(v float64, n int) string {
			if n > 0 {
				return fmt.Sprintf("%s (%d of %d rounds)", num(v), n, rounds)
			}
			return num(v)
		}
		fmt.Fprintf(b, "| %s | %s %s | %s | %s | %s | %s | %s |\n", r.Key, r.Unit, dir, cell(r.MCR, r.NMCR), cell(r.Ref, r.NRef), ratio(r), r.Target, r.Met)
	}
}

// writePlot draws throughput against concurrency for push-image and
// pull-manifest GET, one line per registry.
func writePlot(rep *Report, path string) error {
	cfg := rep.Config
	colors := map[string]string{string(server.MCR): "#d62728", string(server.Reference): "#1f77b4"}
	series := func(key func(c int) string, levels []int) []plot.Series {
		var out []plot.Series
		for _, kind := range []server.Kind{server.MCR, server.Reference} {
			s := plot.Series{Name: string(kind), Color: colors[string(kind)]}
			if kind == server.Reference {
				s.Name = "reference (distribution)"
			}
			for _, c := range levels {
				if v, ok := rep.Median[string(kind)][key(c)]; ok {
					s.Points = append(s.Points, plot.Point{X: float64(c), Y: v})
				}
			}
			out = append(out, s)
		}
		return out
	}
	panels := []plot.Panel{
		{
			Title: fmt.Sprintf("push-image (%d repos)", cfg.ImageRepos), XLabel: "concurrency (pushing clients)", YLabel: "images/s",
			Series: series(func(c int) string { return fmt.Sprintf("push-image c=%d repos=%d throughput", c, cfg.ImageRepos) }, cfg.ImageConc),
		},
		{
			Title: "pull-manifest (GET by tag)", XLabel: "concurrency (connections)", YLabel: "requests/s",
			Series: series(func(c int) string { return fmt.Sprintf("pull-manifest GET c=%d throughput", c) }, cfg.ManifestConc),
		},
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	rounds := fmt.Sprintf("medians of %d rounds", rep.Rounds)
	if rep.Rounds == 1 {
		rounds = "one round"
	}
	title := fmt.Sprintf("mcr vs distribution v3.1.2 — %s, %d cores, %s", rep.Date.Format("2006-01-02"), rep.Machine.Cores, rounds)
	if err := plot.SVG(f, title, panels); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
