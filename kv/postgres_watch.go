package kv

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Change notification on PostgreSQL (changes.go): Publish runs
// pg_notify inside the transaction, which PostgreSQL delivers to every
// listening session when, and only if, the transaction commits. Each
// store has one listening connection of its own (not one of the pool's),
// opened on the first Watch.
//
// A notification is lost when the listener's connection is down as it is
// sent (a restart of the server, a cut connection), and nothing tells the
// listener which ones it missed. So after every (re)connection the
// listener calls its watchers with "" (reload everything), and while
// connected it also polls the topics' generation rows every
// watchPoll, calling the watchers of any topic whose generation moved
// without an announcement. The guarantee: a change committed anywhere
// reaches every watcher of a process that can reach the server within
// watchPoll of the commit (in practice the notification, a millisecond);
// a process that cannot reach the server gets it within watchPoll of
// reaching it again.

// notifyChannel is the channel mcr's stores LISTEN on.
const notifyChannel = "mcr_changes"

// watchPoll is the listener's poll interval: the bound on how late a
// change is seen when its notification was lost.
const watchPoll = 500 * time.Millisecond

// ListenerName is the application_name of the listener's connection, so
// that an operator can tell it in pg_stat_activity.
const ListenerName = "mcr change listener"

func listenerConfig(c *pgx.ConnConfig) *pgx.ConnConfig {
	c = c.Copy()
	c.RuntimeParams["application_name"] = ListenerName
	return c
}

// watchRetry bounds the wait between two attempts to reconnect the
// listener.
const watchRetry = 250 * time.Millisecond

// pgListener is the store's listening goroutine and its watchers.
type pgListener struct {
	start sync.Once
	stop  context.CancelFunc
	done  chan struct{}
	watch watchers
}

// Watch implements Changes: announcements of every process sharing the
// database.
func (s *Postgres) Watch(fn func(topic string)) (stop func()) {
	stop = s.listener.watch.add(fn)
	s.listener.start.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		s.listener.stop, s.listener.done = cancel, make(chan struct{})
		go s.listen(ctx)
	})
	return stop
}

// Shared implements Changes: any number of processes share a database.
func (s *Postgres) Shared() bool { return true }

// stopListening ends the listener, if it was started, and waits for it.
func (s *Postgres) stopListening() {
	s.listener.start.Do(func() {}) // no listener may start after this
	if s.listener.stop != nil {
		s.listener.stop()
		<-s.listener.done
	}
}

// listen keeps a listening connection until ctx ends, reconnecting after
// a failure.
func (s *Postgres) listen(ctx context.Context) {
	defer close(s.listener.done)
	seen := map[string]uint64{}
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, seen)
		if ctx.Err() != nil {
			return
		}
		if s.onListenError != nil {
			s.onListenError(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(watchRetry):
		}
	}
}

// listenOnce connects, listens and serves notifications and polls until
// the connection fails or ctx ends.
func (s *Postgres) listenOnce(ctx context.Context, seen map[string]uint64) error {
	conn, err := pgx.ConnectConfig(ctx, s.connConfig)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, `LISTEN `+notifyChannel); err != nil {
		return err
	}
	// Listening from here on: whatever was committed before is in the
	// generations the watchers reload from.
	if err := pollTopics(ctx, conn, seen, nil); err != nil {
		return err
	}
	s.listener.watch.fire("")
	for {
		wctx, cancel := context.WithTimeout(ctx, watchPoll)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			s.listener.watch.fire(n.Payload)
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			// A poll timeout leaves the connection usable (pgconn closes
			// it only on errors other than timeouts).
			if err := pollTopics(ctx, conn, seen, s.listener.watch.fire); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// pollTopics reads every topic's generation and calls fire for each one
// that moved since seen (fire nil: just record them).
func pollTopics(ctx context.Context, conn *pgx.Conn, seen map[string]uint64, fire func(string)) error {
	end := prefixEnd(TopicPrefix())
	rows, err := conn.Query(ctx, `SELECT k, v FROM kv WHERE k >= $1 AND k < $2`, TopicPrefix(), end)
	if err != nil {
		return err
	}
	type moved struct {
		topic string
		gen   uint64
	}
	var changed []moved
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return err
		}
		g, err := decodeGeneration(v)
		if err != nil {
			rows.Close()
			return err
		}
		topic := Suffix(k, TopicPrefix())
		if seen[topic] != g {
			changed = append(changed, moved{topic, g})
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range changed {
		seen[m.topic] = m.gen
		if fire != nil {
			fire(m.topic)
		}
	}
	return nil
}
