package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"git.wntrmute.dev/kyle/mcr/bench/machine"
	"git.wntrmute.dev/kyle/mcr/bench/oci"
	"git.wntrmute.dev/kyle/mcr/bench/scenario"
	"git.wntrmute.dev/kyle/mcr/bench/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "compare":
		err = compareMain(ctx, os.Args[2:], os.Stdout)
	case len(os.Args) > 1 && os.Args[1] == server.NullCommand:
		err = nullMain(ctx, os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "replicas":
		err = replicasMain(ctx, os.Args[2:], os.Stdout)
	case len(os.Args) > 1 && os.Args[1] == "report":
		err = reportMain(ctx, os.Args[2:], os.Stdout)
	default:
		err = singleMain(ctx, os.Args[1:], os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// nullMain runs the null registry (server.Null) until interrupted.
func nullMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench "+server.NullCommand, flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := loopbackOnly(*addr); err != nil {
		return err
	}
	return server.ServeNull(ctx, *addr)
}

// errFailed means some operation failed; the report says which.
var errFailed = errors.New("the run had errors (see above)")

// singleMain runs scenarios against one registry: one already running at
// -registry, or one it starts from -mcr or -reference.
func singleMain(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var k knobs
	k.register(fs, "all")
	addr := fs.String("registry", os.Getenv("BENCH_REGISTRY"), "host:port of a running registry (plain HTTP; loopback)")
	mcrBin := fs.String("mcr", "", "start this mcrsrv binary with a fresh data directory instead of using -registry")
	refBin := fs.String("reference", "", "start this distribution registry binary instead of using -registry")
	user := fs.String("username", os.Getenv("BENCH_USERNAME"), "Basic-auth user (default from BENCH_USERNAME)")
	pass := fs.String("password", os.Getenv("BENCH_PASSWORD"), "Basic-auth password (default from BENCH_PASSWORD)")
	jsonOut := fs.String("json", "", "also write the results as JSON to this file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the load generator (not the registry) to this file")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: bench [flags]            (one registry)\n       bench compare [flags]    (mcr against the reference; see bench compare -h)\n"+
			"       bench report [flags]     (re-render a comparison's results.json; see bench report -h)\n"+
			"       bench replicas [flags]   (mcr replicas behind HAProxy on S3 + PostgreSQL; see bench replicas -h)\n\n")
		fs.PrintDefaults()
	}
	cfg, list, err := k.parse(fs, args)
	if err != nil {
		return err
	}
	var proc *server.Process
	switch {
	case *mcrBin != "" || *refBin != "":
		kind, bin := server.MCR, *mcrBin
		if *refBin != "" {
			kind, bin = server.Reference, *refBin
		}
		if proc, err = server.Start(ctx, kind, bin, tmpDir(k.tmp), server.Options{MCRAuth: k.mcrAuth}); err != nil {
			return err
		}
		if proc.Username != "" {
			*user, *pass = proc.Username, proc.Password
		}
		defer func() {
			t0 := time.Now()
			if err := proc.Stop(); err != nil {
				logf("stopping %s: %v", kind, err)
			}
			logf("%s stopped in %.1fs", kind, time.Since(t0).Seconds())
			_ = os.RemoveAll(proc.Dir)
		}()
		*addr = proc.Addr
		fmt.Fprintf(out, "started %s %s on %s (pid %d)\n", kind, proc.Version, proc.Addr, proc.Pid())
	case *addr == "":
		return fmt.Errorf("give -registry host:port (or BENCH_REGISTRY), -mcr BIN or -reference BIN")
	}
	if err := loopbackOnly(*addr); err != nil {
		return err
	}
	opts, err := k.clientOptions(*user, *pass)
	if err != nil {
		return err
	}
	client, err := oci.New(*addr, opts)
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.Ping(ctx); err != nil {
		return fmt.Errorf("registry at %s: %w", *addr, err)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	env := scenario.NewEnv(client, k.withGC(cfg, *mcrBin != ""), k.seedValue())
	env.Logf = logf
	if proc != nil {
		env.Mem, env.Meter, env.Cache = proc, proc, proc
	}
	var results []*scenario.Result
	failed := false
	for _, s := range list {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r := runOne(ctx, env, s, proc)
		results = append(results, r)
		failed = failed || r.Failed()
		if proc != nil && !proc.Alive() {
			return fmt.Errorf("the registry exited during %s:\n%s", s.Name, proc.LogTail())
		}
	}
	printResults(out, *addr, results)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	if failed {
		if proc != nil {
			fmt.Fprintf(out, "\nend of the %s log (%s):\n%s\n", proc.Kind, proc.Dir, proc.LogTail())
		}
		return errFailed
	}
	return nil
}

// runOne runs s and, when the harness owns the process, adds the peak RSS
// the registry reached during it.
// It also adds the CPU the registry, the harness and everything else on
// the machine used meanwhile (in cores), because on a small shared machine
// the load generator and other work compete with the registry.
func runOne(ctx context.Context, env *scenario.Env, s scenario.Scenario, proc *server.Process) *scenario.Result {
	pid := 0
	if proc != nil {
		_ = proc.ResetPeak()
		pid = proc.Pid()
	}
	before := machine.SnapCPU(pid)
	r := s.Run(ctx, env)
	use := machine.SnapCPU(pid).Since(before)
	info := func(name, unit string, v float64) {
		r.Metrics = append(r.Metrics, scenario.Metric{Scenario: s.Name, Name: name, Unit: unit, Value: v})
	}
	if proc != nil {
		if peak, err := proc.PeakMiB(); err == nil {
			info("peak RSS", "MiB", peak)
		}
		info("CPU registry", "cores", use.Proc)
	}
	info("CPU harness", "cores", use.Self)
	info("CPU other processes", "cores", use.Others)
	status := "ok"
	if r.Failed() {
		status = fmt.Sprintf("FAILED: %d errors: %s", r.Errors, strings.Join(r.Samples, "; "))
	}
	logf("%s: %s done in %.1fs: %s", env.C.Host(), s.Name, r.Elapsed.Seconds(), status)
	return r
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// loopbackOnly refuses anything but a loopback address: the benchmark
// floods its target.
func loopbackOnly(addr string) error {
	host := addr
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		host = addr[:i]
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.") {
		return nil
	}
	return fmt.Errorf("registry %s is not on loopback: the benchmark only loads 127.0.0.1", addr)
}

func printResults(out io.Writer, addr string, results []*scenario.Result) {
	fmt.Fprintf(out, "\nresults for %s\n", addr)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tcase\tmetric\tvalue\tunit\t")
	for _, r := range results {
		for _, m := range r.Metrics {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", m.Scenario, m.Case, m.Name, num(m.Value), m.Unit)
		}
	}
	tw.Flush()
	for _, r := range results {
		for _, n := range r.Notes {
			fmt.Fprintf(out, "  %s: %s\n", r.Scenario, n)
		}
		if r.Failed() {
			fmt.Fprintf(out, "  %s: %d ERRORS: %s\n", r.Scenario, r.Errors, strings.Join(r.Samples, "\n    "))
		}
	}
}

// num formats a measurement with about three significant digits.
func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}
