package kv

import (
	"bytes"
	"slices"

	"github.com/jackc/pgx/v5"
)

// Buffered writes. Each statement is a round trip to PostgreSQL, and a
// push's transactions write several keys each (a blob record, its two
// links, the repository record, an upload session), so a pgTxn keeps its
// Sets and Deletes in memory and sends them as one multi-row upsert and
// one multi-key delete, pipelined in one round trip, when the
// transaction commits, or before a statement whose answer they could
// change (a scan, a locking read). Point reads of a buffered key are
// answered from the buffer. Nothing about isolation changes: SERIALIZABLE
// judges a transaction by what it read and wrote, not by when in the
// transaction a write reached the server, and a write that conflicts
// fails the flush, which fails the transaction, which the retry loop
// runs again (retry.go). A commit is still acknowledged only after
// PostgreSQL has acknowledged it.

// pending is a buffered write: a value to store, or a deletion.
type pending struct {
	val []byte
	del bool
}

// The flush's statements: one prepared statement each, whatever the
// number of keys (arrays as parameters), so pgx's statement cache reuses
// them. The writes are one statement: the deletion is a data-modifying
// WITH, which PostgreSQL runs whether or not the INSERT reads it; the two
// touch different keys (the buffer holds one write per key).
const (
	writeMany = `WITH del AS (DELETE FROM kv WHERE k = ANY($3::bytea[]))
INSERT INTO kv (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v`
	notifyMany = `SELECT pg_notify($1, topic) FROM unnest($2::text[]) AS topic`
)

// buffered answers a point read of key from the buffer: found is set when
// the transaction wrote or deleted key.
func (t *pgTxn) buffered(key []byte) (p pending, found bool) {
	p, found = t.writes[string(key)]
	return p, found
}

func (t *pgTxn) Set(key, val []byte) error {
	if t.failed != nil {
		return pgError(t.failed)
	}
	// Copied, so that the buffer does not depend on what the caller does
	// with its slice. An empty value is a value: never nil, which would
	// be SQL NULL.
	t.put(key, pending{val: append([]byte{}, val...)})
	return nil
}

func (t *pgTxn) Delete(key []byte) error {
	if t.failed != nil {
		return pgError(t.failed)
	}
	t.put(key, pending{del: true})
	return nil
}

func (t *pgTxn) put(key []byte, p pending) {
	if t.writes == nil {
		t.writes = map[string]pending{}
	}
	t.writes[string(key)] = p
}

// publish implements publisher: the announcement goes out with the
// flush. pg_notify delivers only at commit anyway, so sending it later in
// the transaction changes nothing a listener can see.
func (t *pgTxn) publish(topic string) error {
	if t.failed != nil {
		return pgError(t.failed)
	}
	if !slices.Contains(t.topics, topic) {
		t.topics = append(t.topics, topic)
	}
	return nil
}

// flush sends the buffered writes and announcements in one round trip
// (pipelined, when there are both) and empties the buffer.
func (t *pgTxn) flush() error {
	if t.failed != nil {
		return pgError(t.failed)
	}
	if len(t.writes) == 0 && len(t.topics) == 0 {
		return nil
	}
	// Close reads every result and returns the first error: a failed
	// statement makes PostgreSQL skip the rest and abort the transaction.
	if err := t.tx.SendBatch(t.ctx, t.takeWrites()).Close(); err != nil {
		return t.fail(err)
	}
	return nil
}

// commit sends the buffered writes and announcements and COMMIT in one
// round trip (postgres_begin.go).
func (t *pgTxn) commit(lt *lazyTx) error {
	if t.failed != nil {
		return pgError(t.failed)
	}
	if err := lt.commit(t.ctx, t.takeWrites()); err != nil {
		return t.fail(err)
	}
	return nil
}

// takeWrites empties the buffer into a batch of at most two statements.
// Keys go in byte order, so that two transactions writing the same rows
// take their row locks in the same order.
func (t *pgTxn) takeWrites() *pgx.Batch {
	b := &pgx.Batch{}
	if len(t.writes) == 0 && len(t.topics) == 0 {
		return b
	}
	keys := make([]string, 0, len(t.writes))
	for k := range t.writes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var setK, setV, delK [][]byte
	for _, k := range keys {
		if p := t.writes[k]; p.del {
			delK = append(delK, []byte(k))
		} else {
			setK, setV = append(setK, []byte(k)), append(setV, p.val)
		}
	}
	if len(keys) > 0 {
		b.Queue(writeMany, setK, setV, delK)
	}
	if len(t.topics) > 0 {
		b.Queue(notifyMany, notifyChannel, t.topics)
	}
	t.writes, t.topics = nil, nil
	return b
}

// inRange reports whether key is one a scan of prefix after after visits
// (scan's bounds: the prefix, strictly past prefix+after when after is
// set).
func inRange(key, prefix, after []byte) bool {
	if !bytes.HasPrefix(key, prefix) {
		return false
	}
	return len(after) == 0 || bytes.Compare(key[len(prefix):], after) > 0
}

// flushFor flushes the buffer before a scan of prefix after after if it
// holds a write the scan would see; other scans leave it to the commit.
func (t *pgTxn) flushFor(prefix, after []byte) error {
	for k := range t.writes {
		if inRange([]byte(k), prefix, after) {
			return t.flush()
		}
	}
	return nil
}
