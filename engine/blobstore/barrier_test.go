//go:build linux

package blobstore

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
)

func newTestBarrier(t *testing.T, dirs ...string) *Barrier {
	t.Helper()
	b, err := NewBarrier(dirs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestBarrierSyncsOncePerFilesystem checks that directories of one
// filesystem share a descriptor and that a real syncfs succeeds.
func TestBarrierSyncsOncePerFilesystem(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "meta")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	b := newTestBarrier(t, dir, sub)
	if len(b.files) != 1 {
		t.Fatalf("%d descriptors for one filesystem, want 1", len(b.files))
	}
	if err := b.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewBarrier(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a barrier over a missing directory opened")
	}
}

// TestBarrierGroupsWaiters checks the group commit: a Wait that arrives
// while a sync runs is not satisfied by it (the sync may have begun before
// the caller's writes) but by the next one, which every such waiter
// shares.
func TestBarrierGroupsWaiters(t *testing.T) {
	b := newTestBarrier(t, t.TempDir())
	var started, finished atomic.Int64
	gate := make(chan struct{})
	b.sync = func(*os.File) error {
		started.Add(1)
		<-gate
		finished.Add(1)
		return nil
	}
	first := make(chan error, 1)
	go func() { first <- b.Wait() }()
	wait.For(t, "the first sync to start", func() bool { return started.Load() == 1 })

	const waiters = 20
	var returned atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, waiters)
	for range waiters {
		wg.Go(func() {
			begun := started.Load() // syncs begun before this Wait
			err := b.Wait()
			if finished.Load() < begun+1 {
				err = errors.New("Wait returned before a sync that began after it finished")
			}
			returned.Add(1)
			errs <- err
		})
	}
	wait.For(t, "every waiter to queue behind sync 1", func() bool { return b.parkedWaits() == waiters })
	gate <- struct{}{} // sync 1 ends
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// Sync 2 is running (held at the gate) and every other waiter has either
	// parked again behind it or, wrongly, returned on sync 1.
	wait.For(t, "sync 2 to start with every waiter parked or returned", func() bool {
		return started.Load() == 2 && b.parkedWaits()+int(returned.Load()) == waiters-1
	})
	if n := returned.Load(); n != 0 {
		t.Fatalf("%d waiters returned on a sync that was running when they arrived", n)
	}
	close(gate) // sync 2 and any later one end at once
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := started.Load(); n > 3 {
		t.Fatalf("%d syncs for %d waiters queued behind one: not grouped", n, waiters+1)
	}
}

// TestBarrierErrorIsSticky checks that after a failed sync no Wait claims
// durability, and none syncs again.
func TestBarrierErrorIsSticky(t *testing.T) {
	b := newTestBarrier(t, t.TempDir())
	calls := 0
	b.sync = func(*os.File) error { calls++; return syscall.EIO }
	for range 3 {
		if err := b.Wait(); !errors.Is(err, syscall.EIO) {
			t.Fatalf("Wait = %v, want EIO", err)
		}
	}
	if calls != 1 {
		t.Fatalf("%d syncs after the first failed, want none", calls-1)
	}
}

// TestStoreWithBarrier checks that a store with a barrier syncs through
// it: once for the staging file and once for its directory entry, and not
// for a new chunked upload's directory entry (the file's sync covers it).
func TestStoreWithBarrier(t *testing.T) {
	dir := t.TempDir()
	b := newTestBarrier(t, dir)
	var syncs atomic.Int64
	b.sync = func(f *os.File) error { syncs.Add(1); return syncFS(f) }
	s, err := Open(dir, b)
	if err != nil {
		t.Fatal(err)
	}
	id := "0123456789abcdef0123456789abcdef"
	f, err := s.OpenStaging(id, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if n := syncs.Load(); n != 0 {
		t.Fatalf("%d syncs on opening a staging file, want 0", n)
	}
	content := []byte("hello, barrier")
	if _, err := f.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	d := digest.FromBytes(content)
	if _, err := s.Commit(id, d); err != nil {
		t.Fatal(err)
	}
	if n := syncs.Load(); n != 2 {
		t.Fatalf("%d syncs for a write and a commit, want 2", n)
	}
	got, err := os.ReadFile(s.path(d))
	if err != nil || string(got) != string(content) {
		t.Fatalf("committed blob = %q, %v", got, err)
	}
}

// parkedWaits is how many Waits are blocked behind a running sync.
func (b *Barrier) parkedWaits() int { return b.group.Parked() }
