package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"git.wntrmute.dev/kyle/mcr/bench/machine"
	"git.wntrmute.dev/kyle/mcr/bench/oci"
	"git.wntrmute.dev/kyle/mcr/bench/scenario"
	"git.wntrmute.dev/kyle/mcr/bench/server"
)

// registryRun is one started registry and its scenario environment.
type registryRun struct {
	proc *server.Process
	env  *scenario.Env
	// rounds[i] holds round i's results.
	rounds [][]*scenario.Result
}

// Report is everything a comparison produced; it is written as JSON.
type Report struct {
	Run                     // Raw and Median by registry
	Limits   machine.Limits `json:"limits"`
	Client   string         `json:"client"`
	Rows     []row          `json:"rows"`
	Backends []backendTable `json:"backends,omitempty"`
	Requests []requestCount `json:"requests,omitempty"`
}

func compareMain(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench compare", flag.ContinueOnError)
	var k knobs
	k.register(fs, "all")
	mcrBin := fs.String("mcr", "bin/mcrsrv", "mcrsrv binary")
	refBin := fs.String("reference", ".tools/bin/registry", "distribution registry binary (v3.1.2)")
	rounds := fs.Int("rounds", 0, "rounds: every scenario runs this many times against each registry; the table shows medians (0: 3, or 1 with -quick/-tiny)")
	outDir := fs.String("out", "bench/results", "directory for results.json and results.md")
	plotPath := fs.String("plot", "docs/benchmarks-throughput.svg", "SVG plot of throughput against concurrency (empty: none)")
	backendList := fs.String("backends", "fs", "comma-separated storage backends, each measured with both registries: fs (mcr on local files and Badger, the reference on its filesystem driver), s3 (mcr on S3 and PostgreSQL, the reference on its s3 driver, one versitygw)")
	s3Bin := fs.String("s3-server", ".tools/bin/versitygw", "versitygw binary for the s3 backend")
	countImages := fs.Int("count-requests", 20, "s3 backend: after the rounds, push and pull this many images through mcr and the reference on logging services of their own and count S3 requests and PostgreSQL statements per image (0: skip)")
	null := fs.Bool("null", true, "also run the null registry (the machine's ceiling) in the scenarios it serves")
	// The target is an idle resident set under 64 MiB within a minute
	// of a burst.
	idleAfter := fs.Duration("idle-after", time.Minute, "after the last scenario, let the registries idle this long, reading their resident sets at 1/6, 1/2 and the end of it (the rows say 10, 30 and 60 s, the default)")
	limitMiB := fs.Int("limits-mib", 0, "bytes per machine-limit measurement in MiB (0: 512, or 128 with -quick)")
	cfg, list, err := k.parse(fs, args)
	if err != nil {
		return err
	}
	if *rounds == 0 {
		*rounds = 3
		if k.quick || k.tiny {
			*rounds = 1
		}
	}
	if *rounds < 1 {
		return fmt.Errorf("-rounds must be at least 1")
	}
	tmp := tmpDir(k.tmp)
	rep := &Report{Run: newRun("compare", args, cfg, *rounds), Client: k.client}

	limSize := int64(512 << 20)
	if k.quick || k.tiny {
		limSize = 128 << 20
	}
	if *limitMiB > 0 {
		limSize = int64(*limitMiB) << 20
	}
	logf("measuring machine limits (%d MiB each) in %s", limSize>>20, tmp)
	if rep.Limits, err = machine.Measure(tmp, limSize); err != nil {
		return fmt.Errorf("machine limits: %w", err)
	}

	backends, err := server.ParseBackends(*backendList)
	if err != nil {
		return fmt.Errorf("-backends: %w", err)
	}
	var svc *server.Services
	if slices.Contains(backends, server.S3) {
		if svc, err = server.StartServices(ctx, *s3Bin, tmp, server.Trace{}); err != nil {
			return fmt.Errorf("services of the s3 backend: %w", err)
		}
		defer func() { _ = svc.Stop() }()
		logf("started versitygw on %s and PostgreSQL for the s3 backend", svc.S3.Endpoint)
	}
	// order names the registries: mcr and the reference on each backend,
	// and the null registry (no storage) once.
	type planned struct {
		kind    server.Kind
		backend server.Backend
	}
	var plan []planned
	for _, b := range backends {
		plan = append(plan, planned{server.MCR, b}, planned{server.Reference, b})
	}
	if *null {
		plan = append(plan, planned{server.Null, server.FS})
	}
	regs := map[string]*registryRun{}
	var order []string
	for _, st := range plan {
		kind := st.kind
		bin := *mcrBin
		switch kind {
		case server.Reference:
			bin = *refBin
		case server.Null:
			if bin, err = os.Executable(); err != nil {
				return err
			}
		}
		o := server.Options{MCRAuth: k.mcrAuth}
		if st.backend == server.S3 {
			if o.Storage, err = svc.Fresh(ctx, kind); err != nil {
				return err
			}
		}
		proc, err := server.Start(ctx, kind, bin, tmp, o)
		if err != nil {
			return err
		}
		defer func() { _ = proc.Stop(); _ = os.RemoveAll(proc.Dir) }()
		opts, err := k.clientOptions(proc.Username, proc.Password)
		if err != nil {
			return err
		}
		client, err := oci.New(proc.Addr, opts)
		if err != nil {
			return err
		}
		defer client.Close()
		ecfg := cfg
		if kind == server.MCR {
			ecfg = k.withGC(cfg, true) // the reference has no online GC
		}
		env := scenario.NewEnv(client, ecfg, k.seedValue())
		env.Logf = logf
		env.Mem, env.Meter = proc, proc
		if kind != server.Null {
			env.Cache = proc
		}
		name := proc.Name()
		order = append(order, name)
		regs[name] = &registryRun{proc: proc, env: env, rounds: make([][]*scenario.Result, *rounds)}
		rep.Versions[string(kind)] = proc.Version
		logf("started %s (%s) on %s, pid %d, data in %s", name, proc.Version, proc.Addr, proc.Pid(), proc.Dir)
	}

	// Scenario-major with alternating order, so slow drift of the machine
	// (other work on it, page cache, thermal) hits both registries alike.
	for round := range *rounds {
		for _, s := range list {
			ord := slices.Clone(order)
			if round%2 == 1 {
				slices.Reverse(ord)
			}
			for _, name := range ord {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				rr := regs[name]
				if rr.proc.Kind == server.Null && !slices.Contains(server.NullScenarios, s.Name) {
					continue
				}
				logf("round %d/%d, %s, %s", round+1, *rounds, s.Name, name)
				r := runOne(ctx, rr.env, s, rr.proc)
				rr.rounds[round] = append(rr.rounds[round], r)
				rep.Failed = rep.Failed || r.Failed()
				if !rr.proc.Alive() {
					return fmt.Errorf("%s exited during %s:\n%s", name, s.Name, rr.proc.LogTail())
				}
			}
		}
	}
	idle, err := idleRSS(ctx, regs, *idleAfter)
	if err != nil {
		return err
	}
	for _, name := range order {
		rr := regs[name]
		rep.Raw[name] = rr.rounds
		rep.Median[name] = medians(rr.rounds)
		rep.Median[name]["overall peak RSS"] = overallPeak(rr.rounds)
		maps.Copy(rep.Median[name], idle[name])
	}
	if svc != nil && *countImages > 0 {
		logf("counting S3 requests and PostgreSQL statements per image (%d images)", *countImages)
		bins := map[server.Kind]string{server.MCR: *mcrBin, server.Reference: *refBin}
		if rep.Requests, err = countRequests(ctx, &k, cfg, bins, *s3Bin, tmp, *countImages); err != nil {
			return err
		}
	}
	rep.end()
	rep.Rows = buildRows(rep)
	rep.Backends = buildBackendRows(rep)

	md := renderMarkdown(rep)
	fmt.Fprint(out, "\n"+md)
	if err := writeOutputs(rep, md, *outDir, *plotPath); err != nil {
		return err
	}
	if rep.Failed {
		printFailures(out, regs)
		return errFailed
	}
	return nil
}

