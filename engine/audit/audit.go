package audit

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

// Kind is what happened.
type Kind string

// The kinds of event.
const (
	Login         Kind = "login"          // credentials accepted
	LoginFailed   Kind = "login_failed"   // credentials refused (or rate limited)
	TokenIssued   Kind = "token_issued"   // a bearer token was issued
	Denied        Kind = "denied"         // the policy refused an action
	PolicyChanged Kind = "policy_changed" // a rule was created, replaced or deleted
	AccountChange Kind = "account_changed"
	Push          Kind = "push"     // a manifest or blob was stored (201)
	Pull          Kind = "pull"     // content was read (only when pull auditing is on)
	Delete        Kind = "delete"   // a manifest, tag or blob was deleted
	GCRun         Kind = "gc_run"   // a garbage collection (or upload expiry) finished
	Snapshot      Kind = "snapshot" // a snapshot was written (admin API)
	// Written by the Badger journal about itself.
	Shed   Kind = "audit_shed"   // events were dropped because the queue was full
	Pruned Kind = "audit_pruned" // retention deleted the oldest events
)

// Event is one audit record: who, what, on which repository and digest,
// from where, with what outcome, when.
type Event struct {
	Time        time.Time
	Kind        Kind
	AccountID   string // "" when anonymous or unknown
	AccountName string // the name presented, even when it is unknown
	AccountType string // "human", "system", "" when unknown
	Remote      string // client address
	Action      string // policy action, grant type, rule change...
	Repository  string
	Digest      string
	Outcome     string // "success", "failure", "denied", ...
	Detail      string // e.g. the rule that decided, the scopes granted
	// Count is how many occurrences the event stands for: more than one
	// for an aggregate (Aggregator); 0 or 1 for a single one.
	Count uint64
}

// Actor is who makes a change through an API (the admin API puts it in
// the context; components that record changes read it from there).
type Actor struct {
	ID, Name, Remote string
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor of ctx, the zero Actor when none.
func ActorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a
}

// Recorder is where events are written.
type Recorder interface {
	Record(ctx context.Context, e Event)
}

// Nop drops every event.
type Nop struct{}

// Record does nothing.
func (Nop) Record(context.Context, Event) {}

// Log writes every event to a zerolog logger at info level, with
// component=audit.
type Log struct{ L zerolog.Logger }

// Record logs e.
func (l Log) Record(_ context.Context, e Event) {
	ev := l.L.Info().Str("component", "audit").Str("event", string(e.Kind))
	if !e.Time.IsZero() {
		ev = ev.Time("at", e.Time)
	}
	fields := [...][2]string{
		{"account_id", e.AccountID}, {"account", e.AccountName}, {"account_type", e.AccountType}, {"remote", e.Remote}, {"action", e.Action},
		{"repository", e.Repository}, {"digest", e.Digest}, {"outcome", e.Outcome}, {"detail", e.Detail},
	}
	for _, f := range fields {
		if f[1] != "" {
			ev = ev.Str(f[0], f[1])
		}
	}
	if e.Count > 1 {
		ev = ev.Uint64("count", e.Count)
	}
	ev.Msg("audit")
}

// Tee writes every event to each of its recorders, in order.
type Tee []Recorder

// Record passes e to every recorder.
func (t Tee) Record(ctx context.Context, e Event) {
	for _, r := range t {
		r.Record(ctx, e)
	}
}
