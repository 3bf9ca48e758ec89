package gc

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// stagingIDs lists the files in the uploads directory.
func (e *env) stagingIDs() []string {
	e.t.Helper()
	return enginetest.StagingFiles(e.t, e.dir)
}

// Start-up after a crash: every leftover a crash can make is cleaned at
// once, with the grace period of a running registry (an hour here) not
// applying, and nothing a client was told about is touched.
func TestStartupCleansCrashLeftovers(t *testing.T) {
	e := newEnv(t, envOptions{gc: Options{Grace: time.Hour}, disk: true})
	uploads := filepath.Join(e.dir, "uploads")

	// Acknowledged content: a blob with its record, and four sessions.
	kept := e.blob("r", randBytes(1000))
	postOnly, _ := e.reg.StartUpload(e.ctx, "r")
	exact, _ := e.reg.StartUpload(e.ctx, "r")
	longer, _ := e.reg.StartUpload(e.ctx, "r")
	lost, _ := e.reg.StartUpload(e.ctx, "r")
	short, _ := e.reg.StartUpload(e.ctx, "r")
	for _, id := range []string{exact.ID, longer.ID, lost.ID, short.ID} {
		if _, err := e.reg.AppendUpload(e.ctx, "r", id, 0, bytes.NewReader(make([]byte, 500)), 500); err != nil {
			t.Fatal(err)
		}
	}
	// What a crash leaves: bytes written past a session's record, a
	// session whose file is gone or cut, a staging file of no session (a
	// whole-blob upload cut short), and a blob file renamed into place
	// whose record was never committed.
	f, err := os.OpenFile(filepath.Join(uploads, longer.ID), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 77)); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if err := os.Remove(filepath.Join(uploads, lost.ID)); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(uploads, short.ID), 100); err != nil {
		t.Fatal(err)
	}
	stray := "0123456789abcdef0123456789abcdef"
	if err := os.WriteFile(filepath.Join(uploads, stray), make([]byte, 3000), 0o600); err != nil {
		t.Fatal(err)
	}
	orphanData := randBytes(2000)
	orphan := digest.FromBytes(orphanData)
	orphanPath := filepath.Join(e.dir, "blobs", "sha256", orphan.Encoded()[:2], orphan.Encoded())
	if err := os.WriteFile(orphanPath, orphanData, 0o600); err != nil {
		t.Fatal(err)
	}

	got, err := e.gc.Startup(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := AfterCrash{SessionsDropped: 2, SessionsTruncated: 1, TruncatedBytes: 77, Staging: 1, StagingBytes: 3000, Orphans: 1, OrphanBytes: 2000}
	if got != want {
		t.Fatalf("Startup = %+v\nwant      %+v", got, want)
	}
	wantFiles := []string{exact.ID, longer.ID}
	slices.Sort(wantFiles)
	if files := e.stagingIDs(); !slices.Equal(files, wantFiles) {
		t.Fatalf("staging files %v, want exactly %v", files, wantFiles)
	}
	if fi, err := os.Stat(filepath.Join(uploads, longer.ID)); err != nil || fi.Size() != 500 {
		t.Fatalf("truncated staging file: %v %v", fi, err)
	}
	wantSessions := []string{string(kv.UploadKey(postOnly.ID)), string(kv.UploadKey(exact.ID)), string(kv.UploadKey(longer.ID))}
	slices.Sort(wantSessions)
	if keys := e.keys(kv.UploadPrefix()); !slices.Equal(keys, wantSessions) {
		t.Fatalf("sessions %v, want exactly %v", keys, wantSessions)
	}
	if _, err := os.Stat(orphanPath); !os.IsNotExist(err) {
		t.Fatalf("orphan still there: %v", err)
	}
	if rec, file := e.hasRecord(kept.Digest); !rec || !file {
		t.Fatalf("recorded blob: record %v file %v", rec, file)
	}
	if len(e.keys(kv.SweepPrefix())) != 0 {
		t.Fatal("tombstone left")
	}
	// The kept sessions go on where they were; the dropped ones are gone.
	for _, id := range []string{exact.ID, longer.ID} {
		if _, err := e.reg.AppendUpload(e.ctx, "r", id, 500, bytes.NewReader([]byte("more")), 4); err != nil {
			t.Fatalf("session %s after start-up: %v", id, err)
		}
	}
	for _, id := range []string{lost.ID, short.ID} {
		if _, err := e.reg.UploadStatus(e.ctx, "r", id); errcode.KindOf(err) != errcode.BlobUploadUnknown {
			t.Fatalf("dropped session %s: %v", id, err)
		}
	}
	// A second start-up finds nothing.
	if again, err := e.gc.Startup(e.ctx); err != nil || again != (AfterCrash{}) {
		t.Fatalf("second Startup = %+v, %v", again, err)
	}
}
