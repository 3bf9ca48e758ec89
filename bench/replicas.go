package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"git.wntrmute.dev/kyle/mcr/bench/oci"
	"git.wntrmute.dev/kyle/mcr/bench/scenario"
	"git.wntrmute.dev/kyle/mcr/bench/server"
)

// ReplicasReport is what `bench replicas` measured; it is written as JSON.
type ReplicasReport struct {
	Run            // Raw and Median by cluster name
	Sizes []int    `json:"replicas"`
	Cases []string `json:"cases"` // metric keys of the cases, without " throughput"
}

// clusterName names the cluster of n replicas in a report.
func clusterName(n int) string { return fmt.Sprintf("%d replicas", n) }

// replicasMain measures push-image and pull-manifest through HAProxy in
// front of 1, 2, 3... mcr replicas on one S3 bucket and one PostgreSQL
// database (docs/scale-out.md), and what each operation costs every
// shared part (docs/benchmarks.md, "Replicas").
func replicasMain(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench replicas", flag.ContinueOnError)
	var k knobs
	k.register(fs, "push-image,pull-manifest")
	mcrBin := fs.String("mcr", "bin/mcrsrv", "mcrsrv binary")
	s3Bin := fs.String("s3-server", ".tools/bin/versitygw", "versitygw binary")
	haproxyBin := fs.String("haproxy", "/usr/sbin/haproxy", "HAProxy binary (Debian's package)")
	sizes := fs.String("replicas", "1,2,3", "comma-separated cluster sizes, each measured on a fresh bucket and database")
	rounds := fs.Int("rounds", 1, "rounds per cluster size; the table shows medians")
	outDir := fs.String("out", "bench/results-replicas", "directory for results.json and results.md (empty: none)")
	cfg, list, err := k.parse(fs, args)
	if err != nil {
		return err
	}
	if k.conc == 0 {
		// The cases issue 17 names: pushes at 16, manifest GETs at 64.
		cfg.ImageConc, cfg.ManifestConc, cfg.ManifestHeadC = []int{16}, []int{64}, 64
	}
	ns, err := parseSizes(*sizes)
	if err != nil {
		return err
	}
	if *rounds < 1 {
		return fmt.Errorf("-rounds must be at least 1")
	}
	tmp := tmpDir(k.tmp)
	rep := &ReplicasReport{Run: newRun("replicas", args, cfg, *rounds), Sizes: ns}
	// One S3 server logging its requests (to count them per operation)
	// and one PostgreSQL, logging only errors (serialization failures).
	svc, err := server.StartServices(ctx, *s3Bin, tmp, server.Trace{S3: true})
	if err != nil {
		return fmt.Errorf("services: %w", err)
	}
	defer func() { _ = svc.Stop() }()
	for _, n := range ns {
		name := clusterName(n)
		rs, version, err := measureCluster(ctx, &k, cfg, list, svc, *mcrBin, *haproxyBin, tmp, n, *rounds)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rep.Versions["mcr"] = version
		rep.Raw[name] = rs
		rep.Median[name] = medians(rs)
		for _, round := range rs {
			for _, r := range round {
				rep.Failed = rep.Failed || r.Failed()
			}
		}
		if n == ns[0] {
			rep.Cases = caseKeys(rs[0])
		}
	}
	rep.end()
	md := renderReplicas(rep)
	fmt.Fprint(out, "\n"+md)
	if *outDir != "" {
		if err := writeResults(rep, md, *outDir); err != nil {
			return err
		}
	}
	if rep.Failed {
		return errFailed
	}
	return nil
}

