package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/bench/server"
)

// TestMain lets the comparison start this test binary as the null
// registry, as it starts the harness's own executable outside tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == server.NullCommand {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := nullMain(ctx, os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// referenceBin finds distribution's registry binary for the smoke test:
// BENCH_REFERENCE_BIN, else MCR_TOOLS_BIN/registry when `make
// bench-compare` has installed it there. "" when there is none.
func referenceBin() string {
	if p := os.Getenv("BENCH_REFERENCE_BIN"); p != "" {
		return p
	}
	if dir := os.Getenv("MCR_TOOLS_BIN"); dir != "" {
		p := filepath.Join(dir, "registry")
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// TestSmoke runs every scenario at the tiny size against a real mcrsrv
// (MCR_BIN, which `make test` sets) and fails on any error of any
// operation. With the reference registry available it runs the whole
// comparison (one round) and checks the report and the plot.
func TestSmoke(t *testing.T) {
	bin := os.Getenv("MCR_BIN")
	if bin == "" {
		t.Skip("MCR_BIN is not set: set it to an mcrsrv binary (make test does) to run every bench scenario against it")
	}
	dir := t.TempDir()
	ref := referenceBin()
	if ref == "" {
		t.Logf("no reference registry (BENCH_REFERENCE_BIN, or MCR_TOOLS_BIN/registry): mcr only")
		out := runBench(t, singleMain, "-tiny", "-mcr", bin, "-tmp", dir)
		for _, s := range []string{"push-image", "pull-manifest", "tag-list", "catalog", "mixed", "server CPU ÷ sha256"} {
			if !strings.Contains(out, s) {
				t.Errorf("no %s results in the output", s)
			}
		}
		return
	}
	svg := filepath.Join(dir, "plot.svg")
	out := runBench(t, compareMain, "-tiny", "-rounds", "1", "-limits-mib", "8", "-idle-after", "1s", "-mcr", bin, "-reference", ref,
		"-tmp", dir, "-out", filepath.Join(dir, "out"), "-plot", svg)
	for _, want := range []string{"| push-image c=4 repos=2 throughput |", "| pull-manifest GET c=4 throughput |", "loopback TCP", "Cost per operation", "| pull-large after push GET sha256-verified |", "| push-large monolithic server CPU ÷ sha256 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, f := range []string{"out/results.json", "out/results.md"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(string(b)))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("plot is not well-formed SVG: %v", err)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:5000": true, "localhost:1": true, "[::1]:5000": true, "10.0.0.1:5000": false, "example.com:443": false} {
		if err := loopbackOnly(addr); (err == nil) != ok {
			t.Errorf("loopbackOnly(%q) = %v", addr, err)
		}
	}
}

// TestSmokeS3Backend runs the comparison on the s3 backend at the tiny
// size (one round, the listing and image scenarios): mcr on versitygw and
// PostgreSQL, the reference on its s3 driver on the same versitygw, and
// the request count, whose figures prove each registry used the bucket
// (and mcr the database). It needs what TestSmoke's comparison needs and
// versitygw in MCR_TOOLS_BIN; PostgreSQL comes with them (make tools).
func TestSmokeS3Backend(t *testing.T) {
	bin, ref := os.Getenv("MCR_BIN"), referenceBin()
	vgw := filepath.Join(os.Getenv("MCR_TOOLS_BIN"), "versitygw")
	if _, err := os.Stat(vgw); bin == "" || ref == "" || os.Getenv("MCR_TOOLS_BIN") == "" || err != nil {
		t.Skip("needs MCR_BIN, the reference registry (see TestSmoke) and MCR_TOOLS_BIN/versitygw")
	}
	dir := t.TempDir()
	out := runBench(t, compareMain, "-tiny", "-rounds", "1", "-limits-mib", "8", "-backends", "s3", "-s3-server", vgw,
		"-scenario", "push-image,pull-manifest,tag-list,catalog", "-count-requests", "3",
		"-mcr", bin, "-reference", ref, "-tmp", dir, "-out", filepath.Join(dir, "out"), "-plot", "")
	rep := readResults[Report](t, filepath.Join(dir, "out"))
	if len(rep.Rows) != 0 || len(rep.Backends) != 1 || rep.Backends[0].MCR != "mcr@s3" || rep.Backends[0].Ref != "reference@s3" {
		t.Fatalf("want only the s3 table, mcr@s3 against reference@s3; got %d fs rows and %+v", len(rep.Rows), rep.Backends)
	}
	if !strings.Contains(out, "| catalog page n=20 at the middle of 60 p50 |") {
		t.Error("the report lacks the catalog's middle page")
	}
	if len(rep.Requests) != 2 {
		t.Fatalf("request counts: %+v; want mcr@s3 and reference@s3", rep.Requests)
	}
	for _, c := range rep.Requests {
		if c.PushS3 <= 0 || c.PullS3 <= 0 || c.PullS3Ops["GetObject"] <= 0 {
			t.Errorf("%s: %.1f S3 requests per push, %.1f per pull (%v); every push and pull goes to the bucket", c.Registry, c.PushS3, c.PullS3, c.PullS3Ops)
		}
		if c.Registry == "mcr@s3" && (c.PushSQL <= 0 || c.PullSQL <= 0) {
			t.Errorf("mcr@s3: %.1f statements per push, %.1f per pull; its metadata is in PostgreSQL", c.PushSQL, c.PullSQL)
		}
	}
}

// TestSmokeReplicas runs the replicas dimension at the tiny size: one and
// two mcr replicas on versitygw and PostgreSQL behind HAProxy, push-image
// and pull-manifest through it. The report must have every case for both
// sizes, with the counters that prove each part was measured: statements
// from the replicas' /metrics, S3 requests from versitygw's log, CPU of
// HAProxy and PostgreSQL, and requests spread over both replicas.
func TestSmokeReplicas(t *testing.T) {
	bin := os.Getenv("MCR_BIN")
	vgw := filepath.Join(os.Getenv("MCR_TOOLS_BIN"), "versitygw")
	haproxy, herr := exec.LookPath("haproxy")
	if _, err := os.Stat(vgw); bin == "" || os.Getenv("MCR_TOOLS_BIN") == "" || err != nil || herr != nil {
		t.Skip("needs MCR_BIN, MCR_TOOLS_BIN/versitygw and haproxy (make tools)")
	}
	dir := t.TempDir()
	out := runBench(t, replicasMain, "-tiny", "-c", "4", "-duration", "1s", "-replicas", "1,2", "-mcr", bin, "-s3-server", vgw, "-haproxy", haproxy,
		"-tmp", dir, "-out", filepath.Join(dir, "out"))
	rep := readResults[ReplicasReport](t, filepath.Join(dir, "out"))
	push, get := "push-image c=4 repos=2", "pull-manifest GET c=4"
	if !slices.Contains(rep.Cases, push) || !slices.Contains(rep.Cases, get) {
		t.Fatalf("cases %v; want %q and %q", rep.Cases, push, get)
	}
	for _, n := range []int{1, 2} {
		med := rep.Median[clusterName(n)]
		for _, cs := range []string{push, get} {
			if !strings.Contains(out, fmt.Sprintf("| %s | %d |", cs, n)) {
				t.Errorf("the table has no row for %s with %d replicas", cs, n)
			}
			for _, m := range []string{"throughput", "server CPU/op", "HAProxy CPU/op", "PostgreSQL CPU/op", "PostgreSQL statements/op", "PostgreSQL round trips/op"} {
				if med[cs+" "+m] <= 0 {
					t.Errorf("%d replicas, %s: %s = %v; want > 0", n, cs, m, med[cs+" "+m])
				}
			}
		}
		if med[push+" S3 requests/op"] < 5 {
			t.Errorf("%d replicas: %.1f S3 requests per push; a push writes every blob and the manifest", n, med[push+" S3 requests/op"])
		}
		if share := med[get+" busiest replica share"]; n == 2 && (share < 50 || share > 75) {
			t.Errorf("2 replicas: the busiest served %.0f%% of the manifest GETs; round robin gives each about half", share)
		}
	}
}

// runBench runs one of the harness's commands (its main) with args, bound
// by the smoke tests' deadline; it logs what the command printed, fails
// the test when the command fails, and returns the printed text.
func runBench(t *testing.T, main func(context.Context, []string, io.Writer) error, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out strings.Builder
	err := main(ctx, args, &out)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// readResults decodes the results.json a command wrote into outDir.
func readResults[R any](t *testing.T, outDir string) R {
	t.Helper()
	var rep R
	b, err := os.ReadFile(filepath.Join(outDir, "results.json"))
	if err == nil {
		err = json.Unmarshal(b, &rep)
	}
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
