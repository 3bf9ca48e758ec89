package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// send makes one request and returns the answer with its body read.
func send(t *testing.T, method, url string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return res, b
}

// uploadOffset asks the session at loc how many bytes it holds (OCI
// distribution spec, "Resuming an upload": 204 with Range 0-<last>).
func uploadOffset(t *testing.T, base, loc string) int64 {
	t.Helper()
	res, b := send(t, "GET", base+loc, nil)
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("GET %s: %s %s", loc, res.Status, b)
	}
	if got := res.Header.Get("Location"); got != loc {
		t.Fatalf("GET %s: Location %q", loc, got)
	}
	r := res.Header.Get("Range")
	last, err := strconv.ParseInt(strings.TrimPrefix(r, "0-"), 10, 64)
	if !strings.HasPrefix(r, "0-") || err != nil {
		t.Fatalf("GET %s: Range %q", loc, r)
	}
	if last == 0 {
		return 0 // "0-0" is also what an empty session says
	}
	return last + 1
}

// patchChunk sends data as the chunk starting at offset and wants 202.
func patchChunk(t *testing.T, base, loc string, offset int64, data []byte) {
	t.Helper()
	res, b := send(t, "PATCH", base+loc, bytes.NewReader(data), "Content-Type", "application/octet-stream",
		"Content-Range", fmt.Sprintf("%d-%d", offset, offset+int64(len(data))-1))
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("PATCH %s at %d: %s %s", loc, offset, res.Status, b)
	}
}

// stopServer ends the server with sig and waits for it.
func stopServer(t *testing.T, srv *child, sig syscall.Signal) {
	t.Helper()
	if err := srv.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	_ = srv.cmd.Wait() // killed: an error; terminated: whatever shutdown returned
}

// waitFileSize polls until path holds at least n bytes.
func waitFileSize(t *testing.T, path string, n int64) {
	t.Helper()
	wait.For(t, fmt.Sprintf("%s to reach %d bytes", path, n), func() bool {
		fi, err := os.Stat(path)
		return err == nil && fi.Size() >= n
	})
}

// A chunked upload survives the server stopping, by SIGTERM and by
// SIGKILL, with a streamed PATCH of the rest under way: after the restart
// GET reports at least every acknowledged byte, the client sends the rest
// from there, and the blob pulled back has its digest. With SIGKILL the
// stream is cut by the kill, and the session reports exactly the
// acknowledged bytes: what was in flight was never recorded, and start-up
// cuts it off the staging file. With SIGTERM the client gives up on its
// stream first (as a client cut off by a proxy does), the server records
// what arrived, and that is what the session reports after the restart.
// Sessions opened by POST alone survive both.
func TestUploadResumesAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops server processes")
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) { resumeAfter(t, sig) })
	}
}

func resumeAfter(t *testing.T, sig syscall.Signal) {
	data := t.TempDir()
	srv := startServer(t, data, freePort(t))
	base := "http://" + srv.addr
	blob := make([]byte, 24<<20)
	_, _ = rand.Read(blob)
	d := digestOf(blob)

	open := func() string {
		res, b := send(t, "POST", base+"/v2/resume/app/blobs/uploads/", nil)
		if res.StatusCode != http.StatusAccepted {
			t.Fatalf("POST: %s %s", res.Status, b)
		}
		return res.Header.Get("Location")
	}
	loc, postOnly := open(), open()
	const chunk = 3 << 20
	patchChunk(t, base, loc, 0, blob[:chunk])
	patchChunk(t, base, loc, chunk, blob[chunk:2*chunk])
	acked := int64(2 * chunk)

	// A streamed PATCH of the rest: 9 MiB arrive (more than the upload
	// buffers, so they reach the staging file), then the client stalls.
	pr, pw := io.Pipe()
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		req, _ := http.NewRequest("PATCH", base+loc, pr)
		req.Header.Set("Content-Type", "application/octet-stream")
		if res, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
		}
	}()
	sent := int64(9 << 20)
	if _, err := pw.Write(blob[acked : acked+sent]); err != nil {
		t.Fatal(err)
	}
	staging := filepath.Join(data, "uploads", loc[strings.LastIndex(loc, "/")+1:])
	reached := acked + 4<<20
	waitFileSize(t, staging, reached)
	// Opened last, after every synced write: its record was committed
	// without waiting for the disk (a POST acknowledges no bytes), and a
	// kill must not lose it.
	lastPost := open()
	before := acked
	if sig == syscall.SIGTERM {
		_ = pw.CloseWithError(io.ErrClosedPipe)
		<-streamDone
		before = waitOffset(t, base, loc, reached)
	}
	stopServer(t, srv, sig)
	_ = pw.CloseWithError(io.ErrClosedPipe)
	<-streamDone

	srv = startServer(t, data, freePort(t))
	base = "http://" + srv.addr
	defer stopServer(t, srv, syscall.SIGTERM)
	for _, l := range []string{postOnly, lastPost} {
		if n := uploadOffset(t, base, l); n != 0 {
			t.Fatalf("POST-only session %s reports %d bytes", l, n)
		}
	}
	off := uploadOffset(t, base, loc)
	if off != before || off > acked+sent {
		t.Fatalf("after %v the session reports %d bytes, want %d (%d acknowledged, %d sent)", sig, off, before, acked, acked+sent)
	}
	if fi, err := os.Stat(staging); err != nil || fi.Size() != off {
		t.Fatalf("staging file after restart: %v %v, want %d bytes", fi, err, off)
	}
	patchChunk(t, base, loc, off, blob[off:])
	res, b := send(t, "PUT", base+loc+"?digest="+d, nil)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s %s", res.Status, b)
	}
	res, got := send(t, "GET", base+"/v2/resume/app/blobs/"+d, nil)
	if res.StatusCode != http.StatusOK || digestOf(got) != d {
		t.Fatalf("pull after resume: %s, digest %s, want %s", res.Status, digestOf(got), d)
	}
}

