package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// Filter selects events; zero fields match everything.
type Filter struct {
	Kinds      []Kind
	Actor      string // account id or account name
	Repository string
	Digest     string
	Outcome    string
	Since      time.Time // inclusive
	Until      time.Time // inclusive
}

func (f Filter) match(r record) bool {
	return (len(f.Kinds) == 0 || slices.Contains(f.Kinds, r.Kind)) &&
		(f.Actor == "" || f.Actor == r.AccountID || f.Actor == r.AccountName) &&
		(f.Repository == "" || f.Repository == r.Repository) &&
		(f.Digest == "" || f.Digest == r.Digest) &&
		(f.Outcome == "" || f.Outcome == r.Outcome) &&
		(f.Since.IsZero() || !r.Time.Before(f.Since)) &&
		(f.Until.IsZero() || !r.Time.After(f.Until))
}

// Entry is a stored event with its place in the chain.
type Entry struct {
	Event
	Seq    uint64 `json:"seq"`
	Cursor string `json:"cursor"` // pass as Query's after to continue past this event
	Hash   string `json:"hash"`   // hex SHA-256 of the stored bytes
	Prev   string `json:"prev"`   // the previous event's Hash
}

// Page is one page of a query, oldest first. Next is the cursor to
// continue from; "" means nothing more matches (a full page always has a
// Next, even when the next page turns out empty).
type Page struct {
	Events []Entry `json:"events"`
	Next   string  `json:"next,omitempty"`
	// End is the cursor of the last event the query read, matching or
	// not ("" when it read none): where a follower waiting for new events
	// continues, without reading again what did not match.
	End string `json:"-"`
}

// Query limits.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
	// scanBudget bounds the events one query reads, so that a filter that
	// matches nothing cannot make a request walk the whole log: the page
	// comes back short with a Next cursor to continue from.
	scanBudget = 50_000
)

// ErrBadCursor is returned for a cursor Query did not produce.
var ErrBadCursor = errcode.New(errcode.PaginationInvalid, "malformed cursor")

// Query returns up to limit events matching f, oldest first, starting
// after the cursor after ("" for the start). It seeks: a page costs what
// it reads, not what precedes it.
func Query(ctx context.Context, store kv.Store, f Filter, after string, limit int) (Page, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var start []byte
	if after != "" {
		k := append(append([]byte(nil), kv.AuditPrefix()...), after...)
		if _, _, ok := kv.ParseAuditKey(k); !ok {
			return Page{}, ErrBadCursor
		}
		start = []byte(after)
	}
	if !f.Since.IsZero() && f.Since.UnixNano() > 0 {
		// Keys just before the first nanosecond of Since.
		k := cursorOf(kv.AuditKey(f.Since.UnixNano()-1, ^uint64(0)))
		if string(start) < k {
			start = []byte(k)
		}
	}
	var p Page
	scanned, last := 0, ""
	err := store.View(ctx, func(t kv.Reader) error {
		return t.Scan(kv.AuditPrefix(), start, func(key, val []byte) error {
			cursor := cursorOf(key)
			kt, _, ok := kv.ParseAuditKey(key)
			if ok && !f.Until.IsZero() && kt > f.Until.UnixNano() {
				// Key times never precede event times: nothing later matches.
				return kv.ErrStop
			}
			if scanned == scanBudget {
				p.Next = last // continue with this key
				return kv.ErrStop
			}
			scanned, last = scanned+1, cursor
			var r record
			if err := json.Unmarshal(val, &r); err != nil {
				return fmt.Errorf("audit: event %s: %w", cursor, err)
			}
			if !f.match(r) {
				return nil
			}
			p.Events = append(p.Events, Entry{Event: r.event(), Seq: r.Seq, Cursor: cursor, Hash: hashOf(val), Prev: r.Prev})
			if len(p.Events) == limit {
				p.Next = cursor
				return kv.ErrStop
			}
			return nil
		})
	})
	p.End = last
	return p, err
}

// Query runs Query on j's store.
func (j *Journal) Query(ctx context.Context, f Filter, after string, limit int) (Page, error) {
	return Query(ctx, j.store, f, after, limit)
}

// MaxWait bounds how long Follow waits.
const MaxWait = time.Minute

// Follow is Query for a follower: when nothing after the cursor matches
// yet, it waits (at most wait, capped at MaxWait) for new events to be
// committed and asks again. The page's Next is always where to continue:
// a follower never reads the same events twice.
func (j *Journal) Follow(ctx context.Context, f Filter, after string, limit int, wait time.Duration) (Page, error) {
	timer := time.NewTimer(min(wait, MaxWait))
	defer timer.Stop()
	for {
		woken := j.Written() // before the query: a commit after it still wakes us
		p, err := j.Query(ctx, f, after, limit)
		if err != nil {
			return p, err
		}
		if p.Next == "" && p.End != "" {
			p.Next = p.End
		}
		if p.Next == "" {
			p.Next = after
		}
		if len(p.Events) > 0 {
			return p, nil
		}
		after = p.Next
		if !j.park(ctx, woken, timer.C) {
			return p, nil
		}
	}
}

// park waits for a commit (true), or for the wait or ctx to run out
// (false), counted in Stats while it waits.
func (j *Journal) park(ctx context.Context, woken <-chan struct{}, expired <-chan time.Time) bool {
	j.following.Add(1)
	j.parked.Add(1)
	defer j.following.Add(-1)
	select {
	case <-woken:
		return true
	case <-expired:
		return false
	case <-ctx.Done():
		return false
	}
}
