package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/jobs"
)

// openAt opens a registry over the stores in dir, as mcrsrv serve does;
// closing it and opening dir again is a restart.
func openAt(t *testing.T, dir string) (*Registry, func()) {
	t.Helper()
	s := enginetest.Open(t, dir)
	r := New(s.KV, s.Blobs, Options{})
	return r, func() {
		if err := r.Close(context.Background()); err != nil {
			t.Error(err)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
}

func wantKind(t *testing.T, err error, k errcode.Kind, what string) {
	t.Helper()
	if errcode.KindOf(err) != k {
		t.Fatalf("%s: %v, want %v", what, err, k)
	}
}

// A session survives a restart in both of its states: opened by a POST
// with no byte yet, and holding acknowledged chunks. After the restart the
// status is the acknowledged offset and the client finishes from there.
func TestUploadSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := bytes.Repeat([]byte("resumable upload "), 4096)
	d := digest.FromBytes(data)

	r, closeStores := openAt(t, dir)
	empty, err := r.StartUpload(ctx, "team/app")
	if err != nil {
		t.Fatal(err)
	}
	chunked, err := r.StartUpload(ctx, "team/app")
	if err != nil {
		t.Fatal(err)
	}
	const first = 10000
	if up, err := r.AppendUpload(ctx, "team/app", chunked.ID, 0, bytes.NewReader(data[:first]), first); err != nil || up.Offset != first {
		t.Fatalf("first chunk: %+v %v", up, err)
	}
	closeStores()

	r, closeStores = openAt(t, dir)
	defer closeStores()
	if st, err := r.UploadStatus(ctx, "team/app", empty.ID); err != nil || st.Offset != 0 {
		t.Fatalf("POST-only session after restart: %+v %v", st, err)
	}
	st, err := r.UploadStatus(ctx, "team/app", chunked.ID)
	if err != nil || st.Offset != first {
		t.Fatalf("chunked session after restart: %+v %v", st, err)
	}
	if _, err := r.AppendUpload(ctx, "team/app", chunked.ID, st.Offset, bytes.NewReader(data[st.Offset:]), int64(len(data))-st.Offset); err != nil {
		t.Fatal(err)
	}
	if err := r.FinishUpload(ctx, "team/app", chunked.ID, d, -1, nil, -1); err != nil {
		t.Fatal(err)
	}
	if err := r.FinishUpload(ctx, "team/app", empty.ID, d, -1, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	f, size, err := r.OpenBlob(ctx, "team/app", d)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil || size != int64(len(data)) || !bytes.Equal(got, data) {
		t.Fatalf("blob after resumed upload: %d bytes, %v", len(got), err)
	}
	for _, id := range []string{empty.ID, chunked.ID} {
		_, err := r.UploadStatus(ctx, "team/app", id)
		wantKind(t, err, errcode.BlobUploadUnknown, "finished session")
	}
}

func testPool(t testing.TB) *jobs.Pool {
	p := jobs.NewPool(2, 2)
	t.Cleanup(p.Close)
	return p
}

func randomData(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// failingReader yields data, then fails as a dropped connection does.
type failingReader struct{ r io.Reader }

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errors.New("connection reset by peer")
	}
	return n, err
}

// A PATCH whose body breaks off records what arrived, so the client
// resumes from there instead of from the last acknowledged chunk; both
// the small-body copy and the pipelined copy (with a pool) keep the hash
// state in step with the bytes.
func TestInterruptedPatchIsResumable(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
		opts Options
	}{
		{"copy", 300 << 10, Options{}},
		{"pipeline", 9 << 20, Options{Streamer: testPool(t)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			r := newTestEngine(t, tc.opts)
			data := randomData(tc.size)
			up, err := r.StartUpload(ctx, "r")
			if err != nil {
				t.Fatal(err)
			}
			cut := len(data) * 2 / 3
			_, err = r.AppendUpload(ctx, "r", up.ID, -1, &failingReader{onlyReader{bytes.NewReader(data[:cut])}}, -1)
			wantKind(t, err, errcode.BlobUploadInvalid, "interrupted PATCH")
			st, err := r.UploadStatus(ctx, "r", up.ID)
			if err != nil || st.Offset != int64(cut) {
				t.Fatalf("after the interruption: %+v %v, want offset %d", st, err, cut)
			}
			if err := r.FinishUpload(ctx, "r", up.ID, digest.FromBytes(data), st.Offset, bytes.NewReader(data[cut:]), int64(len(data)-cut)); err != nil {
				t.Fatalf("finishing from the recorded offset: %v", err)
			}
		})
	}
}

