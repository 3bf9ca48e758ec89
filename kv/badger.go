package kv

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"git.wntrmute.dev/kyle/mcr/kv/flush"
)

// MemTableSize is the size of each of Badger's memtables, and of the
// level-0 table a full one is flushed to. The disk-space reserve is sized
// from it (docs/operations.md, "Disk space").
const MemTableSize = 4 << 20

// valueThreshold is the size from which Badger keeps a value in its value
// log rather than in the tree (Open).
const valueThreshold = 64 << 10

// Options configures the Badger store.
type Options struct {
	// Dir holds Badger's files. Ignored when InMemory is set.
	Dir string
	// InMemory keeps everything in memory: for tests only, nothing is
	// durable, and values over the 64 KiB value threshold are refused
	// (there is no value log to hold them).
	InMemory bool
	// Logger receives Badger's own log lines; nil silences them.
	Logger badger.Logger
	// GroupSync makes commits durable by a sync of Badger's own logs
	// shared by every writer waiting at that moment (group commit,
	// logsync.go) instead of Badger's per-commit fsync.
	GroupSync bool
	// Barrier, when set, replaces both: Update returns after
	// Barrier.Wait, which must make every commit applied before it
	// durable. Tests set it to watch or fail that moment.
	Barrier Barrier
}

// Barrier is a durability point shared by concurrent writers: Wait
// returns once everything written before the call is on disk.
type Barrier interface {
	Wait() error
}

// Badger is the Store implementation on github.com/dgraph-io/badger/v4.
type Badger struct {
	db      *badger.DB
	barrier Barrier
	logs    *logSync // GroupSync's, or nil
	watch   watchers
}

var (
	_ Store         = (*Badger)(nil)
	_ Restorer      = (*Badger)(nil)
	_ Changes       = (*Badger)(nil)
	_ SingleProcess = (*Badger)(nil)
)

// Open opens (creating if needed) the store and checks its schema version.
func Open(o Options) (*Badger, error) {
	opts := badger.DefaultOptions(o.Dir).
		// Every commit is on disk before Update returns: a 201 means on
		// disk. Without a barrier Badger fsyncs each commit itself; with
		// one (GroupSync's, or Barrier) it only writes (Update waits on
		// the barrier), so that a new
		// transaction, which waits for every commit before it to be
		// applied (Badger's read timestamp), does not also wait for their
		// flushes: reads never queue behind a disk.
		WithSyncWrites(o.Barrier == nil && !o.GroupSync).
		WithLogger(o.Logger).
		// Manifests are up to 4 MiB; keeping values up to 64 KiB in the LSM
		// tree makes a manifest GET one lookup without a value-log read for
		// the common case, while large manifests go to the value log.
		WithValueThreshold(valueThreshold).
		WithNumVersionsToKeep(1).
		// Registry metadata is small and written in small transactions:
		// Badger's defaults (five 64 MiB memtables) are sized for bulk
		// loads. Each memtable is a Go-heap arena (its size plus 30 %)
		// and a memory-mapped write-ahead log of twice its size, both
		// resident once written, and the collector's headroom doubles
		// the arena: with 16 MiB memtables the arena alone was 21 MiB of
		// a 26 MiB idle heap. 4 MiB (5.2 MiB arenas) still allows
		// transactions of 630 KiB (15 % of a memtable) of keys and small
		// values, some thousand blob records; values over the threshold
		// (large manifests) count only their pointer into the value log.
		// At push-image rates it flushes every few seconds, a 4 MiB
		// sequential write (docs/benchmarks.md, "Memory").
		WithMemTableSize(MemTableSize).
		WithNumMemtables(3).
		// Keys and small values compress little, and a compressed block
		// has to be decompressed into Badger's block cache (256 MiB by
		// default, filled by the first large listing and then held) on
		// every read that misses it. Uncompressed, a read takes the
		// block straight from the table's memory map: no cache to fill,
		// no decompression on the read path.
		WithCompression(options.None).
		WithBlockCacheSize(0).
		// Badger's metrics are expvar maps updated on every Get (per
		// level, keyed by strings) and every write: about 1 % of a
		// mount's CPU (docs/benchmarks.md), for counters nothing
		// reads (http/metrics measures the store's files itself).
		WithMetricsEnabled(false)
	if o.InMemory {
		opts = opts.WithInMemory(true).WithDir("").WithValueDir("")
	}
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("kv: open badger at %q: %w", o.Dir, err)
	}
	s := &Badger{db: db, barrier: o.Barrier}
	if o.GroupSync && o.Barrier == nil && !o.InMemory {
		s.logs = newLogSync(o.Dir)
		s.barrier = flush.New(s.logs.sync)
	}
	if err := checkSchema(s); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// CompactValueLog implements ValueLogCompactor: it rewrites value-log files
// until a pass finds none worth rewriting, and reports how many it rewrote.
func (s *Badger) CompactValueLog(ctx context.Context) (int, error) {
	n := 0
	for ctx.Err() == nil {
		err := s.db.RunValueLogGC(0.5)
		s.wroteValueLog() // what it moved went to the newest value log
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrGCInMemoryMode) || errors.Is(err, badger.ErrRejected) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, ctx.Err()
}

// SingleProcess implements SingleProcess: Badger locks its directory.
func (s *Badger) SingleProcess() {}

// Ping implements Pinger: Badger is embedded, so it is up until closed.
func (s *Badger) Ping(context.Context) error {
	if s.db.IsClosed() {
		return ErrClosed
	}
	return nil
}

