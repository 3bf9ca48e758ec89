package policy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// Engine evaluates requests against the built-in rules and the rules
// stored in kv. Evaluate reads an immutable snapshot through an atomic
// pointer; Put and Delete commit to the store and then publish a new
// snapshot. Changes are serialized among themselves (mu), never against
// evaluation.
type Engine struct {
	store kv.Store
	now   func() time.Time
	snap  atomic.Pointer[[]Rule] // sorted: built-ins and stored rules
	mu    sync.Mutex             // serializes writers and reloads
	audit audit.Recorder
}

// NewEngine loads the stored rules. store may be nil: the engine then has
// the built-ins only and refuses changes (tests, auth off).
func NewEngine(ctx context.Context, store kv.Store, now func() time.Time) (*Engine, error) {
	if now == nil {
		now = time.Now
	}
	e := &Engine{store: store, now: now, audit: audit.Nop{}}
	if err := e.Reload(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// WithAudit makes every committed change a PolicyChanged event, by the
// actor found in the change's context (audit.WithActor). Call it before
// the engine is shared.
func (e *Engine) WithAudit(r audit.Recorder) *Engine {
	e.audit = r
	return e
}

func (e *Engine) changed(ctx context.Context, what, id string) {
	a := audit.ActorFrom(ctx)
	e.audit.Record(ctx, audit.Event{Time: e.now(), Kind: audit.PolicyChanged, AccountID: a.ID, AccountName: a.Name,
		Remote: a.Remote, Action: what, Outcome: "success", Detail: "rule " + id})
}

// Reload rebuilds the snapshot from the store.
func (e *Engine) Reload(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reload(ctx)
}

func (e *Engine) reload(ctx context.Context) error {
	rules := BuiltIns()
	if e.store != nil {
		recs, err := kv.LoadAll(ctx, e.store, kv.PolicyPrefix(), kv.DecodePolicy)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			rules = append(rules, fromRecord(rec))
		}
	}
	sorted := sortRules(rules)
	e.snap.Store(&sorted)
	return nil
}

// Topic is what a change of the stored rules publishes (kv.Publish), so
// that every process sharing the store reloads them (Follow).
const Topic = "policy"

// reloadRetry is how soon Follow tries again after a failed reload.
const reloadRetry = 250 * time.Millisecond

// Follow keeps the rules current with changes committed by any process
// sharing the store (another replica, the offline policy commands) until
// ctx ends: it reloads when the store announces Topic, and when it may
// have missed announcements. A failed reload is retried; the first failure
// after a success is reported to onErr. Without a store that announces changes (kv.Changes) it only
// waits for ctx: then this process is the only writer, and Put and Delete
// reload themselves.
func (e *Engine) Follow(ctx context.Context, onErr func(error)) {
	c, ok := e.store.(kv.Changes)
	if !ok {
		<-ctx.Done()
		return
	}
	poke := make(chan struct{}, 1)
	stop := c.Watch(func(topic string) {
		if topic == "" || topic == Topic {
			select {
			case poke <- struct{}{}:
			default: // a reload is pending already, and will see this change
			}
		}
	})
	defer stop()
	var retry <-chan time.Time
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-poke:
		case <-retry:
		}
		retry = nil
		err := e.Reload(ctx)
		if err != nil && ctx.Err() == nil {
			if !failing { // once per outage, not once per retry
				onErr(err)
			}
			retry = time.After(reloadRetry)
		}
		failing = err != nil
	}
}

// Evaluate decides q against the current rules. It takes no lock.
func (e *Engine) Evaluate(q Request) Decision { return evaluate(*e.snap.Load(), q) }

// Rules returns the current rules in evaluation order, built-ins included.
func (e *Engine) Rules() []Rule {
	rules := *e.snap.Load()
	out := make([]Rule, len(rules))
	for i, r := range rules {
		r.Actions = append([]Action(nil), r.Actions...)
		r.Repositories = append([]string(nil), r.Repositories...)
		out[i] = r
	}
	return out
}

