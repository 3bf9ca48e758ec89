package main

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"git.wntrmute.dev/kyle/mcr/bench/oci"
	"git.wntrmute.dev/kyle/mcr/bench/scenario"
	"git.wntrmute.dev/kyle/mcr/bench/server"
)

// requestCount is what one image push and one image pull cost a registry
// on the s3 backend in requests to the services behind it: S3 requests
// (by operation too) and PostgreSQL statements, each one round trip.
type requestCount struct {
	Registry  string             `json:"registry"`
	Images    int                `json:"images"`
	PushS3    float64            `json:"push_s3"`
	PushSQL   float64            `json:"push_sql"`
	PullS3    float64            `json:"pull_s3"`
	PullSQL   float64            `json:"pull_sql"`
	PushS3Ops map[string]float64 `json:"push_s3_ops"`
	PullS3Ops map[string]float64 `json:"pull_s3_ops"`
}

// countRequests runs mcr and the reference on the s3 backend once more,
// on services of their own that log every request and statement (so the
// timed rounds pay for no logging), pushes n images into each one
// request at a time, pulls them back, and counts from the logs.
func countRequests(ctx context.Context, k *knobs, cfg scenario.Config, bins map[server.Kind]string, s3Bin, tmp string, n int) ([]requestCount, error) {
	svc, err := server.StartServices(ctx, s3Bin, tmp, server.Trace{S3: true, SQL: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = svc.Stop() }()
	var out []requestCount
	for _, kind := range []server.Kind{server.MCR, server.Reference} {
		rc, err := countOne(ctx, k, cfg, svc, kind, bins[kind], tmp, n)
		if err != nil {
			return nil, fmt.Errorf("counting requests of %s: %w", server.Name(kind, server.S3), err)
		}
		out = append(out, rc)
	}
	return out, nil
}

// requestSnap is the services' counters at one phase boundary.
type requestSnap struct {
	s3  map[string]int // requests on the registry's bucket by S3 operation
	sql int            // statements PostgreSQL ran
}

func countOne(ctx context.Context, k *knobs, cfg scenario.Config, svc *server.Services, kind server.Kind, bin, tmp string, n int) (requestCount, error) {
	rc := requestCount{Registry: server.Name(kind, server.S3), Images: n}
	st, err := svc.Fresh(ctx, kind)
	if err != nil {
		return rc, err
	}
	proc, err := server.Start(ctx, kind, bin, tmp, server.Options{MCRAuth: k.mcrAuth, Storage: st})
	if err != nil {
		return rc, err
	}
	defer func() { _ = proc.Stop(); _ = os.RemoveAll(proc.Dir) }()
	opts, err := k.clientOptions(proc.Username, proc.Password)
	if err != nil {
		return rc, err
	}
	client, err := oci.New(proc.Addr, opts)
	if err != nil {
		return rc, err
	}
	defer client.Close()
	snaps := map[string]requestSnap{}
	err = scenario.PushThenPull(ctx, scenario.NewEnv(client, cfg, k.seedValue()), n, func(phase string) error {
		s3, err := s3Requests(svc.S3AccessLog(), st.S3.Bucket)
		if err != nil {
			return err
		}
		sql, err := sqlStatements(svc.SQLLog())
		if err != nil {
			return err
		}
		snaps[phase] = requestSnap{s3: s3, sql: sql}
		return nil
	})
	if err != nil {
		return rc, err
	}
	rc.PushS3Ops, rc.PushS3 = perImage(snaps["start"].s3, snaps["pushed"].s3, n)
	rc.PullS3Ops, rc.PullS3 = perImage(snaps["pushed"].s3, snaps["pulled"].s3, n)
	rc.PushSQL = float64(snaps["pushed"].sql-snaps["start"].sql) / float64(n)
	rc.PullSQL = float64(snaps["pulled"].sql-snaps["pushed"].sql) / float64(n)
	return rc, nil
}

// perImage is the difference of two per-operation counts divided by n,
// and its total.
func perImage(before, after map[string]int, n int) (map[string]float64, float64) {
	ops, total := map[string]float64{}, 0.0
	for op, c := range after {
		if d := c - before[op]; d > 0 {
			ops[op] = float64(d) / float64(n)
			total += float64(d) / float64(n)
		}
	}
	return ops, total
}

// s3Requests counts the lines of a versitygw access log (S3 server access
// log format: owner, bucket, [time zone], ip, requester, request id,
// operation, ...) on bucket, by operation.
func s3Requests(path, bucket string) (map[string]int, error) {
	ops := map[string]int{}
	err := eachLine(path, func(line string) {
		if f := strings.Fields(line); len(f) > 7 && f[1] == bucket {
			ops[strings.TrimPrefix(f[7], "s3_")]++
		}
	})
	return ops, err
}

// sqlStatements counts the statements in a PostgreSQL log with
// log_statement = all: simple-protocol ones and executions of prepared
// ones (pgx caches its statements: one Bind/Execute round trip each).
func sqlStatements(path string) (int, error) {
	n := 0
	err := eachLine(path, func(line string) {
		if strings.Contains(line, "LOG:  statement: ") || strings.Contains(line, "LOG:  execute ") {
			n++
		}
	})
	return n, err
}

func eachLine(path string, f func(string)) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		f(sc.Text())
	}
	return sc.Err()
}

// renderRequests writes the counts as a table, with the S3 operations of
// a push and a pull spelled out.
func renderRequests(b *strings.Builder, counts []requestCount) {
	if len(counts) == 0 {
		return
	}
	fmt.Fprintf(b, "\n**Requests to the services per image (%d images of the push-image shape, pushed then pulled one at a time)**\n\n", counts[0].Images)
	b.WriteString("| registry | S3 per push | PostgreSQL per push | S3 per pull | PostgreSQL per pull | S3 operations of a push | S3 operations of a pull |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | --- | --- |\n")
	for _, c := range counts {
		fmt.Fprintf(b, "| %s | %.1f | %.1f | %.1f | %.1f | %s | %s |\n", c.Registry, c.PushS3, c.PushSQL, c.PullS3, c.PullSQL, opList(c.PushS3Ops), opList(c.PullS3Ops))
	}
}

func opList(ops map[string]float64) string {
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(ops)) {
		parts = append(parts, fmt.Sprintf("%s %.1f", op, ops[op]))
	}
	return strings.Join(parts, ", ")
}
