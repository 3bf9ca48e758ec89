package kvtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// announceWait bounds how long a published topic may take to reach a
// watcher of the same store: the notification's round trip, or one poll.
const announceWait = 5 * time.Second

// testChanges is the contract of kv.Changes, for stores that have it: a
// committed Publish reaches the watcher and moves the topic's generation;
// a rolled-back one does neither; a stopped watch hears nothing more.
func testChanges(t *testing.T, s kv.Store) {
	c, ok := s.(kv.Changes)
	if !ok {
		t.Skip("no kv.Changes")
	}
	ctx := context.Background()
	heard := make(chan string, 16)
	listening := make(chan struct{}, 1)
	stop := c.Watch(func(topic string) {
		if topic != "" {
			heard <- topic
			return
		}
		select { // "" is a resync: the watch is listening (again)
		case listening <- struct{}{}:
		default:
		}
	})
	select {
	case <-listening:
	case <-time.After(announceWait):
		t.Fatalf("the watch did not start listening within %s", announceWait)
	}
	fail := errors.New("roll back")
	if err := s.Update(ctx, func(t kv.Txn) error {
		if err := kv.Publish(t, "void"); err != nil {
			return err
		}
		return fail
	}); !errors.Is(err, fail) {
		t.Fatalf("rolled-back publish: %v", err)
	}
	update(t, s, func(t kv.Txn) error { return kv.Publish(t, "rules") })
	select {
	case got := <-heard:
		if got != "rules" {
			t.Fatalf("heard %q first, want rules (a rolled-back transaction announced?)", got)
		}
	case <-time.After(announceWait):
		t.Fatalf("published topic not heard within %s", announceWait)
	}
	view(t, s, func(r kv.Reader) error {
		for topic, want := range map[string]uint64{"rules": 1, "void": 0} {
			g, err := kv.TopicGeneration(r, topic)
			if err != nil || g != want {
				t.Errorf("generation of %s: %d, %v; want %d", topic, g, err, want)
			}
		}
		return nil
	})
	update(t, s, func(t kv.Txn) error { return kv.BumpTags(t, "repo") })
	update(t, s, func(t kv.Txn) error { return kv.BumpTags(t, "repo") })
	view(t, s, func(r kv.Reader) error {
		if g, err := kv.TagGeneration(r, "repo"); err != nil || g != 2 {
			t.Errorf("tag generation after two bumps: %d, %v", g, err)
		}
		return nil
	})
	stop()
	update(t, s, func(t kv.Txn) error { return kv.Publish(t, "after-stop") })
	// The same store's announcement of a later topic arrives after the
	// one before it: wait for a marker published through a second watch.
	marker := make(chan struct{}, 1)
	stop2 := c.Watch(func(topic string) {
		if topic == "marker" {
			select {
			case marker <- struct{}{}:
			default:
			}
		}
	})
	defer stop2()
	update(t, s, func(t kv.Txn) error { return kv.Publish(t, "marker") })
	select {
	case <-marker:
	case <-time.After(announceWait):
		t.Fatalf("marker not heard within %s", announceWait)
	}
	select {
	case got := <-heard:
		t.Fatalf("a stopped watch heard %q", got)
	default:
	}
}
