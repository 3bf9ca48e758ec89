package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
)

// reportMain re-renders the table and the plot from a results.json written
// by compare, without running anything: for a changed report layout, or
// to put an older run in the docs.
func reportMain(_ context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench report", flag.ContinueOnError)
	in := fs.String("in", "bench/results/results.json", "results.json of a comparison")
	outDir := fs.String("out", "", "directory to rewrite results.json and results.md in (empty: none)")
	plotPath := fs.String("plot", "", "SVG plot to write (empty: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	for kind, rounds := range rep.Raw {
		m := medians(rounds)
		for k, v := range rep.Median[kind] {
			if _, ok := m[k]; !ok {
				m[k] = v // the totals compare adds (overall peak, data on disk)
			}
		}
		rep.Median[kind] = m
	}
	rep.Rows = buildRows(&rep)
	rep.Backends = buildBackendRows(&rep)
	md := renderMarkdown(&rep)
	fmt.Fprint(out, md)
	return writeOutputs(&rep, md, *outDir, *plotPath)
}
