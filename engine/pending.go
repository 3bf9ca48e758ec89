package engine

import (
	"sync"
	"sync/atomic"
	"time"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// pendingSessions holds upload sessions that have no bytes yet. A POST
// acknowledges no data, so its session needs no synced commit: it gets a
// record in kv only when a PATCH is about to write to it (see
// Registry.open). A crash forgets pending sessions, and the client's next
// request on one answers BLOB_UPLOAD_UNKNOWN, after which clients start a
// new upload; nothing acknowledged is lost.
//
// The set is bounded: past maxPending, sessions older than pendingTTL are
// dropped, and if that frees nothing, new sessions get their record at once
// as if there were no pending set.
type pendingSessions struct {
	m sync.Map // upload id → kv.UploadRecord
	n atomic.Int64
	// pruning lets one caller at a time walk the set.
	pruning atomic.Bool
}

const (
	maxPending = 65536
	pendingTTL = time.Hour
)

// add keeps rec as a pending session and reports whether it did.
func (p *pendingSessions) add(id string, rec kv.UploadRecord, now time.Time) bool {
	if p.n.Load() >= maxPending && !p.prune(now) {
		return false
	}
	if _, loaded := p.m.LoadOrStore(id, rec); !loaded {
		p.n.Add(1)
	}
	return true
}

func (p *pendingSessions) get(id string) (kv.UploadRecord, bool) {
	v, ok := p.m.Load(id)
	if !ok {
		return kv.UploadRecord{}, false
	}
	return v.(kv.UploadRecord), true
}

func (p *pendingSessions) remove(id string) {
	if _, ok := p.m.LoadAndDelete(id); ok {
		p.n.Add(-1)
	}
}

// prune drops sessions started more than pendingTTL before now and reports
// whether there is room afterwards.
func (p *pendingSessions) prune(now time.Time) bool {
	if p.pruning.CompareAndSwap(false, true) {
		cutoff := now.Add(-pendingTTL).UnixNano()
		p.m.Range(func(k, v any) bool {
			if v.(kv.UploadRecord).Started < cutoff {
				p.remove(k.(string))
			}
			return true
		})
		p.pruning.Store(false)
	}
	return p.n.Load() < maxPending
}