func parseSizes(list string) ([]int, error) {
	var ns []int
	for f := range strings.SplitSeq(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 16 {
			return nil, fmt.Errorf("-replicas %q: want cluster sizes from 1 to 16", list)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// measureCluster starts a cluster of n replicas on a fresh bucket and
// database, runs the scenarios rounds times through HAProxy, and stops it.
func measureCluster(ctx context.Context, k *knobs, cfg scenario.Config, list []scenario.Scenario, svc *server.Services,
	mcrBin, haproxyBin, tmp string, n, rounds int) ([][]*scenario.Result, string, error) {
	st, err := svc.Fresh(ctx, server.MCR)
	if err != nil {
		return nil, "", err
	}
	c, err := server.StartCluster(ctx, mcrBin, haproxyBin, tmp, n, st)
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = c.Stop() }()
	logf("started %d replica(s) behind HAProxy on %s (bucket %s)", n, c.Addr, st.S3.Bucket)
	probe, err := newClusterProbe(ctx, c, svc)
	if err != nil {
		return nil, "", err
	}
	defer probe.close()
	opts, err := k.clientOptions("", "")
	if err != nil {
		return nil, "", err
	}
	client, err := oci.New(c.Addr, opts)
	if err != nil {
		return nil, "", err
	}
	defer client.Close()
	env := scenario.NewEnv(client, cfg, k.seedValue())
	env.Logf, env.Meter = logf, probe
	out := make([][]*scenario.Result, rounds)
	for round := range rounds {
		for _, s := range list {
			if ctx.Err() != nil {
				return nil, "", ctx.Err()
			}
			logf("%d replica(s), round %d/%d, %s", n, round+1, rounds, s.Name)
			r := s.Run(ctx, env)
			out[round] = append(out[round], r)
			if r.Failed() {
				logf("%d replica(s), %s: %d errors: %s", n, s.Name, r.Errors, strings.Join(r.Samples, "; "))
			}
			if !c.Alive() {
				return nil, "", fmt.Errorf("a replica exited during %s:\n%s", s.Name, c.LogTails())
			}
		}
	}
	return out, c.Replicas[0].Version, nil
}

// caseKeys lists the measured cases of a round in order: the keys of its
// throughput metrics without " throughput".
func caseKeys(round []*scenario.Result) []string {
	var out []string
	for _, r := range round {
		for _, m := range r.Metrics {
			if m.Name == "throughput" {
				out = append(out, strings.TrimSuffix(m.Key(), " throughput"))
			}
		}
	}
	return out
}

// replicaColumns are the table's columns after the case and the size:
// the metric name within a case, and its heading.
var replicaColumns = []struct{ name, head string }{
	{"throughput", "rate"},
	{"server CPU/op", "mcr CPU/op ms (all replicas)"},
	{"HAProxy CPU/op", "HAProxy CPU/op ms"},
	{"PostgreSQL CPU/op", "PostgreSQL CPU/op ms"},
	{"S3 server CPU/op", "S3 server CPU/op ms"},
	{"client CPU/op", "load generator CPU/op ms"},
	{"PostgreSQL statements/op", "statements/op"},
	{"PostgreSQL round trips/op", "round trips/op"},
	{"PostgreSQL commits/op", "commits/op"},
	{"S3 requests/op", "S3 requests/op"},
	{"busiest replica share", "busiest replica %"},
	{"PostgreSQL busy backends", "PG busy backends"},
	{"Lock waits", "PG Lock %"},
	{"LWLock waits", "PG LWLock %"},
	{"waiting on mcr in a transaction", "PG idle in txn %"},
	{"serialization failures", "serialization failures"},
	{"pool waits/op", "pool waits/op"},
	{"pool connections", "pool conns"},
}

// renderReplicas is the report as Markdown, ready for docs/benchmarks.md.
func renderReplicas(rep *ReplicasReport) string {
	var b strings.Builder
	m := rep.Machine
	fmt.Fprintf(&b, "Run of %s UTC, %d round(s) per cluster size, %.1f min.\n\n", rep.Date.Format("2006-01-02 15:04"), rep.Rounds, rep.Elapsed.Minutes())
	fmt.Fprintf(&b, "- machine: %s, %d cores, %d MiB memory, Linux %s; load average (1 min) %.2f at the start, %.2f at the end\n",
		m.CPU, m.Cores, m.MemMiB, m.Kernel, rep.LoadStart, rep.LoadEnd)
	rep.writeVersions(&b, "mcr")
	fmt.Fprintf(&b, "- command: `%s`\n\n", rep.Command)
	b.WriteString("| case | replicas |")
	for _, c := range replicaColumns {
		b.WriteString(" " + c.head + " |")
	}
	b.WriteString("\n| --- | ---: |" + strings.Repeat(" ---: |", len(replicaColumns)) + "\n")
	for _, cs := range rep.Cases {
		for _, n := range rep.Sizes {
			med := rep.Median[clusterName(n)]
			fmt.Fprintf(&b, "| %s | %d |", cs, n)
			for _, c := range replicaColumns {
				if v, ok := med[cs+" "+c.name]; ok {
					b.WriteString(" " + num(v) + " |")
				} else {
					b.WriteString(" – |")
				}
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("\nPer operation over the timed window (after the warm-up), medians over the rounds. CPU: user + system time of " +
		"every replica summed, of HAProxy, of PostgreSQL (the postmaster and all its children), of versitygw, and of the load generator. " +
		"Statements and round trips: the replicas' mcr_kv_postgres_statements_total and _round_trips_total, summed. Commits: " +
		"pg_stat_database's xact_commit of the cluster's database (flushed by PostgreSQL about once a second). S3 requests: " +
		"versitygw's access log lines on the cluster's bucket. Busiest replica: its share of the requests HAProxy passed on (100/N is even). " +
		"PG busy backends: mean number of the database's sessions in a statement or a transaction, sampled every 100 ms from " +
		"pg_stat_activity; Lock and LWLock: the share of those samples waiting on a heavyweight lock (a hot row) or a lightweight " +
		"lock; idle in txn: waiting for mcr's next statement inside a transaction. Serialization failures: those PostgreSQL logged " +
		"in the window (each a retried transaction). Pool waits: acquisitions that found no idle connection in a replica's pool. " +
		"Pool conns: open pool connections over all replicas at the end of the window (each replica also holds one LISTEN connection).\n")
	clusters := make([]string, len(rep.Sizes))
	for i, n := range rep.Sizes {
		clusters[i] = clusterName(n)
	}
	rep.writeFailures(&b, clusters)
	return b.String()
}
