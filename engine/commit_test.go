package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// gate is a durability barrier the test holds shut: Wait blocks while it
// is closed, and the test sees how many writers are waiting on it.
type gate struct {
	mu      sync.Mutex
	cond    sync.Cond
	shut    bool
	waiting int
}

func newGate() *gate {
	g := &gate{}
	g.cond.L = &g.mu
	return g
}

func (g *gate) Wait() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.waiting++
	for g.shut {
		g.cond.Wait()
	}
	g.waiting--
	return nil
}

func (g *gate) set(shut bool) {
	g.mu.Lock()
	g.shut = shut
	g.mu.Unlock()
	g.cond.Broadcast()
}

func (g *gate) waiters() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}

// TestWritersShareTheFlush checks that a writer leaves what serializes
// it (the blob's writers stripe for a mount, the repository's actor for a
// manifest push) once its commit is applied, and waits for the disk after:
// writers of one blob, or of one repository, then all wait for the same
// flush together instead of queueing for one each. Each call still
// returns only after the flush (the gate opens).
func TestWritersShareTheFlush(t *testing.T) {
	dir := t.TempDir()
	g := newGate()
	store, err := kv.Open(kv.Options{Dir: filepath.Join(dir, "meta"), Barrier: g})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	blobs, err := blobstore.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := New(store, blobs, Options{})
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	ctx := context.Background()
	layer := putBlob(t, r, "src", []byte("one base layer"))
	cfg := putBlob(t, r, "app", []byte(`{"os":"linux","architecture":"amd64"}`))
	cfg.MediaType = v1.MediaTypeImageConfig

	const n = 4
	run := func(what string, op func(i int) error) {
		t.Helper()
		g.set(true)
		done := make(chan error, n)
		for i := range n {
			go func() { done <- op(i) }()
		}
		wait.For(t, fmt.Sprintf("%d %s waiting for one flush", n, what), func() bool { return g.waiters() == n })
		select {
		case err := <-done:
			t.Fatalf("%s answered before the flush: %v", what, err)
		default:
		}
		g.set(false)
		for range n {
			if err := <-done; err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
	}
	run("mounts of one blob", func(i int) error {
		ok, err := r.MountBlob(ctx, fmt.Sprintf("dst%d", i), "src", layer.Digest, nil)
		if err == nil && !ok {
			err = fmt.Errorf("dst%d: not mounted", i)
		}
		return err
	})
	run("manifest pushes to one repository", func(i int) error {
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[],"annotations":{"n":"%d"}}`,
			v1.MediaTypeImageManifest, cfg.MediaType, cfg.Digest, cfg.Size, i)
		_, err := r.PutManifest(ctx, "app", names.Reference{Tag: fmt.Sprintf("v%d", i)}, v1.MediaTypeImageManifest, []byte(m), nil)
		return err
	})
}
