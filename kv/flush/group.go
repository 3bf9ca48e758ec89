package flush

import "sync"

// Group runs one sync function for many concurrent waiters.
type Group struct {
	sync func() error

	mu      sync.Mutex
	cond    sync.Cond
	started uint64 // syncs begun; one is running while started > done
	done    uint64 // syncs finished
	parked  int    // Waits blocked behind a running sync (Parked)
	err     error
}

// New returns a Group whose syncs call sync, which must make everything
// written before it was called durable.
func New(sync func() error) *Group {
	g := &Group{sync: sync}
	g.cond.L = &g.mu
	return g
}

// Wait returns once a sync that began after the call has finished: every
// write that completed before Wait was called is then durable. The first
// waiter to find no sync running runs one on its own goroutine; the
// others park and are woken together, by one broadcast, when it ends.
func (g *Group) Wait() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	// A sync already running may have begun before the caller's writes:
	// only the next one counts.
	target := g.started + 1
	for g.done < target && g.err == nil {
		if g.started > g.done {
			g.parked++
			g.cond.Wait()
			g.parked--
			continue
		}
		g.started++
		n := g.started
		g.mu.Unlock()
		err := g.sync()
		g.mu.Lock()
		g.done = n
		if err != nil {
			g.err = err
		}
		g.cond.Broadcast()
	}
	return g.err
}

// Parked is how many Waits are blocked behind a running sync; tests
// observe it to know that waiters have queued.
func (g *Group) Parked() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.parked
}
