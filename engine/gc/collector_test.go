package gc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

const hour = time.Hour

// defaults are the shipped options without pacing (pace_test.go covers
// it), so that the many runs of these tests take milliseconds each.
func defaults() envOptions {
	o := DefaultOptions()
	o.Duty = 0
	return envOptions{gc: o}
}

// mustGone and mustStay check a blob's record and file.
func (e *env) mustGone(d digest.Digest) {
	e.t.Helper()
	if rec, file := e.hasRecord(d); rec || file {
		e.t.Errorf("blob %s should be collected: record %v, file %v", d, rec, file)
	}
}

func (e *env) mustStay(repo string, d digest.Digest) {
	e.t.Helper()
	if err := e.readable(repo, d); err != nil {
		e.t.Errorf("blob %s should stay readable in %s: %v", d, repo, err)
	}
}

func TestSweepUnreferenced(t *testing.T) {
	e := newEnv(t, defaults())
	shared := randBytes(300)
	keep, keepBlobs := e.simpleImage("app", "v1", shared)
	gone, goneBlobs := e.simpleImage("app", "v2", shared)
	stray := e.blob("app", randBytes(100)) // uploaded, never used
	e.deleteManifest("app", gone.Digest)

	// Inside the grace period nothing goes.
	rep := e.run(false)
	if rep.Swept != 0 || rep.Kept != 3 || rep.Marked != 3 {
		t.Fatalf("inside the grace period: %+v", rep)
	}
	e.clock.Add(2 * hour)
	rep = e.run(false)
	if rep.Swept != 3 || rep.Marked != 3 || rep.Blobs != 6 || rep.Manifests != 1 || rep.SweptBytes != 64+256+100 {
		t.Fatalf("report: %+v", rep)
	}
	for _, b := range keepBlobs {
		e.mustStay("app", b.Digest)
	}
	e.mustGone(stray.Digest)
	for _, b := range goneBlobs {
		if b.Digest == keepBlobs[1].Digest { // the shared layer
			continue
		}
		e.mustGone(b.Digest)
	}
	if m, err := e.reg.GetManifest(e.ctx, "app", names.Reference{Tag: "v1"}); err != nil || m.Digest != keep.Digest {
		t.Fatalf("live manifest: %v", err)
	}
	// Links of swept blobs went with them; a second run finds nothing.
	if rep := e.run(false); rep.Swept != 0 || rep.UnusedLinks != 0 || rep.DanglingLinks != 0 {
		t.Fatalf("second run: %+v", rep)
	}
	if n := len(e.keys(kv.LinkNamespace())); n != 3 {
		t.Fatalf("%d links left, want 3", n)
	}
	if tomb := e.keys(kv.SweepPrefix()); len(tomb) != 0 {
		t.Fatalf("tombstones left: %v", tomb)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	e := newEnv(t, envOptions{gc: Options{Grace: hour, DeleteUntagged: true}})
	_, _ = e.simpleImage("a", "v1")
	old, _ := e.simpleImage("a", "v2")
	if err := e.reg.DeleteManifest(e.ctx, "a", names.Reference{Tag: "v2"}); err != nil {
		t.Fatal(err)
	}
	_ = old
	e.blob("b", randBytes(10))
	e.clock.Add(2 * hour)
	before := e.dump()
	dry := e.run(true)
	if after := e.dump(); len(after) != len(before) {
		t.Fatalf("dry run changed the store: %d keys before, %d after", len(before), len(after))
	}
	real := e.run(false)
	if !dry.DryRun || real.DryRun {
		t.Fatal("DryRun flag not reported")
	}
	if dry.Swept != real.Swept || dry.SweptBytes != real.SweptBytes || dry.UntaggedManifests != real.UntaggedManifests ||
		dry.Swept == 0 || dry.UntaggedManifests != 1 {
		t.Fatalf("dry run predicted %+v, the run did %+v", dry, real)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(real.JSON()), &got); err != nil || got["reclaimed_bytes"] == nil || got["swept"] == nil {
		t.Fatalf("report JSON %s: %v", real.JSON(), err)
	}
}

func TestUntaggedPolicy(t *testing.T) {
	e := newEnv(t, envOptions{gc: Options{Grace: hour, DeleteUntagged: true}})
	ctx := e.ctx
	// A multi-platform image: two children pushed by digest, the index by tag.
	c1, c1blobs := e.simpleImage("multi", "")
	c2, _ := e.simpleImage("multi", "")
	e.manifest("multi", "latest", index(c1, c2))
	// A signature on the tagged index, and a signature on that signature.
	sig := e.manifest("multi", "", image(e.blob("multi", []byte("{}")), nil, ptr(mustManifest(t, e, "multi", "latest"))))
	sigsig := e.manifest("multi", "", image(e.blob("multi", []byte(`{"a":1}`)), []v1.Descriptor{e.blob("multi", randBytes(30))}, &sig))
	// An untagged image and its referrer: both go.
	lost, lostBlobs := e.simpleImage("multi", "")
	lostRef := e.manifest("multi", "", image(e.blob("multi", randBytes(20)), nil, &lost))
	// An image that was tagged, then untagged.
	was, _ := e.simpleImage("multi", "old")
	if err := e.reg.DeleteManifest(ctx, "multi", names.Reference{Tag: "old"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(2 * hour)
	// Pushed just now: young, stays although untagged.
	fresh, _ := e.simpleImage("multi", "")

	rep := e.run(false)
	if rep.UntaggedManifests != 3 {
		t.Fatalf("removed %d untagged manifests, want 3 (lost, its referrer, was): %+v", rep.UntaggedManifests, rep)
	}
	for _, d := range []v1.Descriptor{c1, c2, sig, sigsig, fresh} {
		if _, err := e.reg.GetManifest(ctx, "multi", names.Reference{Digest: d.Digest}); err != nil {
			t.Errorf("live manifest %s: %v", d.Digest, err)
		}
	}
	for _, d := range []v1.Descriptor{lost, lostRef, was} {
		if _, err := e.reg.GetManifest(ctx, "multi", names.Reference{Digest: d.Digest}); errcode.KindOf(err) != errcode.ManifestUnknown {
			t.Errorf("untagged manifest %s: %v, want MANIFEST_UNKNOWN", d.Digest, err)
		}
	}
	for _, b := range c1blobs {
		e.mustStay("multi", b.Digest)
	}
	for _, b := range lostBlobs {
		e.mustGone(b.Digest)
	}
	// The referrers API no longer lists the deleted referrer.
	refs, err := e.reg.Referrers(ctx, "multi", lost.Digest, "")
	if err != nil || len(refs) != 0 {
		t.Fatalf("referrers of a collected manifest: %v %v", refs, err)
	}
	if refs, _ := e.reg.Referrers(ctx, "multi", sig.Digest, ""); len(refs) != 1 {
		t.Fatalf("referrers of a live signature: %v", refs)
	}
}

func ptr(d v1.Descriptor) *v1.Descriptor { return &d }

func mustManifest(t *testing.T, e *env, repo, tag string) v1.Descriptor {
	t.Helper()
	m, err := e.reg.GetManifest(e.ctx, repo, names.Reference{Tag: tag})
	if err != nil {
		t.Fatal(err)
	}
	return v1.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Payload))}
}