// waitOffset polls the session at loc until it reports at least n bytes
// and returns what it reports.
func waitOffset(t *testing.T, base, loc string, n int64) int64 {
	t.Helper()
	var off int64
	wait.For(t, fmt.Sprintf("%s to report %d bytes", loc, n), func() bool {
		off = uploadOffset(t, base, loc)
		return off >= n
	})
	return off
}

// crashState is what a killed server left in its stores, read with the
// server down: the stagings, the sessions and their recorded offsets, the
// blobs stored and the blob records.
type crashState struct {
	staging  map[string]int64 // id → size
	sessions map[string]int64 // id → recorded offset
	files    []string         // blobs in the blob store (digests)
	records  map[string]bool  // digests with a b/ record
	// blobs is the server's blob store (local files or a bucket); trims
	// says start-up cuts its stagings back to their records
	// (blobstore.StagingTrimmer): on S3 the record's part list is the
	// truth and the stagings of open sessions stay as they are.
	blobs blobstore.Store
	trims bool
}

func readCrashState(t *testing.T, data string, env ...string) crashState {
	t.Helper()
	s := crashState{staging: map[string]int64{}, sessions: map[string]int64{}, records: map[string]bool{}}
	// The server's metadata store: its env names PostgreSQL, or Badger in data.
	c, err := Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	c.Data = data
	store, err := openMetadata(context.Background(), c, false, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	err = store.View(context.Background(), func(r kv.Reader) error {
		err := r.Scan(kv.UploadPrefix(), nil, func(k, v []byte) error {
			rec, err := kv.DecodeUpload(v)
			s.sessions[kv.Suffix(k, kv.UploadPrefix())] = rec.Offset
			return err
		})
		if err != nil {
			return err
		}
		return r.ScanKeys(kv.BlobPrefix(), nil, func(k []byte) error {
			s.records[kv.Suffix(k, kv.BlobPrefix())] = true
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.blobs, err = c.Storage.openBlobs(data, nil); err != nil {
		t.Fatal(err)
	}
	_, s.trims = s.blobs.(blobstore.StagingTrimmer)
	if err := s.blobs.WalkStaging(t.Context(), func(f blobstore.StagingFile) error { s.staging[f.ID] = f.Size; return nil }); err != nil {
		t.Fatal(err)
	}
	walkBlobFiles(t, s.blobs, func(d string) { s.files = append(s.files, d) })
	return s
}

// walkBlobFiles calls fn with every stored blob's digest.
func walkBlobFiles(t *testing.T, blobs blobstore.Store, fn func(string)) {
	t.Helper()
	if err := blobs.Walk(t.Context(), func(d digest.Digest) error { fn(d.String()); return nil }); err != nil {
		t.Fatal(err)
	}
}

// expectAfterStartup is what start-up must leave of s: the stagings of
// sessions that hold bytes, cut to their recorded offset where the store
// trims, and the blobs that have a record; and the counts it must remove.
func (s crashState) expectAfterStartup() (staging map[string]int64, files []string, strays, orphans int) {
	staging = map[string]int64{}
	for id, size := range s.staging {
		off, open := s.sessions[id]
		switch {
		case !open:
			strays++
		case !s.trims:
			staging[id] = size
		case size >= off:
			staging[id] = off
		}
	}
	for _, d := range s.files {
		if s.records[d] {
			files = append(files, d)
		} else {
			orphans++
		}
	}
	slices.Sort(files)
	return staging, files, strays, orphans
}

// checkStartupCleanup compares what start-up left with what it should
// have, exactly, and reports whether it should have logged a clean-up
// (the caller reads the log once the server is gone).
func checkStartupCleanup(t *testing.T, before crashState, srv *child) (logged bool) {
	t.Helper()
	wantStaging, wantFiles, strays, orphans := before.expectAfterStartup()
	blobs := before.blobs
	gotStaging := map[string]int64{}
	if err := blobs.WalkStaging(t.Context(), func(f blobstore.StagingFile) error { gotStaging[f.ID] = f.Size; return nil }); err != nil {
		t.Fatal(err)
	}
	var gotFiles []string
	walkBlobFiles(t, blobs, func(d string) { gotFiles = append(gotFiles, d) })
	slices.Sort(gotFiles)
	if fmt.Sprint(gotStaging) != fmt.Sprint(wantStaging) {
		t.Errorf("staging files after start-up %v, want exactly %v (before: %v, sessions %v)", gotStaging, wantStaging, before.staging, before.sessions)
	}
	if !slices.Equal(gotFiles, wantFiles) {
		t.Errorf("blob files after start-up: %d, want exactly the %d recorded ones", len(gotFiles), len(wantFiles))
	}
	res, body := send(t, "GET", "http://"+srv.addr+"/metrics", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %s", res.Status)
	}
	for _, want := range []string{
		fmt.Sprintf(`mcr_startup_cleanup_files_total{kind="staging"} %d`, strays),
		fmt.Sprintf(`mcr_startup_cleanup_files_total{kind="orphan"} %d`, orphans),
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("metrics lack %q", want)
		}
	}
	return strays+orphans > 0
}

// checkCleanupLogged fails unless a stopped server's log has the one
// start-up clean-up line.
func checkCleanupLogged(t *testing.T, srv *child) {
	t.Helper()
	if n := strings.Count(srv.log.String(), "cleaned up after a crash"); n != 1 {
		t.Errorf("%d start-up clean-up lines in the log, want 1:\n%s", n, srv.log)
	}
}