// A staging file shorter than its record (removed or cut by hand) ends
// the session with BLOB_UPLOAD_UNKNOWN instead of an internal error, and
// removes the session.
func TestShortStagingEndsSession(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r, closeStores := openAt(t, dir)
	defer closeStores()
	up, _ := r.StartUpload(ctx, "r")
	if _, err := r.AppendUpload(ctx, "r", up.ID, 0, bytes.NewReader(make([]byte, 100)), 100); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, "uploads", up.ID), 40); err != nil {
		t.Fatal(err)
	}
	_, err := r.AppendUpload(ctx, "r", up.ID, 100, bytes.NewReader(make([]byte, 10)), 10)
	wantKind(t, err, errcode.BlobUploadUnknown, "PATCH on a short staging file")
	_, err = r.UploadStatus(ctx, "r", up.ID)
	wantKind(t, err, errcode.BlobUploadUnknown, "status of the ended session")
	if _, err := os.Stat(filepath.Join(dir, "uploads", up.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("staging file of the ended session: %v", err)
	}
}

// The operator's view: sessions listed in id order, filtered by
// repository, paginated; removing one drops record and file, and its
// client's next request is BLOB_UPLOAD_UNKNOWN.
func TestUploadAdmin(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r, closeStores := openAt(t, dir)
	defer closeStores()
	ids := map[string]string{}
	for _, repo := range []string{"a", "b", "a", "a"} {
		up, err := r.StartUpload(ctx, repo)
		if err != nil {
			t.Fatal(err)
		}
		ids[up.ID] = repo
	}
	var written string
	for id, repo := range ids {
		if repo == "a" {
			written = id
			break
		}
	}
	if _, err := r.AppendUpload(ctx, "a", written, 0, bytes.NewReader(make([]byte, 321)), 321); err != nil {
		t.Fatal(err)
	}
	var seen []UploadInfo
	after := ""
	for {
		page, more, err := r.UploadInfos(ctx, "a", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, page...)
		if !more {
			break
		}
		after = page[len(page)-1].ID
	}
	if len(seen) != 3 {
		t.Fatalf("listed %d sessions of a, want 3: %+v", len(seen), seen)
	}
	for i, info := range seen {
		if ids[info.ID] != "a" || info.Repo != "a" || (i > 0 && seen[i-1].ID >= info.ID) {
			t.Fatalf("listing %+v", seen)
		}
		if info.ID == written && (info.Bytes != 321 || info.LastWrite.IsZero()) {
			t.Fatalf("written session %+v", info)
		}
		if info.ID != written && (info.Bytes != 0 || !info.LastWrite.IsZero() || info.Started.IsZero()) {
			t.Fatalf("empty session %+v", info)
		}
	}
	all, _, err := r.UploadInfos(ctx, "", "", 100)
	if err != nil || len(all) != 4 {
		t.Fatalf("unfiltered listing: %d, %v", len(all), err)
	}
	tot, err := r.UploadTotals(ctx)
	if err != nil || tot != (UploadTotals{Sessions: 4, SessionBytes: 321, StagingFiles: 1, StagingBytes: 321}) {
		t.Fatalf("totals %+v %v", tot, err)
	}

	// A session a request is writing is not removed under it.
	r.claims.claim(written)
	_, err = r.RemoveUpload(ctx, written)
	r.claims.release(written)
	wantKind(t, err, errcode.UploadInUse, "removal of a session being written")
	if _, err := r.RemoveUpload(ctx, written); err != nil {
		t.Fatal(err)
	}
	_, err = r.AppendUpload(ctx, "a", written, 321, bytes.NewReader([]byte("x")), 1)
	wantKind(t, err, errcode.BlobUploadUnknown, "PATCH after removal")
	if _, err := os.Stat(filepath.Join(dir, "uploads", written)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("staging file after removal: %v", err)
	}
	_, err = r.RemoveUpload(ctx, written)
	wantKind(t, err, errcode.BlobUploadUnknown, "second removal")
	_, err = r.RemoveUpload(ctx, "../../etc/passwd")
	wantKind(t, err, errcode.BlobUploadUnknown, "removal of a malformed id")
}