func tmpDir(dir string) string { return machine.TempDir(dir) }

// idleKey names the resident set a minute after the last scenario.
const idleKey = "idle RSS 60 s after the run"

// idleMarks are when, as shares of -idle-after, the idle resident sets
// are read, and their rows: 10, 30 and 60 s after the last request by
// default, so the table shows how fast memory goes back, not only where
// it ends.
var idleMarks = []struct {
	share float64
	key   string
}{{1.0 / 6, "idle RSS 10 s after the run"}, {0.5, "idle RSS 30 s after the run"}, {1, idleKey}}

// idleRSS lets every registry idle for idleAfter and reads their
// resident sets at each of idleMarks, keyed by registry, then mark.
func idleRSS(ctx context.Context, regs map[string]*registryRun, idleAfter time.Duration) (map[string]map[string]float64, error) {
	logf("idle for %s, reading the registries' resident sets along the way", idleAfter)
	start := time.Now()
	out := map[string]map[string]float64{}
	for _, m := range idleMarks {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Until(start.Add(time.Duration(m.share * float64(idleAfter))))):
		}
		for kind, rr := range regs {
			if v, err := rr.proc.RSSMiB(); err == nil {
				if out[kind] == nil {
					out[kind] = map[string]float64{}
				}
				out[kind][m.key] = v
			}
		}
	}
	return out, nil
}