// View implements Store.
func (s *Badger) View(ctx context.Context, fn func(Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return closedErr(s.db.View(func(t *badger.Txn) error { return fn(txn{t: t}) }))
}

// Update implements Store.
func (s *Badger) Update(ctx context.Context, fn func(Txn) error) error {
	return s.update(ctx, fn, s.barrier)
}

// UpdateUnsynced is Update without waiting for the commit to reach the
// disk: it is applied and visible when this returns, survives the
// process being killed (Badger's log is in the page cache) and is made
// durable by the next sync of any writer; only a power cut before that
// can lose it. It is for records whose loss loses nothing a client was
// told is stored: an upload session that holds no bytes yet. Without a
// barrier Badger syncs every commit itself and this is Update.
func (s *Badger) UpdateUnsynced(ctx context.Context, fn func(Txn) error) error {
	return s.update(ctx, fn, nil)
}

// Sync returns once every commit applied before the call is durable: it
// is how a commit of UpdateUnsynced is acknowledged after the fact. A
// caller that holds a lock around its commit releases the lock first and
// then waits here, so that the writers queued behind the lock share one
// flush instead of each waiting for its own. Without a barrier Badger
// synced each commit itself and there is nothing to wait for.
func (s *Badger) Sync() error {
	if s.barrier == nil {
		return nil
	}
	return s.barrier.Wait()
}

func (s *Badger) update(ctx context.Context, fn func(Txn) error, barrier Barrier) error {
	var topics []string
	var big bool
	err := retryConflicts(ctx, func() error {
		topics = topics[:0] // what a conflicted attempt published is void
		big = false
		err := s.db.Update(func(t *badger.Txn) error { return fn(txn{t: t, topics: &topics, big: &big}) })
		if err == nil && big {
			// After the commit, so that the sync that takes the mark
			// begins after the value was written.
			s.wroteValueLog()
		}
		if err == nil && barrier != nil {
			// Committed and visible, not yet acknowledged. A reader that
			// acts on it writes after it, so its own acknowledgement
			// waits for a later barrier, which covers this commit too.
			return barrier.Wait()
		}
		return closedErr(err)
	}, func(err error) bool { return errors.Is(err, badger.ErrConflict) })
	if err == nil {
		for _, topic := range topics {
			s.watch.fire(topic)
		}
	}
	return err
}

// Watch implements Changes within this process: Badger has one writer
// process, so the topics its own commits publish are all there is.
func (s *Badger) Watch(fn func(topic string)) (stop func()) {
	stop = s.watch.add(fn)
	fn("") // listening from now on
	return stop
}

// Shared implements Changes: no other process opens a Badger directory.
func (s *Badger) Shared() bool { return false }

// closedErr maps Badger's closed-store error to the port's.
func closedErr(err error) error {
	if errors.Is(err, badger.ErrDBClosed) {
		return ErrClosed
	}
	return err
}

// Backup implements Backuper: Badger's own backup stream, from one read
// snapshot.
func (s *Badger) Backup(ctx context.Context, w io.Writer) error {
	stream := s.db.NewStream()
	stream.LogPrefix = "kv.Backup"
	_, err := stream.Backup(w, 0)
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// Restore implements Restorer. It must run before the store serves
// traffic (Badger's Load is not safe alongside other writers).
func (s *Badger) Restore(ctx context.Context, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer s.wroteValueLog()
	return s.db.Load(r, 256)
}

// wroteValueLog tells GroupSync's next sync to sync the value log too.
func (s *Badger) wroteValueLog() {
	if s.logs != nil {
		s.logs.vlog.Store(true)
	}
}

// Close implements Store.
func (s *Badger) Close() error {
	err := s.db.Close()
	if s.logs != nil {
		s.logs.close()
	}
	return err
}

// txn is a Badger transaction; topics collects what an Update's
// transaction published, big says it set a value that goes to the value
// log (both nil in a View).
type txn struct {
	t      *badger.Txn
	topics *[]string
	big    *bool
}

func (t txn) publish(topic string) error {
	if t.topics == nil {
		return badger.ErrReadOnlyTxn
	}
	*t.topics = append(*t.topics, topic)
	return nil
}

func (t txn) Get(key []byte) ([]byte, error) {
	it, err := t.t.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return it.ValueCopy(nil)
}

func (t txn) Has(key []byte) (bool, error) {
	_, err := t.t.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (t txn) Set(key, val []byte) error {
	if len(val) >= valueThreshold && t.big != nil {
		*t.big = true
	}
	return tooLarge(t.t.Set(key, val))
}

func (t txn) Delete(key []byte) error { return tooLarge(t.t.Delete(key)) }

// tooLarge maps Badger's per-transaction limit to the port's error.
func tooLarge(err error) error {
	if errors.Is(err, badger.ErrTxnTooBig) {
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return err
}

func (t txn) Scan(prefix, after []byte, fn func(key, val []byte) error) error {
	return t.scan(prefix, after, true, func(it *badger.Item) error {
		return it.Value(func(v []byte) error { return fn(it.Key(), v) })
	})
}

func (t txn) ScanKeys(prefix, after []byte, fn func(key []byte) error) error {
	return t.scan(prefix, after, false, func(it *badger.Item) error { return fn(it.Key()) })
}

func (t txn) scan(prefix, after []byte, values bool, fn func(*badger.Item) error) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	opts.PrefetchValues = values
	opts.PrefetchSize = 16
	it := t.t.NewIterator(opts)
	defer it.Close()
	start := prefix
	if len(after) > 0 {
		start = append(append(make([]byte, 0, len(prefix)+len(after)+1), prefix...), after...)
		// The smallest key strictly greater than prefix+after.
		start = append(start, 0)
	}
	for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
		if err := fn(it.Item()); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}
