package kv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresOptions configures the PostgreSQL store.
type PostgresOptions struct {
	// DSN is a libpq connection string or URL
	// (postgres://user:pass@host:5432/db?sslmode=verify-full).
	DSN string
	// MaxConns bounds the connection pool; 0 is DefaultPostgresMaxConns.
	MaxConns int32
	// OnListenError, when set, is told each time the change listener's
	// connection fails (it reconnects on its own; docs/scale-out.md).
	OnListenError func(error)
	// IdleTxnTimeout makes the server end a session that sits idle inside
	// a read-write transaction this long (idle_in_transaction_session_timeout),
	// releasing its locks: a replica paused mid-transaction (SIGSTOP, a
	// frozen VM) must not hold up the others, or a leader takeover,
	// forever. Read-only transactions (View) hold no locks and are exempt:
	// a collection's mark-and-sweep reads one snapshot for minutes while it
	// works between queries. 0 leaves the server's setting.
	IdleTxnTimeout time.Duration
}

// DefaultPostgresMaxConns is the pool size when none is configured: four
// connections per CPU the process may use, at least 16. pgx's own default
// (the larger of 4 and the CPUs) queued a push's transactions behind each
// other with 64 uploads in flight: a transaction mostly waits on the
// network and the server, not on this process's CPU.
func DefaultPostgresMaxConns() int32 {
	return int32(max(16, 4*runtime.GOMAXPROCS(0)))
}

// Postgres is the Store implementation on PostgreSQL (pgx/v5): every key
// is a row of one table, kv(k bytea primary key, v bytea), whose B-tree
// orders keys bytewise as Badger does.
//
// Guarantees, matched to Badger's: Update runs SERIALIZABLE, and a
// serialization failure (SQLSTATE 40001) or deadlock (40P01), whether a
// statement or the commit reports it, is Badger's ErrConflict: the whole
// closure is retried. Reads of absent keys and ranges are covered too (SSI
// takes predicate locks on the index ranges read). View runs REPEATABLE
// READ READ ONLY: one snapshot for the whole closure. A commit returns once
// PostgreSQL has acknowledged it (durable under synchronous_commit=on, its
// default).
type Postgres struct {
	pool          *pgxpool.Pool
	connConfig    *pgx.ConnConfig // for the listener's own connection
	closed        atomic.Bool
	listener      pgListener
	onListenError func(error)   // PostgresOptions.OnListenError
	view          pgx.TxOptions // how View begins its transaction
	tracer        *statementCounter
}

var (
	_ Store   = (*Postgres)(nil)
	_ Sizer   = (*Postgres)(nil)
	_ Pinger  = (*Postgres)(nil)
	_ Changes = (*Postgres)(nil)
)

// OpenPostgres connects to the database named by o.DSN, creates or
// migrates mcr's tables (refusing a schema newer than this build knows),
// and checks the keyspace's schema version. It makes one attempt: the
// caller retries an unreachable server.
func OpenPostgres(ctx context.Context, o PostgresOptions) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(o.DSN)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, errors.New("kv: metadata.postgres.dsn is not a valid connection string or URL")
	}
	cfg.MaxConns = o.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultPostgresMaxConns()
	}
	if o.IdleTxnTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(o.IdleTxnTimeout.Milliseconds(), 10)
	}
	// Before the listener's copy is taken: its statements count too.
	tracer := &statementCounter{}
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, pgError(err)
	}
	s := &Postgres{pool: pool, connConfig: listenerConfig(cfg.ConnConfig), onListenError: o.OnListenError,
		view: pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, tracer: tracer}
	if o.IdleTxnTimeout > 0 {
		// In the same round trip as BEGIN (simple protocol: one message).
		s.view.BeginQuery = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL idle_in_transaction_session_timeout = 0`
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		if isUnavailable(err) {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return nil, err
	}
	if err := checkSchema(s); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// View implements Store.
func (s *Postgres) View(ctx context.Context, fn func(Reader) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	tx, err := s.pool.BeginTx(ctx, s.view)
	if err != nil {
		return pgError(err)
	}
	// Nothing to commit; ending the transaction must not depend on a
	// context that may be cancelled already.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	return fn(&pgTxn{ctx: ctx, tx: tx})
}

// Update implements Store.
func (s *Postgres) Update(ctx context.Context, fn func(Txn) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return retryConflicts(ctx, func() error { return s.update(ctx, fn) }, s.retried)
}

// retried is Update's conflict test: a serialization failure, counted.
func (s *Postgres) retried(err error) bool {
	if !isSerializationFailure(err) {
		return false
	}
	s.tracer.serializationFailures.Add(1)
	return true
}

func (s *Postgres) update(ctx context.Context, fn func(Txn) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return pgError(err)
	}
	defer conn.Release()
	lt := &lazyTx{conn: conn}
	t := &pgTxn{ctx: ctx, tx: lt}
	ferr := fn(t)
	if ferr == nil && t.failed == nil {
		ferr = t.commit(lt)
	}
	lt.rollback(ctx) // unless committed
	// A failed statement aborts the whole transaction in PostgreSQL, so
	// its error wins even if fn went on and returned another one (or
	// none): a serialization failure must reach the retry loop.
	if t.failed != nil {
		return pgError(t.failed)
	}
	return ferr
}

// getSnapshot implements snapshotGetter (ReadKeys): a statement outside
// a transaction block sees one snapshot of its own, so reading every key
// in one statement is a View's read without its BEGIN and ROLLBACK.
func (s *Postgres) getSnapshot(ctx context.Context, keys [][]byte) ([][]byte, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	got, err := selectKeys(ctx, s.pool, keys)
	if err != nil {
		return nil, pgError(err)
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = got[string(k)]
	}
	return out, nil
}

// Close implements Store. It waits for connections in use to be released.
func (s *Postgres) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.stopListening()
	s.pool.Close()
	return nil
}

// Ping implements Pinger: a round trip to the server.
func (s *Postgres) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.pool.Ping(ctx)
}

// sizeTimeout bounds DiskUsage: a scrape must not hang on a database that
// does not answer.
const sizeTimeout = 2 * time.Second

// DiskUsage implements Sizer: the table with its indexes, and its TOAST
// table, where PostgreSQL keeps large values (manifests) out of line.
func (s *Postgres) DiskUsage() (DiskUsage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), sizeTimeout)
	defer cancel()
	var u DiskUsage
	err := s.pool.QueryRow(ctx, `SELECT pg_total_relation_size('kv') - COALESCE(pg_total_relation_size(NULLIF(reltoastrelid, 0)), 0),
		COALESCE(pg_total_relation_size(NULLIF(reltoastrelid, 0)), 0) FROM pg_class WHERE oid = 'kv'::regclass`).Scan(&u.LSM, &u.ValueLog)
	return u, err
}

// isSerializationFailure reports the errors PostgreSQL asks a client to
// retry the transaction for.
func isSerializationFailure(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// pgError wraps a driver error for callers: ErrUnavailable when the server
// is unreachable or refuses work for now, so that a request can answer
// "retry later" instead of blaming itself.
func pgError(err error) error {
	if isUnavailable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("kv: postgres: %w", err)
}

// isUnavailable reports the errors worth waiting out: no connection (refused,
// timed out, cut, or already closed by the driver when the server went
// away), and the server's own "not now": connection exceptions
// (class 08), insufficient resources (53: out of connections, disk full)
// and operator intervention (57P: shutting down, starting up).
func isUnavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "53") || strings.HasPrefix(pe.Code, "57P")
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
