package gc

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/kv"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// TestMain lets the test binary act as an offline collector: the crash
// test starts it with MCR_GC_CRASH_CHILD=<data dir> and kills it with
// SIGKILL in the middle of a sweep.
func TestMain(m *testing.M) {
	if dir := os.Getenv("MCR_GC_CRASH_CHILD"); dir != "" {
		if err := crashChild(dir, os.Getenv("MCR_GC_CRASH_AT")); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(pgtest.Main(m)) // stops the PostgreSQL server of the postgres variants
}

// crashChild runs a collection over dir. at is "<point>:<n>": on the n-th
// time the sweep reaches point it says so on stdout and stalls, waiting to
// be killed; "" runs freely (the parent kills it at a random moment).
func crashChild(dir, at string) error {
	store, err := kv.Open(kv.Options{Dir: dir + "/meta"})
	if err != nil {
		return err
	}
	blobs, err := blobstore.Open(dir, nil)
	if err != nil {
		return err
	}
	c := New(store, blobs, Offline{}, Options{Grace: 0, Workers: 1})
	point, nth, _ := strings.Cut(at, ":")
	n, _ := strconv.Atoi(nth)
	seen := 0
	c.hook = func(p, d string) {
		if p == "sweep" {
			fmt.Println("sweeping") // the parent's cue for an unsynchronized kill
		}
		if p != point {
			return
		}
		if seen++; seen == n {
			fmt.Println("stalled", d)
			time.Sleep(time.Minute)
		}
	}
	_, err = c.Run(context.Background(), RunOptions{})
	_ = store.Close()
	return err
}

// crashSetup fills dir with live images, garbage blobs and orphan files,
// and returns the live manifests' blobs by repository.
func crashSetup(t *testing.T, dir string) map[string][]digest.Digest {
	t.Helper()
	s := enginetest.Open(t, dir)
	store, blobs := s.KV, s.Blobs
	reg := engine.New(store, blobs, engine.Options{})
	e := &env{t: t, ctx: context.Background(), dir: dir, store: store, blobs: blobs, reg: reg}
	live := map[string][]digest.Digest{}
	base := randBytes(4096)
	for i := range 6 {
		repo := fmt.Sprintf("crash/r%d", i%2)
		_, descs := e.simpleImage(repo, fmt.Sprint("v", i), base)
		for _, d := range descs {
			live[repo] = append(live[repo], d.Digest)
		}
	}
	for i := range 120 {
		e.blob(fmt.Sprintf("crash/r%d", i%2), randBytes(200+i))
	}
	gone, _ := e.simpleImage("crash/r0", "tmp", base)
	e.deleteManifest("crash/r0", gone.Digest)
	for i := range 10 {
		data := randBytes(100 + i)
		id := fmt.Sprintf("%032x", i+1)
		f, err := blobs.CreateStaging(id)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = f.Write(data)
		_ = f.Close()
		if _, err := blobs.Commit(id, digest.FromBytes(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return live
}

// consistent opens dir and checks what must hold after any crash: every
// record has its file, every live manifest's blob is readable. It returns
// the sweep tombstones and files without a record it found.
func consistent(t *testing.T, dir string, live map[string][]digest.Digest, collect bool) (tombstones, orphans int) {
	t.Helper()
	s := enginetest.Open(t, dir) // reopened after the kill
	defer s.Close()
	store, blobs := s.KV, s.Blobs
	reg := engine.New(store, blobs, engine.Options{})
	defer reg.Close(context.Background())
	e := &env{t: t, ctx: context.Background(), dir: dir, store: store, blobs: blobs, reg: reg}
	if collect {
		e.gc = New(store, blobs, Offline{}, Options{Grace: 0})
		rep := e.run(false)
		t.Logf("collection after the crashes: %+v", rep)
	}
	records := map[string]bool{}
	for _, k := range e.keys(kv.BlobPrefix()) {
		d := k[len(kv.BlobPrefix()):]
		records[d] = true
		if _, err := blobs.Stat(t.Context(), digest.Digest(d)); err != nil {
			t.Errorf("record %s points at a missing file: %v", d, err)
		}
	}
	for repo, ds := range live {
		for _, d := range ds {
			if err := e.readable(repo, d); err != nil {
				t.Errorf("live blob: %v", err)
			}
		}
	}
	if err := blobs.Walk(t.Context(), func(d digest.Digest) error {
		if !records[d.String()] {
			orphans++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tombs := e.keys(kv.SweepPrefix())
	for _, k := range tombs {
		if d := k[len(kv.SweepPrefix()):]; records[d] {
			t.Errorf("blob %s has both a record and a sweep tombstone", d)
		}
	}
	return len(tombs), orphans
}

// TestCrashMidSweep kills an offline collection with SIGKILL at the worst
// moments (right after a blob's record went and before its file did; right
// before a blob's transaction; anywhere) and checks that the store restarts
// clean and the next collection finishes the job.
func TestCrashMidSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	live := crashSetup(t, dir)
	sawTombstone := false
	for round, at := range []string{"unrecorded:5", "sweep:9", "", "unrecorded:3"} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "MCR_GC_CRASH_CHILD="+dir, "MCR_GC_CRASH_AT="+at)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		cue, sweeps := "stalled", 0
		if at == "" {
			cue = "sweeping"
		}
		killed := false
		for lines.Scan() {
			if !strings.HasPrefix(lines.Text(), cue) {
				continue
			}
			// Unsynchronized: let it sweep a few blobs, then kill it wherever it is.
			if sweeps++; at == "" && sweeps < 4 {
				continue
			}
			if at == "" {
				time.Sleep(3 * time.Millisecond)
			}
			_ = cmd.Process.Signal(syscall.SIGKILL)
			killed = true
			break
		}
		_ = cmd.Wait()
		if !killed {
			t.Fatalf("round %d (%q): the child finished before it could be killed: %s", round, at, stderr.String())
		}
		tomb, orphans := consistent(t, dir, live, false)
		t.Logf("round %d, killed at %q: %d tombstones, %d files without a record", round, at, tomb, orphans)
		if strings.HasPrefix(at, "unrecorded") {
			// The stalled blob's, and those of deleted files whose
			// tombstones were waiting to be lifted in a batch.
			if tomb < 1 {
				t.Errorf("killed between a record's removal and its file's: no tombstone")
			}
			sawTombstone = true
		}
	}
	if !sawTombstone {
		t.Fatal("no kill landed inside a sweep")
	}
	// The next run (online or offline alike) recovers the interrupted sweep
	// and collects the rest, orphans included.
	tomb, orphans := consistent(t, dir, live, true)
	if tomb != 0 || orphans != 0 {
		t.Fatalf("after the recovery run: %d tombstones, %d orphan files", tomb, orphans)
	}
}
