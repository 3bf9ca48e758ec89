package jobs

import (
	"context"
	"errors"
	"maps"
	"strings"
	"time"
)

// Family is a set of one-off job kinds named Prefix + an argument, whose
// run is made from the argument: deleting repository R is the kind
// "repo-delete:R". A family's kinds are not scheduled and exist once
// triggered. Unless Local, they run on the leader like any job that is
// not Local: a trigger on a follower is a request in the shared store
// that the leader picks up by its kind, which names the work to do, so
// it survives the replica that took the request.
type Family struct {
	Prefix string
	// Make returns the run of the kind Prefix + arg; arg is never empty.
	Make    func(arg string) Func
	Timeout time.Duration
	Local   bool
	// Keep is how long the status of a kind's finished run (succeeded,
	// failed or cancelled) stays listed and readable by Status; then the
	// kind is forgotten, here and in the store (prune.go). A family has a
	// kind per argument ever used, so without this its statuses would
	// pile up for the life of the data. 0 is DefaultKeep.
	Keep time.Duration
}

// DefaultKeep is a Family's Keep when it sets none: time enough for a
// client to follow a run to its end and read how it went.
const DefaultKeep = time.Hour

func (f Family) keep() time.Duration {
	if f.Keep > 0 {
		return f.Keep
	}
	return DefaultKeep
}

// RegisterFamily adds a family of kinds. It must be called before Start.
func (r *Runner) RegisterFamily(f Family) error {
	if f.Prefix == "" || f.Make == nil || f.Timeout < 0 || f.Keep < 0 {
		return errors.New("jobs: a family needs a prefix, a constructor, and no negative durations")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != runnerNew {
		return errors.New("jobs: RegisterFamily after Start")
	}
	for _, g := range r.families {
		if strings.HasPrefix(f.Prefix, g.Prefix) || strings.HasPrefix(g.Prefix, f.Prefix) {
			return errors.New("jobs: family " + f.Prefix + " overlaps " + g.Prefix)
		}
	}
	r.families = append(r.families, f)
	r.familyRuns = append(r.familyRuns, map[State]int64{})
	return nil
}

// IsFamily reports whether kind is a kind of a registered Family.
func (r *Runner) IsFamily(kind string) bool {
	_, ok := r.family(kind)
	return ok
}

// FamilyStats is what one Family's kinds did in this process.
type FamilyStats struct {
	Prefix string
	// Active counts the runs queued or running here now.
	Active int
	// Runs counts the runs that finished here since start, by how they
	// ended.
	Runs map[State]int64
}

// Families reports each registered Family's runs in this process: the
// figures a dashboard can follow, where the kinds themselves come and go.
func (r *Runner) Families() []FamilyStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]FamilyStats, len(r.families))
	for i, f := range r.families {
		out[i] = FamilyStats{Prefix: f.Prefix, Runs: maps.Clone(r.familyRuns[i])}
	}
	for kind, e := range r.entries {
		if i, ok := r.familyIndex(kind); ok && e.status.Active() {
			out[i].Active++
		}
	}
	return out
}

// family is the family kind belongs to.
func (r *Runner) family(kind string) (Family, bool) {
	i, ok := r.familyIndex(kind)
	if !ok {
		return Family{}, false
	}
	return r.families[i], true
}

// familyIndex is the index in r.families of the family kind belongs to.
func (r *Runner) familyIndex(kind string) (int, bool) {
	for i, f := range r.families {
		if arg, ok := strings.CutPrefix(kind, f.Prefix); ok && arg != "" {
			return i, true
		}
	}
	return 0, false
}

// lookup is kind's entry; with create, a family kind's entry is made on
// first use. Called with r.mu held.
func (r *Runner) lookupLocked(kind string, create bool) (*entry, bool) {
	if e, ok := r.entries[kind]; ok {
		return e, true
	}
	f, ok := r.family(kind)
	if !ok || !create {
		return nil, false
	}
	e := newEntry(Job{Kind: kind, Run: f.Make(strings.TrimPrefix(kind, f.Prefix)), Timeout: f.Timeout, Local: f.Local})
	r.entries[kind] = e
	return e, true
}

// storedStatus is the status of a family kind this process has no entry
// for (triggered on another replica, or before a restart), as saved in
// the store.
func (r *Runner) storedStatus(kind string) (Status, bool) {
	if _, ok := r.family(kind); !ok || r.opts.Store == nil {
		return Status{}, false
	}
	ctx, cancel := context.WithTimeout(r.ctx, storeTimeout)
	defer cancel()
	st, ok, err := r.opts.Store.LoadStatus(ctx, kind)
	if err != nil || !ok {
		return Status{}, false
	}
	st.Kind, st.Next = kind, time.Time{}
	return st, true
}