func TestUnusedAndDanglingLinks(t *testing.T) {
	e := newEnv(t, defaults())
	ctx := e.ctx
	base := randBytes(500)
	_, blobs := e.simpleImage("a", "v1", base)
	// b holds the base layer (mounted from a) and a blob of its own, but no
	// manifest uses them.
	ok, err := e.reg.MountBlob(ctx, "b", "a", blobs[1].Digest, nil)
	if err != nil || !ok {
		t.Fatalf("mount: %v %v", ok, err)
	}
	own := e.blob("b", randBytes(50))
	// A link and an inverse link pointing at nothing (a bug, or a crash of
	// an older build).
	ghost := digest.FromString("ghost").String()
	if err := e.store.Update(ctx, func(t kv.Txn) error {
		if err := t.Set(kv.LinkKey("a", ghost), nil); err != nil {
			return err
		}
		return t.Set(kv.InverseLinkKey(digest.FromString("ghost2").String(), "a"), nil)
	}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(2 * hour)
	rep := e.run(false)
	// b's two links are unused, a's ghost link and inverse link dangle.
	if rep.UnusedLinks != 2 || rep.DanglingLinks != 2 || rep.Swept != 1 || rep.EmptyRepositories != 1 {
		t.Fatalf("report: %+v", rep)
	}
	// The shared blob stays for a, and b can no longer serve it.
	e.mustStay("a", blobs[1].Digest)
	if _, err := e.reg.StatBlob(ctx, "b", blobs[1].Digest); errcode.KindOf(err) != errcode.NameUnknown {
		t.Fatalf("b after cleanup: %v, want NAME_UNKNOWN (the empty repository is gone)", err)
	}
	e.mustGone(own.Digest)
	if cat, _ := e.reg.Catalog(ctx, "", -1); len(cat.Items) != 1 || cat.Items[0] != "a" {
		t.Fatalf("catalog %v", cat.Items)
	}
	if keys := e.keys(kv.InverseLinkNamespace()); len(keys) != len(blobs) {
		t.Fatalf("inverse links %v", keys)
	}
}

func TestRepositoryRecordRestored(t *testing.T) {
	e := newEnv(t, defaults())
	_, blobs := e.simpleImage("r", "v1")
	if err := e.store.Update(e.ctx, func(t kv.Txn) error { return t.Delete(kv.RepoKey("r")) }); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(2 * hour)
	rep := e.run(false)
	// Content under a repository without a record is still marked.
	if rep.Swept != 0 || rep.RestoredRepos != 1 || rep.Marked != len(blobs) {
		t.Fatalf("report %+v", rep)
	}
	if tags, err := e.reg.Tags(e.ctx, "r", "", -1); err != nil || len(tags.Items) != 1 {
		t.Fatalf("tags after restore: %v %v", tags, err)
	}
}

// placeFile commits data to the blob store with no record, as an upload
// does just before its link transaction (or a crash between the two).
func (e *env) placeFile(data []byte) digest.Digest {
	e.t.Helper()
	d := digest.FromBytes(data)
	f, err := e.fs.CreateStaging("0123456789abcdef0123456789abcdef")
	if err != nil {
		e.t.Fatal(err)
	}
	_, _ = f.Write(data)
	_ = f.Close()
	if _, err := e.fs.Commit("0123456789abcdef0123456789abcdef", d); err != nil {
		e.t.Fatal(err)
	}
	return d
}

func TestOrphanFiles(t *testing.T) {
	e := newEnv(t, defaults())
	writeOrphan := e.placeFile
	orphan := writeOrphan(randBytes(77))
	_, blobs := e.simpleImage("a", "v1")
	if rep := e.run(false); rep.Orphans != 0 {
		t.Fatalf("a young orphan may be an upload in flight: %+v", rep)
	}
	e.clock.Add(2 * hour)
	rep := e.run(false)
	if rep.Orphans != 1 || rep.OrphanBytes != 77 || rep.ReclaimedBytes() != 77 {
		t.Fatalf("report %+v", rep)
	}
	e.mustGone(orphan)
	for _, b := range blobs {
		e.mustStay("a", b.Digest)
	}

	// Later runs walk the files once per OrphanInterval (1h by default).
	late := writeOrphan(randBytes(55))
	e.clock.Add(30 * time.Minute)
	if rep := e.run(false); rep.OrphanWalk || rep.Orphans != 0 {
		t.Fatalf("walked again within the interval: %+v", rep)
	}
	e.clock.Add(2 * hour)
	if rep := e.run(false); !rep.OrphanWalk || rep.Orphans != 1 {
		t.Fatalf("no walk once the interval passed: %+v", rep)
	}
	e.mustGone(late)
}

// TestYoungFilesOutliveTombstones: an upload links a file its own Commit
// placed without looking at the blob store again (engine's checkSweep), so
// even with no grace period an online run deletes neither a file under a
// minute old that an interrupted run's tombstone names (a new upload of
// the swept bytes) nor, as an orphan, one with no record; an older file
// under a tombstone goes.
func TestYoungFilesOutliveTombstones(t *testing.T) {
	o := defaults()
	o.gc.Grace, o.gc.OrphanInterval = 0, 0
	e := newEnv(t, o)
	tombstone := func(d digest.Digest) {
		t.Helper()
		if err := e.store.Update(e.ctx, func(tx kv.Txn) error { return tx.Set(kv.SweepKey(d.String()), nil) }); err != nil {
			t.Fatal(err)
		}
	}
	placed := e.placeFile(randBytes(50)) // after an interrupted sweep of the same bytes
	tombstone(placed)
	e.clock.Add(30 * time.Second) // past the grace period, not past a minute
	rep := e.run(false)
	if rep.Recovered != 1 || rep.Orphans != 0 {
		t.Fatalf("want the tombstone recovered and no orphan: %+v", rep)
	}
	if _, err := e.blobs.Stat(e.ctx, placed); err != nil {
		t.Fatalf("a file placed after its tombstone was deleted: %v", err)
	}
	if has, err := kv.Read(e.ctx, e.store, func(r kv.Reader) (bool, error) { return r.Has(kv.SweepKey(placed.String())) }); err != nil || has {
		t.Fatalf("tombstone of the kept file still there (%v) or %v", has, err)
	}
	// A minute and a half on, the same file under a tombstone is the swept one.
	e.clock.Add(time.Minute)
	tombstone(placed)
	if rep := e.run(false); rep.Recovered != 1 {
		t.Fatalf("want the tombstone recovered: %+v", rep)
	}
	e.mustGone(placed)
}

func TestUploadExpiry(t *testing.T) {
	e := newEnv(t, defaults())
	ctx := e.ctx
	up, err := e.reg.StartUpload(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.AppendUpload(ctx, "a", up.ID, 0, strings.NewReader("some bytes"), 10); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(e.dir, "uploads", "fedcba9876543210fedcba9876543210")
	if err := os.WriteFile(stray, []byte("left by a crash"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rep, err := e.gc.ExpireUploads(ctx, RunOptions{}); err != nil || rep.UploadsExpired != 0 {
		t.Fatalf("fresh uploads expired: %+v %v", rep, err)
	}
	e.clock.Add(25 * hour)
	// Recent writes to the staging file keep a session alive, whatever its age.
	if err := os.Chtimes(stray, time.Now().Add(-48*hour), time.Now().Add(-48*hour)); err != nil {
		t.Fatal(err)
	}
	rep, err := e.gc.ExpireUploads(ctx, RunOptions{DryRun: true})
	if err != nil || rep.UploadsExpired != 2 {
		t.Fatalf("dry run: %+v %v", rep, err)
	}
	rep, err = e.gc.ExpireUploads(ctx, RunOptions{})
	if err != nil || rep.UploadsExpired != 2 || rep.UploadBytes != 10+15 {
		t.Fatalf("expiry: %+v %v", rep, err)
	}
	if _, err := e.reg.UploadStatus(ctx, "a", up.ID); errcode.KindOf(err) != errcode.BlobUploadUnknown {
		t.Fatalf("expired session: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(e.dir, "uploads")); len(entries) != 0 {
		t.Fatalf("staging files left: %v", entries)
	}
}

func TestRecoverInterruptedSweep(t *testing.T) {
	e := newEnv(t, defaults())
	data := randBytes(40)
	b := e.blob("a", data)
	// What a sweep leaves when the process dies after its transaction:
	// no record, no links, a tombstone, the file.
	if err := e.store.Update(e.ctx, func(t kv.Txn) error {
		for _, k := range [][]byte{kv.BlobKey(b.Digest.String()), kv.LinkKey("a", b.Digest.String()), kv.InverseLinkKey(b.Digest.String(), "a")} {
			if err := t.Delete(k); err != nil {
				return err
			}
		}
		return t.Set(kv.SweepKey(b.Digest.String()), nil)
	}); err != nil {
		t.Fatal(err)
	}
	if rep := e.run(true); rep.Recovered != 1 || len(e.keys(kv.SweepPrefix())) != 1 {
		t.Fatalf("dry run must only report: %+v", rep)
	}
	// While the tombstone stands the digest cannot be linked (the file
	// may be half-way to deletion) ...
	err := e.reg.PutBlob(e.ctx, "a", b.Digest, bytes.NewReader(data), int64(len(data)))
	if errcode.KindOf(err) != errcode.BlobUploadInvalid {
		t.Fatalf("upload under a tombstone: %v", err)
	}
	// ... until recovery (at start-up, or the next run) finishes the sweep.
	if a, err := e.gc.Startup(e.ctx); err != nil || a.Recovered != 1 {
		t.Fatalf("Startup = %+v, %v", a, err)
	}
	if rep := e.run(false); rep.Recovered != 0 {
		t.Fatalf("report %+v", rep)
	}
	e.mustGone(b.Digest)
	if len(e.keys(kv.SweepPrefix())) != 0 {
		t.Fatal("tombstone left")
	}
	e.blob("a", data)
	e.mustStay("a", b.Digest)
}

// A push that links or uses a blob after the mark snapshot keeps it: the
// sweep's transaction sees LastLinked changed. The blob's link in a
// survives to the sweep as it does when a's actor was too busy for the
// link cleanup.
func TestSweepRacesPush(t *testing.T) {
	for _, how := range []string{"manifest", "upload", "mount", "manifest-postgres", "upload-postgres", "mount-postgres"} {
		t.Run(how, func(t *testing.T) {
			how, pg := strings.CutSuffix(how, "-postgres")
			e := newEnv(t, envOptions{gc: Options{Grace: 0}, postgres: pg})
			_, blobs := e.simpleImage("a", "v0")
			cfg := blobs[0]
			data := randBytes(20)
			layer := e.blob("a", data)
			e.clock.Add(time.Second)
			raced := false
			e.gc.hook = func(point, d string) {
				if point != "sweep" || raced || d != layer.Digest.String() {
					return
				}
				raced = true
				if err := e.store.Update(e.ctx, func(t kv.Txn) error {
					if err := t.Set(kv.LinkKey("a", d), nil); err != nil {
						return err
					}
					return t.Set(kv.InverseLinkKey(d, "a"), nil)
				}); err != nil {
					t.Error(err)
				}
				e.clock.Add(time.Millisecond)
				switch how {
				case "manifest":
					e.manifest("a", "v1", image(cfg, []v1.Descriptor{layer}, nil))
				case "upload":
					e.blob("b", data)
				case "mount":
					if ok, err := e.reg.MountBlob(e.ctx, "c", "a", layer.Digest, nil); !ok || err != nil {
						t.Errorf("mount: %v %v", ok, err)
					}
				}
			}
			rep := e.run(false)
			if !raced || rep.Raced != 1 || rep.Swept != 0 {
				t.Fatalf("the race did not happen: %+v", rep)
			}
			rec, file := e.hasRecord(layer.Digest)
			if !rec || !file {
				t.Fatalf("blob linked during the sweep was collected: record %v file %v", rec, file)
			}
		})
	}
}

// A blob swept before the push's transaction makes the push fail cleanly
// (MANIFEST_BLOB_UNKNOWN), never commit a manifest without its blob.
func TestPushAfterSweepFails(t *testing.T) {
	t.Run("badger", func(t *testing.T) { pushAfterSweepFails(t, false) })
	t.Run("postgres", func(t *testing.T) { pushAfterSweepFails(t, true) })
}

func pushAfterSweepFails(t *testing.T, pg bool) {
	e := newEnv(t, envOptions{gc: Options{Grace: 0}, postgres: pg})
	cfg := e.blob("a", randBytes(10))
	data := randBytes(20)
	layer := e.blob("a", data)
	e.clock.Add(time.Second)
	e.gc.hook = func(point, d string) {
		if point == "unrecorded" && d == layer.Digest.String() {
			_, err := e.push("a", "v1", image(cfg, []v1.Descriptor{layer}, nil))
			if errcode.KindOf(err) != errcode.ManifestBlobUnknown {
				t.Errorf("push of a manifest whose blob was just swept: %v, want MANIFEST_BLOB_UNKNOWN", err)
			}
			// Re-uploading while the file is being removed is refused: the
			// upload found the file present and skipped writing it.
			err = e.reg.PutBlob(e.ctx, "a", layer.Digest, bytes.NewReader(data), int64(len(data)))
			if errcode.KindOf(err) != errcode.BlobUploadInvalid {
				t.Errorf("linking a blob under a sweep tombstone: %v, want BLOB_UPLOAD_INVALID", err)
			}
		}
	}
	if rep := e.run(false); rep.Swept != 2 {
		t.Fatalf("report %+v", rep)
	}
	// No record is left pointing at the deleted file; uploading again works.
	e.mustGone(layer.Digest)
	e.blob("a", data)
	e.mustStay("a", layer.Digest)
}

func TestDeleteRepository(t *testing.T) {
	e := newEnv(t, defaults())
	base := randBytes(100)
	_, aBlobs := e.simpleImage("a", "v1", base)
	img, _ := e.simpleImage("b", "v1", base)
	e.manifest("b", "", image(e.blob("b", []byte("{}")), nil, &img))
	e.manifest("b", "v2", image(e.blob("b", randBytes(5)), nil, nil))
	res, err := e.gc.DeleteRepository(e.ctx, "b")
	if err != nil || res.Manifests != 3 || res.Tags != 2 || res.Links != 5 {
		t.Fatalf("delete: %+v %v", res, err)
	}
	if _, err := e.gc.DeleteRepository(e.ctx, "b"); err == nil {
		t.Fatal("deleting a missing repository succeeded")
	}
	for _, prefix := range [][]byte{kv.ManifestPrefix("b"), kv.TagPrefix("b"), kv.LinkPrefix("b"), []byte("s/b@")} {
		if k := e.keys(prefix); len(k) != 0 {
			t.Fatalf("left %v", k)
		}
	}
	e.clock.Add(2 * hour)
	if rep := e.run(false); rep.Swept != 4 {
		t.Fatalf("blobs of the deleted repository: %+v", rep)
	}
	for _, b := range aBlobs {
		e.mustStay("a", b.Digest)
	}
}

func TestOnlyOneRun(t *testing.T) {
	e := newEnv(t, defaults())
	e.simpleImage("a", "v1")
	started := make(chan struct{})
	release := make(chan struct{})
	e.clock.Add(2 * hour)
	e.blob("a", randBytes(5))
	e.clock.Add(2 * hour)
	e.gc.hook = func(point, _ string) {
		if point == "sweep" {
			close(started)
			<-release
		}
	}
	done := make(chan error)
	go func() { _, err := e.gc.Run(e.ctx, RunOptions{}); done <- err }()
	<-started
	if _, err := e.gc.Run(e.ctx, RunOptions{}); !errors.Is(err, ErrRunning) {
		t.Fatalf("concurrent run: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestJobsAndStatusStore(t *testing.T) {
	e := newEnv(t, defaults())
	e.simpleImage("a", "v1")
	r := jobs.NewRunner(jobs.Options{Store: NewStatusStore(e.store, nil)})
	for _, j := range e.gc.Jobs(Schedule{}) {
		if err := r.Register(j); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Trigger(JobCollect); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	st, err := r.Wait(ctx, JobCollect)
	if err != nil || st.State != jobs.Succeeded {
		t.Fatalf("%+v %v", st, err)
	}
	var rep Report
	if err := json.Unmarshal([]byte(st.LastResult), &rep); err != nil || rep.Marked != 2 {
		t.Fatalf("LastResult %q: %v", st.LastResult, err)
	}
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// The status survives: a new runner over the same store reads it.
	got, ok, err := NewStatusStore(e.store, nil).LoadStatus(ctx, JobCollect)
	if err != nil || !ok || got.State != jobs.Succeeded || got.Runs != 1 || got.LastResult != st.LastResult ||
		!got.Started.Equal(st.Started) || !got.Finished.Equal(st.Finished) {
		t.Fatalf("persisted %+v, want %+v (%v)", got, st, err)
	}
	if _, ok, _ := NewStatusStore(e.store, nil).LoadStatus(ctx, "never"); ok {
		t.Fatal("status of a kind that never ran")
	}
}

func TestSplitAt(t *testing.T) {
	d := digest.FromString("x").String()
	if repo, rest, ok := kv.SplitAt(kv.ManifestKey("a/b", d), kv.ManifestNamespace()); !ok || repo != "a/b" || rest != d {
		t.Fatalf("%q %q %v", repo, rest, ok)
	}
	if dd, repo, ok := kv.SplitAt(kv.InverseLinkKey(d, "a/b"), kv.InverseLinkNamespace()); !ok || repo != "a/b" || dd != d {
		t.Fatalf("%q %q %v", dd, repo, ok)
	}
}

// cached is the number of manifests the collector's usedCache holds.
func (e *env) cached() int {
	e.gc.used.mu.Lock()
	defer e.gc.used.mu.Unlock()
	return len(e.gc.used.m)
}

// TestDropCache: DropCache empties the mark phase's manifest cache, the
// runs after it mark the same blobs from the records, and a drop in the
// middle of runs (the quiet-server release can meet a scheduled
// collection) races with nothing.
func TestDropCache(t *testing.T) {
	e := newEnv(t, defaults())
	shared := randBytes(300)
	e.simpleImage("app", "v1", shared)
	gone, _ := e.simpleImage("app", "v2", shared)
	e.simpleImage("other", "v1")
	first := e.run(false)
	if n := e.cached(); n != 3 {
		t.Fatalf("after a run: %d manifests cached, want 3", n)
	}
	e.gc.DropCache()
	if n := e.cached(); n != 0 {
		t.Fatalf("after DropCache: %d manifests cached", n)
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			e.gc.DropCache()
		}
	}()
	for range 20 {
		if rep := e.run(false); rep.Marked != first.Marked || rep.Swept != 0 {
			t.Fatalf("run while the cache is dropped: %+v, the first run %+v", rep, first)
		}
	}
	<-done

	e.deleteManifest("app", gone.Digest)
	e.gc.DropCache()
	e.clock.Add(2 * hour)
	if rep := e.run(false); rep.Marked != first.Marked-2 || rep.Swept != 2 { // v2's config and own layer
		t.Fatalf("after a delete and a drop: %+v, the first run %+v", rep, first)
	}
}

// PruneStatuses deletes the saved statuses under the prefix whose run
// ended before the cutoff, and nothing else: not a newer one, not one
// queued, running or interrupted, not another kind's.
func TestPruneStatuses(t *testing.T) {
	e := newEnv(t, defaults())
	s := NewStatusStore(e.store, nil)
	cutoff := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	old, recent := cutoff.Add(-time.Hour), cutoff.Add(time.Hour)
	sts := []jobs.Status{
		{Kind: "repo-delete:done", State: jobs.Succeeded, Finished: old},
		{Kind: "repo-delete:failed", State: jobs.Failed, Finished: old},
		{Kind: "repo-delete:cancelled", State: jobs.Cancelled, Finished: old},
		{Kind: "repo-delete:recent", State: jobs.Succeeded, Finished: recent},
		{Kind: "repo-delete:queued", State: jobs.Queued, Finished: old},
		{Kind: "repo-delete:running", State: jobs.Running, Finished: old},
		{Kind: "repo-delete:interrupted", State: jobs.Interrupted, Finished: old},
		{Kind: JobCollect, State: jobs.Succeeded, Finished: old},
	}
	for _, st := range sts {
		if err := s.SaveStatus(e.ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneStatuses(e.ctx, RepoDeletePrefix, cutoff)
	if err != nil || n != 3 {
		t.Fatalf("pruned %d (%v), want 3", n, err)
	}
	left, err := s.LoadStatuses(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, st := range left {
		kinds = append(kinds, st.Kind)
	}
	slices.Sort(kinds)
	want := []string{JobCollect, "repo-delete:interrupted", "repo-delete:queued", "repo-delete:recent", "repo-delete:running"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("left %v, want %v", kinds, want)
	}
}
