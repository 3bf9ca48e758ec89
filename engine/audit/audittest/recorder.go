package audittest

import (
	"context"
	"sync"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
)

// Recorder keeps every event recorded. It is safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []audit.Event
}

var _ audit.Recorder = (*Recorder)(nil)

// Record implements audit.Recorder.
func (r *Recorder) Record(_ context.Context, e audit.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// Events is a copy of what was recorded, in order.
func (r *Recorder) Events() []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]audit.Event(nil), r.events...)
}

// Count is how many events of kind k (and outcome, when not "") were
// recorded.
func (r *Recorder) Count(k audit.Kind, outcome string) int {
	n := 0
	for _, e := range r.Events() {
		if e.Kind == k && (outcome == "" || e.Outcome == outcome) {
			n++
		}
	}
	return n
}