// samples counts, for every metric key, the rounds that produced it.
func samples(rounds [][]*scenario.Result) map[string]int {
	n := map[string]int{}
	for _, rs := range rounds {
		for _, r := range rs {
			for _, m := range r.Metrics {
				n[m.Key()]++
			}
		}
	}
	return n
}

// medians is, for every metric key, the median over the rounds.
func medians(rounds [][]*scenario.Result) map[string]float64 {
	vals := map[string][]float64{}
	for _, rs := range rounds {
		for _, r := range rs {
			for _, m := range r.Metrics {
				vals[m.Key()] = append(vals[m.Key()], m.Value)
			}
		}
	}
	out := map[string]float64{}
	for k, v := range vals {
		out[k] = median(v)
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func overallPeak(rounds [][]*scenario.Result) float64 {
	peak := 0.0
	for _, rs := range rounds {
		for _, r := range rs {
			for _, m := range r.Metrics {
				if m.Unit == "MiB" && strings.HasSuffix(m.Name, "peak RSS") {
					peak = max(peak, m.Value)
				}
			}
		}
	}
	return peak
}

func printFailures(out io.Writer, regs map[string]*registryRun) {
	fmt.Fprintln(out, "\nERRORS:")
	for kind, rr := range regs {
		failed := false
		for i, rs := range rr.rounds {
			for _, r := range rs {
				if r.Failed() {
					failed = true
					fmt.Fprintf(out, "  %s round %d %s: %d errors:\n    %s\n", kind, i+1, r.Scenario, r.Errors, strings.Join(r.Samples, "\n    "))
				}
			}
		}
		if failed {
			fmt.Fprintf(out, "end of the %s log:\n%s\n", kind, rr.proc.LogTail())
		}
	}
}

// writeResults writes a run's report as results.json and results.md in
// outDir: the raw numbers and the table docs/benchmarks.md quotes.
func writeResults(rep any, md, outDir string) error {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(outDir, "results.json"), b, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(outDir, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	logf("wrote %s and %s", filepath.Join(outDir, "results.json"), filepath.Join(outDir, "results.md"))
	return nil
}

func writeOutputs(rep *Report, md, outDir, plotPath string) error {
	if outDir != "" {
		if err := writeResults(rep, md, outDir); err != nil {
			return err
		}
	}
	if plotPath != "" {
		if err := writePlot(rep, plotPath); err != nil {
			return err
		}
		logf("wrote %s", plotPath)
	}
	return nil
}
