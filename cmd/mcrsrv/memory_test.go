package main

import (
	"sync"
	"syscall"
	"testing"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
)

// TestTrimThreads: after goroutines blocked in syscalls made the runtime
// start threads, trimThreads ends the idle ones, and the runtime still
// runs goroutines afterwards.
func TestTrimThreads(t *testing.T) {
	const blocked = 24
	before := threads()
	if before == 0 {
		t.Skip("the runtime does not report its threads")
	}
	var fds [blocked][2]int
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
	wait.For(t, "threads for the goroutines blocked in read(2)", func() bool { return threads() >= before+blocked/2 })
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
	grown := threads()
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
