package gc

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"git.wntrmute.dev/kyle/mcr/actors"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// run is one collection.
type run struct {
	ctx    context.Context
	c      *Collector
	dry    bool
	report func(done, total int64, phase string)
	cutoff int64 // T0 - grace, unix ns: only what is older may go
	// fileCutoff is the same for blob files that no record of this run's
	// own sweep names (orphans, files of an earlier run's tombstones): at
	// most T0 - placedMinAge, whatever the grace period, because an
	// upload links a file it placed without looking whether it is still
	// there (engine's checkSweep) in the moment between the two.
	fileCutoff int64

	// pace is stepped by the run's own goroutine between units of work
	// (never by the sweep workers, whose pace the scan sets).
	pace *pacer

	mu   sync.Mutex // guards rep and lift against the sweep workers
	rep  *Report
	lift []string // tombstones whose files are gone, to lift in one transaction
}

// placedMinAge is the least age of a blob file a collection removes
// without having removed its record itself. An upload places its file,
// then records it: a moment apart, a few seconds at worst with retried
// transactions, far below a minute.
const placedMinAge = time.Minute

func newRun(ctx context.Context, c *Collector, o RunOptions) *run {
	now := c.o.Now()
	r := &run{
		ctx:    ctx,
		c:      c,
		dry:    o.DryRun,
		report: o.Progress,
		cutoff: now.Add(-c.o.Grace).UnixNano(),
		rep:    &Report{DryRun: o.DryRun, Started: now, Grace: c.o.Grace},

		fileCutoff: now.Add(-max(c.o.Grace, placedMinAge)).UnixNano(),
		pace:       newPacer(c.o.Duty),
	}
	if r.report == nil {
		r.report = func(int64, int64, string) {}
	}
	return r
}

func (r *run) count(fn func(*Report)) {
	r.mu.Lock()
	fn(r.rep)
	r.mu.Unlock()
}

func (r *run) do() (err error) {
	// Whatever happens, tombstones of deleted files are lifted.
	defer func() { err = errors.Join(err, r.liftTombstones()) }()
	steps := []struct {
		phase string
		fn    func() error
	}{
		{"recover", r.recoverTombstones},
		{"untagged", r.deleteUntagged},
		{"mark", r.markAndSweep},
		{"orphans", r.orphansIfDue},
		{"repositories", r.repositories},
		{"uploads", r.uploads},
	}
	for _, s := range steps {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		r.report(0, 0, s.phase)
		if err := s.fn(); err != nil {
			return err
		}
	}
	return nil
}

// finish is the context for work that must complete once begun (a file
// whose record is gone must be deleted, its tombstone lifted) even when
// the run is cancelled.
func (r *run) finish() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.ctx), time.Minute)
}

// exclusive runs fn on repo's actor, retrying a few times while its
// mailbox is full. A repository that stays busy is skipped for this run
// (reported), not waited for: GC must never stall pushes.
func (r *run) exclusive(repo string, fn func(context.Context) error) (bool, error) {
	backoff := 10 * time.Millisecond
	for range 6 {
		err := r.c.repos.Exclusive(r.ctx, repo, fn)
		if !errors.Is(err, actors.ErrBusy) {
			return err == nil, err
		}
		select {
		case <-time.After(backoff):
		case <-r.ctx.Done():
			return false, r.ctx.Err()
		}
		backoff *= 2
	}
	r.count(func(rep *Report) { rep.BusyRepositories++ })
	return false, nil
}

// eachRepository calls fn for every repository in t (see repositories),
// reporting its progress as phase and taking the pace's pause after each;
// it returns how many repositories there are.
func (r *run) eachRepository(t kv.Reader, phase string, fn func(repo string) error) (int, error) {
	repos, err := repositories(t)
	if err != nil {
		return 0, err
	}
	for i, repo := range repos {
		r.report(int64(i), int64(len(repos)), phase)
		if err := fn(repo); err != nil {
			return len(repos), err
		}
		if err := r.pace.step(r.ctx); err != nil {
			return len(repos), err
		}
	}
	return len(repos), nil
}

// repositories lists every repository that has a record, a manifest, a tag
// or a link, in byte order. GC does not trust the catalog alone: content
// under a repository whose record is missing must still be marked.
func repositories(t kv.Reader) ([]string, error) {
	set := map[string]struct{}{}
	err := t.ScanKeys(kv.RepoPrefix(), nil, func(k []byte) error {
		set[kv.Suffix(k, kv.RepoPrefix())] = struct{}{}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, ns := range [][]byte{kv.ManifestNamespace(), kv.TagNamespace(), kv.LinkNamespace()} {
		if err := distinct(t, ns, func(repo string) { set[repo] = struct{}{} }); err != nil {
			return nil, err
		}
	}
	out := make([]string, 0, len(set))
	for repo := range set {
		out = append(out, repo)
	}
	slices.Sort(out)
	return out, nil
}

// distinct calls fn with each repository under namespace ns ("<ns><repo>@…"
// keys) by seeking past each repository's keys: one seek per repository,
// not one step per key.
func distinct(t kv.Reader, ns []byte, fn func(string)) error {
	after := ""
	for {
		found := false
		err := t.ScanKeys(ns, []byte(after), func(k []byte) error {
			repo, _, _ := kv.SplitAt(k, ns)
			fn(repo)
			found = true
			// Every key of repo starts with repo+"@", and '@' is followed
			// by ASCII: repo+"@\xff" sorts after all of them.
			after = repo + "@\xff"
			return kv.ErrStop
		})
		if err != nil || !found {
			return err
		}
	}
}

// hasAny reports whether any key starts with prefix.
func hasAny(t kv.Reader, prefix []byte) (bool, error) {
	found := false
	err := t.ScanKeys(prefix, nil, func([]byte) error {
		found = true
		return kv.ErrStop
	})
	return found, err
}