// Rule returns the rule with id, built-ins included.
func (e *Engine) Rule(id string) (Rule, bool) {
	for _, r := range e.Rules() {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// errBuiltIn refuses a change to a built-in rule.
func errBuiltIn(id string) error {
	return errcode.New(errcode.Conflict, "rule %s is built in and cannot be changed", id)
}

// ErrNoStore is returned by changes to an engine without a store.
var ErrNoStore = errcode.New(errcode.Conflict, "this policy engine has no store: its rules are not managed here")

// Put creates or replaces a stored rule.
func (e *Engine) Put(ctx context.Context, r Rule) error { return e.put(ctx, r, putAny) }

// Create stores a new rule; an existing id is a Conflict.
func (e *Engine) Create(ctx context.Context, r Rule) error { return e.put(ctx, r, putCreate) }

// Replace replaces an existing rule; an unknown id is NotFound.
func (e *Engine) Replace(ctx context.Context, r Rule) error { return e.put(ctx, r, putReplace) }

type putMode int

const (
	putAny putMode = iota
	putCreate
	putReplace
)

func (e *Engine) put(ctx context.Context, r Rule, mode putMode) error {
	if strings.HasPrefix(r.ID, BuiltInPrefix) {
		return errBuiltIn(r.ID)
	}
	r.BuiltIn = false
	if err := r.Validate(); err != nil {
		return errcode.New(errcode.Invalid, "%v", err)
	}
	if e.store == nil {
		return ErrNoStore
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now().UnixNano()
	err := e.store.Update(ctx, func(t kv.Txn) error {
		rec := toRecord(r)
		rec.Created, rec.Updated = now, now
		v, err := t.Get(kv.PolicyKey(r.ID))
		switch {
		case err == nil && mode == putCreate:
			return errcode.New(errcode.Conflict, "rule %s exists already", r.ID)
		case err == nil:
			if old, err := kv.DecodePolicy(v); err == nil {
				rec.Created = old.Created
			}
		case !errors.Is(err, kv.ErrNotFound):
			return err
		case mode == putReplace:
			return errcode.New(errcode.NotFound, "no rule %s", r.ID)
		}
		if err := t.Set(kv.PolicyKey(r.ID), rec.Encode()); err != nil {
			return err
		}
		return kv.Publish(t, Topic)
	})
	if err != nil {
		return err
	}
	e.changed(ctx, "put", r.ID)
	return e.reload(ctx)
}

// Delete removes a stored rule. It reports whether the rule existed.
func (e *Engine) Delete(ctx context.Context, id string) (bool, error) {
	if strings.HasPrefix(id, BuiltInPrefix) {
		return false, errBuiltIn(id)
	}
	if e.store == nil {
		return false, ErrNoStore
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	found := false
	err := e.store.Update(ctx, func(t kv.Txn) error {
		ok, err := t.Has(kv.PolicyKey(id))
		if err != nil || !ok {
			found = false
			return err
		}
		found = true
		if err := t.Delete(kv.PolicyKey(id)); err != nil {
			return err
		}
		return kv.Publish(t, Topic)
	})
	if err != nil {
		return false, err
	}
	if found {
		e.changed(ctx, "delete", id)
	}
	return found, e.reload(ctx)
}

func toRecord(r Rule) kv.PolicyRecord {
	acts := make([]string, len(r.Actions))
	for i, a := range r.Actions {
		acts[i] = string(a)
	}
	return kv.PolicyRecord{
		ID: r.ID, Priority: int64(r.Priority), Description: r.Description, Effect: string(r.Effect),
		SubjectAccount: r.Subject.AccountID, SubjectType: r.Subject.AccountType, SubjectRole: r.Subject.Role,
		Actions: acts, Repositories: r.Repositories, Enabled: r.Enabled,
	}
}

func fromRecord(rec kv.PolicyRecord) Rule {
	acts := make([]Action, len(rec.Actions))
	for i, a := range rec.Actions {
		acts[i] = Action(a)
	}
	return Rule{
		ID: rec.ID, Priority: int(rec.Priority), Description: rec.Description, Effect: Effect(rec.Effect),
		Subject: Subject{AccountID: rec.SubjectAccount, AccountType: rec.SubjectType, Role: rec.SubjectRole},
		Actions: acts, Repositories: rec.Repositories, Enabled: rec.Enabled,
	}
}
