package kv

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Round trips of a write transaction. BEGIN and COMMIT sent on their own
// are two of the four round trips of a typical Update (BEGIN, one read of
// a few keys, the buffered writes, COMMIT), and a serializable
// transaction that lasts longer overlaps more others, so more of them
// abort. So an Update's transaction is begun lazily: BEGIN goes in the
// same round trip as its first statement (a pipelined batch), and COMMIT
// in the same round trip as its buffered writes. A write-only Update
// (an upload's session record) is then one round trip, a typical one
// two. Isolation is unchanged: every statement still runs inside the
// one explicit SERIALIZABLE transaction block.

// beginSerializable opens an Update's transaction block.
const beginSerializable = `BEGIN ISOLATION LEVEL SERIALIZABLE`

// pgQuerier is what a pgTxn sends its statements through: a View's
// pgx.Tx, or an Update's lazyTx.
type pgQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

var (
	_ pgQuerier = pgx.Tx(nil)
	_ pgQuerier = (*lazyTx)(nil)
)

// lazyTx is an Update's transaction on one pooled connection, begun with
// its first statement and committed with its last batch.
type lazyTx struct {
	conn  *pgxpool.Conn
	begun bool // BEGIN was sent
	ended bool // COMMIT was sent, or the block was rolled back
}

// begin returns b with BEGIN in front when the block is not open yet,
// and marks it open.
func (t *lazyTx) begin(b *pgx.Batch) *pgx.Batch {
	if t.begun {
		return b
	}
	t.begun = true
	nb := &pgx.Batch{}
	nb.Queue(beginSerializable)
	nb.QueuedQueries = append(nb.QueuedQueries, b.QueuedQueries...)
	return nb
}

func (t *lazyTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.begun {
		return t.conn.Query(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br := t.conn.SendBatch(ctx, t.begin(b))
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

func (t *lazyTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.begun {
		return t.conn.QueryRow(ctx, sql, args...)
	}
	rows, err := t.Query(ctx, sql, args...)
	return &firstRow{rows: rows, err: err}
}

func (t *lazyTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return t.conn.SendBatch(ctx, t.begin(b))
}

// commit sends b (the buffered writes, possibly none) and COMMIT in one
// round trip, and reports whether PostgreSQL committed. Once COMMIT is
// sent its outcome is the answer: a cancellation arriving meanwhile must
// not turn a durable commit into an error, so ctx's cancellation is not
// passed on.
func (t *lazyTx) commit(ctx context.Context, b *pgx.Batch) error {
	if !t.begun && len(b.QueuedQueries) == 0 {
		t.ended = true
		return nil // nothing was read or written: nothing to commit
	}
	b.Queue("COMMIT")
	b = t.begin(b)
	br := t.conn.SendBatch(context.WithoutCancel(ctx), b)
	var tag pgconn.CommandTag
	var err error
	for range b.QueuedQueries {
		if tag, err = br.Exec(); err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err // the block may still be open, aborted: rollback ends it
	}
	t.ended = true
	if tag.String() != "COMMIT" {
		// COMMIT of a block an earlier statement aborted answers
		// ROLLBACK; a failed statement stops the batch first, so this is
		// only a safeguard.
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// rollback ends a block that is open and was not committed: after a
// failed statement PostgreSQL keeps it open, aborted, until told.
func (t *lazyTx) rollback(ctx context.Context) {
	if !t.begun || t.ended {
		return
	}
	t.ended = true
	if _, err := t.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
		// A connection whose state is unknown must not go back to the pool.
		_ = t.conn.Conn().Close(context.WithoutCancel(ctx))
	}
}

// batchRows are the rows of a query sent in a batch: closing them, or
// reading past the last, closes the batch too, which frees the connection
// for the next statement (rows close themselves at the end; a batch does
// not).
type batchRows struct {
	pgx.Rows
	br  pgx.BatchResults
	err error // the batch's own, when the rows had none
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

func (r *batchRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *batchRows) Close() {
	r.Rows.Close()
	if err := r.br.Close(); err != nil && r.Rows.Err() == nil {
		r.err = err
	}
}

// firstRow is QueryRow's answer on rows: the first row, or pgx.ErrNoRows.
type firstRow struct {
	rows pgx.Rows
	err  error
}

func (r *firstRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}
