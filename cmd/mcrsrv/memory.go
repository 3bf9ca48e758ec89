package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/rs/zerolog"
)

// MemoryConfig bounds the process's memory (docs/operations.md).
type MemoryConfig struct {
	// Limit is a soft limit on the memory the Go runtime manages (heap,
	// stacks, its own structures; not the page cache, not Badger's
	// memory-mapped tables): near it the collector runs more often and
	// returns freed memory to the OS at once instead of keeping it for
	// later growth. Without it a burst (a 100 000-tag listing, ten
	// thousand repositories being created) leaves the process at twice
	// its live heap for minutes. It never fails an allocation: past the
	// limit the collector is capped at about half the CPU. 0 turns it
	// off; GOMEMLIMIT in the environment takes precedence.
	Limit Size `toml:"limit"`
}

// defaultMemoryLimit leaves a registry's live heap (under 100 MiB in the
// benchmark scenarios: Badger's memtables, connection buffers, actors)
// twice its size before the limit matters.
const defaultMemoryLimit = 192 << 20

// Size is a byte count written as "192MiB", "1GB" or "1048576".
type Size struct{ Bytes uint64 }

// UnmarshalText parses a size with an optional SI or IEC unit.
func (s *Size) UnmarshalText(b []byte) error {
	n, err := humanize.ParseBytes(string(b))
	if err != nil {
		return err
	}
	s.Bytes = n
	return nil
}

// MarshalText writes the size in the largest binary unit that divides it.
func (s Size) MarshalText() ([]byte, error) {
	for _, u := range []struct {
		n    uint64
		name string
	}{{1 << 40, "TiB"}, {1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if s.Bytes >= u.n && s.Bytes%u.n == 0 {
			return fmt.Appendf(nil, "%d%s", s.Bytes/u.n, u.name), nil
		}
	}
	return strconv.AppendUint(nil, s.Bytes, 10), nil
}

func (m MemoryConfig) validate() []error {
	if m.Limit.Bytes != 0 && m.Limit.Bytes < 32<<20 {
		return []error{fmt.Errorf("memory.limit %d bytes: want 0 (off) or at least 32MiB", m.Limit.Bytes)}
	}
	return nil
}

// apply sets the runtime's soft memory limit unless GOMEMLIMIT already
// did, and logs the limit in force.
func (m MemoryConfig) apply(log zerolog.Logger) {
	if v, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		log.Info().Str("GOMEMLIMIT", v).Msg("memory limit from the environment; memory.limit ignored")
		return
	}
	if m.Limit.Bytes == 0 {
		return
	}
	debug.SetMemoryLimit(int64(min(m.Limit.Bytes, 1<<62)))
	log.Debug().Str("limit", humanize.IBytes(m.Limit.Bytes)).Msg("soft memory limit")
}

// idleCheck is how often releaseWhenIdle looks whether requests came.
const idleCheck = 10 * time.Second

// releaseWhenIdle returns the memory a burst left behind once the server
// goes quiet: at the first tick that finds served unchanged since the
// tick before, after requests came, it calls free (releaseMemory). Without
// it an idle process keeps a burst's garbage until the runtime's forced
// collection (every two minutes) and its pages until the background
// scavenger gets to them, several minutes; measured after a benchmark
// burst, 103 MiB resident a minute later, of which 57 MiB heap with 26 MiB
// live (docs/benchmarks.md, "Memory"). Below memory.limit nothing else
// makes the runtime give memory back sooner.
//
// What a quiet server holds keeps shrinking after that first release:
// repository actors retire after their idle time (30 s), fasthttp's idle
// workers after 10 s, each a goroutine with its stack and mailbox or
// buffers. So while it stays quiet, free runs again at each tick that
// finds fewer goroutines than the last release left: measured after the
// benchmark's 2 000-repository catalog, the actors' mailboxes were 5.6 MiB
// of a 17.5 MiB idle heap at the first release and garbage soon after.
// It returns when ctx ends.
func releaseWhenIdle(ctx context.Context, tick <-chan time.Time, served func() uint64, goroutines func() int, free func()) {
	last, released := served(), served()
	left := goroutines() // after the last release
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		n := served()
		switch {
		case n != last: // busy
		case n != released:
			free()
			released, left = n, goroutines()
		case goroutines() < left:
			free()
			left = goroutines()
		}
		last = n
	}
}

// releaseMemory is releaseWhenIdle's work: empty the caches that one
// read or one collection rebuilds (engine.Registry.DropCaches,
// gc.Collector.DropCache), then collect and hand every free page back to
// the OS. fasthttp returns the buffers of
// connections that closed to sync.Pools, which one collection only moves
// to their victim caches: the second frees them. Idle keep-alive
// connections stay open: closing them early (tried) fails the next
// request of a client that reuses a pooled connection without checking
// it, as fasthttp's client does.
func releaseMemory(dropCaches ...func()) {
	for _, drop := range dropCaches {
		drop()
	}
	trimThreads(runtime.GOMAXPROCS(0) + idleThreadsKept)
	runtime.GC()
	debug.FreeOSMemory()
}

// idleThreadsKept is how many threads past GOMAXPROCS trimThreads leaves:
// sysmon's, and one for a goroutine in a blocking syscall.
const idleThreadsKept = 2

// trimThreads ends the OS threads the runtime holds past keep. Every
// goroutine blocked in a file syscall (uploads' writes, the group syncs)
// makes the scheduler start another thread for the goroutines that can
// run, and the runtime never ends one: 32 to 74 threads after the
// benchmark sequence, each with its 32 KiB signal stack, its g0 stack and
// its m (docs/benchmarks.md, "Memory, third pass"). A goroutine that
// exits locked to its thread ends that thread (runtime.LockOSThread);
// the scheduler hands its P to an idle thread, which the next goroutine
// ends in turn. The signal stack is freed at once, the m and its g0 stack
// when the runtime next starts a thread. Ending a thread something still
// needs costs only a new one, with one exception: a child forked with a
// parent-death signal is killed when its forking thread ends. mcrsrv
// forks none; the test binaries that run this beside PostgreSQL and S3
// servers fork them through kv/pgtest/spawn, from a thread never ended.
func trimThreads(keep int) {
	var wg sync.WaitGroup
	for range threads() - keep {
		wg.Go(runtime.LockOSThread)
	}
	wg.Wait()
}

// threads is the number of OS threads the runtime owns.
func threads() int {
	s := []metrics.Sample{{Name: "/sched/threads/total:threads"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0 // not reported: nothing is trimmed
	}
	return int(s[0].Value.Uint64())
}
