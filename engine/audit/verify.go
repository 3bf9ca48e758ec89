package audit

import (
	"context"
	"encoding/json"
	"fmt"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// Break is the first place where the chain does not hold.
type Break struct {
	Seq    uint64 `json:"seq"`    // the sequence number expected or found there
	Cursor string `json:"cursor"` // the event's cursor ("" when the event is missing)
	Reason string `json:"reason"`
}

// Report is the result of Verify.
type Report struct {
	Checked uint64 `json:"checked"` // events whose link was checked
	First   uint64 `json:"first"`   // seq of the oldest event kept
	Last    uint64 `json:"last"`    // seq of the newest event
	// Head is the hash of the newest event. Recording it somewhere the
	// registry cannot write (a ticket, another system's log) lets a later
	// Verify prove that nobody rewrote the whole chain since.
	Head   string `json:"head"`
	Broken *Break `json:"broken,omitempty"`
}

// OK reports whether the chain is intact.
func (r Report) OK() bool { return r.Broken == nil }

// Verify walks the chain from the oldest event kept to the head and
// reports the first broken link: an event whose bytes changed (the next
// event's hash of it no longer matches, or it no longer decodes), an event
// missing from the middle or the end, an event moved to another key. The
// oldest event kept is trusted as the anchor once retention has pruned the
// ones before it. Verify reads one consistent snapshot; the error is for
// failures to read, a broken chain is a Report with Broken set.
func Verify(ctx context.Context, store kv.Store) (Report, error) {
	var rep Report
	err := store.View(ctx, func(t kv.Reader) error {
		h, err := readHead(t)
		if err != nil {
			return err
		}
		rep = Report{First: h.First, Last: h.Last, Head: h.LastHash}
		brk := func(seq uint64, cursor, f string, a ...any) error {
			rep.Broken = &Break{Seq: seq, Cursor: cursor, Reason: fmt.Sprintf(f, a...)}
			return kv.ErrStop
		}
		want, prevHash := h.First, ""
		err = t.Scan(kv.AuditPrefix(), nil, func(key, val []byte) error {
			if want&0xfff == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			cursor := cursorOf(key)
			_, kseq, ok := kv.ParseAuditKey(key)
			if !ok {
				return brk(want, cursor, "malformed audit key %q", key)
			}
			var r record
			if err := json.Unmarshal(val, &r); err != nil {
				return brk(kseq, cursor, "event %d does not decode: %v", kseq, err)
			}
			switch {
			case kseq != want && kseq < want:
				return brk(kseq, cursor, "event %d is older than the oldest event kept (%d)", kseq, h.First)
			case kseq != want:
				return brk(want, "", "event %d is missing (next present is %d)", want, kseq)
			case r.Seq != kseq:
				return brk(kseq, cursor, "event %d is stored under the key of event %d", r.Seq, kseq)
			case want == 1 && r.Prev != "":
				return brk(kseq, cursor, "the first event links to a predecessor")
			case want != h.First && r.Prev != prevHash:
				return brk(kseq-1, "", "event %d was altered: event %d records a different hash of it", kseq-1, kseq)
			}
			rep.Checked++
			want, prevHash = kseq+1, hashOf(val)
			return nil
		})
		if err != nil || rep.Broken != nil {
			return err
		}
		switch {
		case want != h.Last+1:
			rep.Broken = &Break{Seq: want, Reason: fmt.Sprintf("events %d to %d are missing", want, h.Last)}
		case h.Last >= h.First && prevHash != h.LastHash:
			rep.Broken = &Break{Seq: h.Last, Reason: fmt.Sprintf("event %d was altered: it no longer matches the chain head", h.Last)}
		}
		return nil
	})
	return rep, err
}

// Verify checks the chain of j's store (see the function Verify).
func (j *Journal) Verify(ctx context.Context) (Report, error) { return Verify(ctx, j.store) }

// cursorOf is the part of an audit key after the namespace.
func cursorOf(key []byte) string { return kv.Suffix(key, kv.AuditPrefix()) }
