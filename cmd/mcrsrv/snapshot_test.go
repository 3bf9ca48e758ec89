package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/engine/snapshot"
)

// image is what the test pushed: to be read back after a restore.
type image struct {
	repo, tag string
	manifest  digest.Digest
	blobs     map[digest.Digest][]byte
}

func pushImage(t *testing.T, reg *engine.Registry, repo, tag string, layers ...[]byte) image {
	t.Helper()
	ctx := context.Background()
	im := image{repo: repo, tag: tag, blobs: map[digest.Digest][]byte{}}
	put := func(b []byte, mt string) v1.Descriptor {
		d := digest.FromBytes(b)
		if err := reg.PutBlob(ctx, repo, d, bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
		im.blobs[d] = b
		return v1.Descriptor{MediaType: mt, Digest: d, Size: int64(len(b))}
	}
	m := v1.Manifest{MediaType: v1.MediaTypeImageManifest, Config: put([]byte(`{"architecture":"amd64","os":"linux","tag":"`+tag+`"}`), v1.MediaTypeImageConfig)}
	m.SchemaVersion = 2
	// Every manifest is over kv's 64 KiB value threshold, so it lives in
	// Badger's value log: the path a snapshot and a restore must carry
	// (a snapshot's read-back of such a backup once crashed the server).
	m.Annotations = map[string]string{"org.example.notes": strings.Repeat("n", 70<<10)}
	for _, l := range layers {
		m.Layers = append(m.Layers, put(l, v1.MediaTypeImageLayer))
	}
	payload, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	res, err := reg.PutManifest(ctx, repo, names.Reference{Tag: tag}, v1.MediaTypeImageManifest, payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	im.manifest = res.Digest
	return im
}

// TestSnapshotRestore pushes images, snapshots the stopped data
// directory, restores it into a new one and reads everything back through
// the engine.
func TestSnapshotRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opened := enginetest.Open(t, dir)
	store, blobs := opened.KV, opened.Blobs
	reg := engine.New(store, blobs, engine.Options{})
	shared := bytes.Repeat([]byte("base layer "), 1000)
	images := []image{
		pushImage(t, reg, "team/app", "v1", shared, []byte("app v1")),
		pushImage(t, reg, "team/app", "v2", shared, []byte("app v2")),
		pushImage(t, reg, "tools", "latest", shared),
	}
	j, rec := openJournal(Defaults(), store, zerolog.Nop())
	rec.Record(ctx, audit.Event{Kind: audit.Push, AccountName: "ci", Repository: "tools", Outcome: "success"})
	closeJournal(j, rec, zerolog.Nop())

	// A server holds the store: the offline snapshot must refuse.
	snap := filepath.Join(t.TempDir(), "snap")
	if out, err := runMcrsrv(t, "snapshot", "--data", dir, "--to", snap); err == nil || !strings.Contains(err.Error(), "server running") {
		t.Fatalf("snapshot of an open store: %v\n%s", err, out)
	}
	_ = reg.Close(ctx)
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, "snapshot", "--data", dir, "--to", snap)
	m, err := snapshot.ReadManifest(snap)
	if err != nil {
		t.Fatal(err)
	}
	// 3 configs + shared + 2 app layers.
	if len(m.Blobs) != 6 || m.Linked+m.Copied != 6 || !strings.Contains(out, "6 blobs") {
		t.Fatalf("manifest %+v\n%s", m, out)
	}
	if _, err := runMcrsrv(t, "snapshot", "--data", dir, "--to", snap); err == nil {
		t.Fatal("snapshot into a non-empty directory")
	}

	// Restore refuses a non-empty target.
	busy := t.TempDir()
	if err := os.WriteFile(filepath.Join(busy, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := runMcrsrv(t, "restore", "--from", snap, "--data", busy); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("restore into a non-empty directory: %v", err)
	}

	restored := filepath.Join(t.TempDir(), "new")
	out = mustRun(t, "restore", "--from", snap, "--data", restored)
	if !strings.Contains(out, "every digest verified") || !strings.Contains(out, "hash chain intact") {
		t.Fatalf("restore said:\n%s", out)
	}
	stores2 := enginetest.Open(t, restored)
	reg2 := engine.New(stores2.KV, stores2.Blobs, engine.Options{})
	defer reg2.Close(ctx)
	for _, im := range images {
		for _, ref := range []names.Reference{{Tag: im.tag}, {Digest: im.manifest}} {
			got, err := reg2.GetManifest(ctx, im.repo, ref)
			if err != nil || got.Digest != im.manifest || digest.FromBytes(got.Payload) != im.manifest {
				t.Fatalf("%s:%s: %+v %v", im.repo, ref, got, err)
			}
		}
		for d, want := range im.blobs {
			f, size, err := reg2.OpenBlob(ctx, im.repo, d)
			if err != nil {
				t.Fatalf("%s@%s: %v", im.repo, d, err)
			}
			b, err := io.ReadAll(f)
			_ = f.Close()
			if err != nil || size != int64(len(want)) || digest.FromBytes(b) != d || !bytes.Equal(b, want) {
				t.Fatalf("%s@%s: %d bytes, %v", im.repo, d, len(b), err)
			}
		}
	}
	p, err := audit.Query(ctx, stores2.KV, audit.Filter{Repository: "tools"}, "", 10)
	if err != nil || len(p.Events) != 1 {
		t.Fatalf("audit log after restore: %+v %v", p, err)
	}
	// The restored registry takes new pushes.
	pushImage(t, reg2, "tools", "next", []byte("after restore"))
}

// TestRestoreCorrupt: a blob altered inside a snapshot fails the restore,
// which leaves the target empty.
func TestRestoreCorrupt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opened := enginetest.Open(t, dir)
	store, blobs := opened.KV, opened.Blobs
	reg := engine.New(store, blobs, engine.Options{})
	im := pushImage(t, reg, "a", "v1", []byte("layer"))
	_ = reg.Close(ctx)
	snap := filepath.Join(t.TempDir(), "snap")
	if _, err := snapshot.Create(ctx, store, blobs, snap); err != nil {
		t.Fatal(err)
	}
	_ = store.Close()
	for d := range im.blobs {
		p := filepath.Join(snap, "blobs", "sha256", d.Encoded()[:2], d.Encoded())
		// Replace, not write through: a hard link shares the data dir's file.
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(fmt.Sprintf("%-5s", "evil")), 0o600); err != nil {
			t.Fatal(err)
		}
		break
	}
	target := filepath.Join(t.TempDir(), "new")
	if _, err := runMcrsrv(t, "restore", "--from", snap, "--data", target); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("restore of a corrupt snapshot: %v", err)
	}
	if err := snapshot.EmptyDir(target); err != nil {
		t.Errorf("target after a failed restore: %v", err)
	}
}
