package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// Change notification (docs/scale-out.md). Several processes may share a
// store (PostgreSQL): what one process keeps in memory goes stale when
// another commits. Two tools keep such caches correct:
//
//   - Generations: a counter row, bumped inside the transaction that
//     changes what it covers and read in the same snapshot as the data a
//     cache entry is built from. An entry labelled with the generation it
//     was built at is current exactly while the stored generation has not
//     moved, so checking it on use (one point read) makes a stale read
//     impossible after a commit anywhere.
//   - Topics: Publish bumps a topic's generation and announces the topic
//     when the transaction commits; the Changes capability delivers the
//     announcement to watchers in every process. It suits what is read too
//     often to afford a store read per use (policy rules, on every
//     request): they reload within milliseconds of the commit, and within
//     the store's poll interval when an announcement was lost.

// Changes is the optional change-notification capability.
type Changes interface {
	// Watch calls fn(topic) after each commit of a transaction that
	// published topic, in any process sharing the store; and fn("") once
	// the watch is listening, and again whenever announcements may have
	// been missed (the store's listener reconnected): the watcher then
	// reloads whatever it caches. fn runs
	// on the store's own goroutine, or the committing one: it must return
	// at once (hand the work to a goroutine of the watcher's). stop ends
	// the watch.
	Watch(fn func(topic string)) (stop func())
	// Shared reports whether other processes commit to the store too:
	// caches of its data then check generations on use.
	Shared() bool
}

// publisher is a transaction that can announce topics on commit.
type publisher interface {
	publish(topic string) error
}

// Publish bumps topic's generation in t and, on a store with Changes,
// announces topic to every watcher once t commits (never if it does not).
func Publish(t Txn, topic string) error {
	if err := bump(t, TopicKey(topic)); err != nil {
		return err
	}
	if p, ok := t.(publisher); ok {
		return p.publish(topic)
	}
	return nil
}

// BumpTags moves repo's tag generation on in t.
func BumpTags(t Txn, repo string) error { return bump(t, TagGenerationKey(repo)) }

// TagGeneration is repo's tag generation in t: 0 before the first bump.
func TagGeneration(t Reader, repo string) (uint64, error) {
	return generation(t, TagGenerationKey(repo))
}

// TopicGeneration is topic's generation in t: 0 before the first Publish.
func TopicGeneration(t Reader, topic string) (uint64, error) { return generation(t, TopicKey(topic)) }

func generation(t Reader, key []byte) (uint64, error) {
	v, err := t.Get(key)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return decodeGeneration(v)
}

func decodeGeneration(v []byte) (uint64, error) {
	g, n := binary.Uvarint(v)
	if n <= 0 {
		return 0, fmt.Errorf("kv: unreadable generation: %w", ErrCorrupt)
	}
	return g, nil
}

// bump reads and rewrites the counter: two transactions bumping it
// conflict, which is the point (the later one is retried after the first
// and bumps past it).
func bump(t Txn, key []byte) error {
	g, err := generation(t, key)
	if err != nil {
		return err
	}
	return t.Set(key, binary.AppendUvarint(nil, g+1))
}

// watchers is the set of Watch callbacks of one store.
type watchers struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(string)
}

func (w *watchers) add(fn func(string)) (stop func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fns == nil {
		w.fns = map[int]func(string){}
	}
	id := w.next
	w.next++
	w.fns[id] = fn
	return func() {
		w.mu.Lock()
		delete(w.fns, id)
		w.mu.Unlock()
	}
}

// fire calls every watcher with topic, holding the lock so that a
// stopped watch is never called after its stop returned.
func (w *watchers) fire(topic string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, fn := range w.fns {
		fn(topic)
	}
}
