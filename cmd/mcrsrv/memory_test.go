package main

import (
	"sync"
	"syscall"
	"testing"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
)

// growThreads makes the runtime start threads for n goroutines blocked in
// read(2) at once, lets them finish, and returns the thread count then.
func growThreads(t *testing.T, n int) int {
	t.Helper()
	before := threads()
	if before == 0 {
		t.Skip("the runtime does not report its threads")
	}
	fds := make([][2]int, n)
	for i := range fds {
		if err := syscall.Pipe(fds[i][:]); err != nil { // blocking fds: a read holds its thread
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range fds {
		wg.Go(func() {
			var b [1]byte
			_, _ = syscall.Read(fds[i][0], b[:])
		})
	}
	wait.For(t, "threads for the goroutines blocked in read(2)", func() bool { return threads() >= before+n/2 })
	for i := range fds {
		if _, err := syscall.Write(fds[i][1], []byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i := range fds {
		_ = syscall.Close(fds[i][0])
		_ = syscall.Close(fds[i][1])
	}
	return threads()
}

// TestTrimThreads: after goroutines blocked in syscalls made the runtime
// start threads, trimThreads ends the idle ones, and the runtime still
// runs goroutines afterwards.
func TestTrimThreads(t *testing.T) {
	const blocked = 24
	before := threads()
	grown := growThreads(t, blocked)
	trimThreads(before)
	wait.For(t, "idle threads ended", func() bool { return threads() <= grown-blocked/2 })
	t.Logf("threads: %d at the start, %d with the reads blocked, %d after trimThreads", before, grown, threads())

	// The runtime starts threads again when it needs them.
	var again sync.WaitGroup
	for range 4 {
		again.Go(func() {})
	}
	again.Wait()
}

// TestReleaseMemory: the quiet-time release empties every cache it is
// given and ends the idle threads.
func TestReleaseMemory(t *testing.T) {
	const blocked = 24
	grown := growThreads(t, blocked)
	var dropped [2]bool
	releaseMemory(func() { dropped[0] = true }, func() { dropped[1] = true })
	if !dropped[0] || !dropped[1] {
		t.Errorf("caches dropped: %v, want both", dropped)
	}
	wait.For(t, "idle threads ended", func() bool { return threads() <= grown-blocked/2 })
}
