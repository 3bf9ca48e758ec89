package jobs

import (
	"context"
	"errors"
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
}

// RegisterFamily adds a family of kinds. It must be called before Start.
func (r *Runner) RegisterFamily(f Family) error {
	if f.Prefix == "" || f.Make == nil || f.Timeout < 0 {
		return errors.New("jobs: a family needs a prefix, a constructor, and no negative timeout")
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
	return nil
}

// family is the family kind belongs to.
func (r *Runner) family(kind string) (Family, bool) {
	for _, f := range r.families {
		if arg, ok := strings.CutPrefix(kind, f.Prefix); ok && arg != "" {
			return f, true
		}
	}
	return Family{}, false
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
