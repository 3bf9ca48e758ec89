package kv

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresStats are the PostgreSQL store's counters since it opened: what
// it asked of the server, and how often its pool made a caller wait. They
// are what a fleet's load on one database is built from
// (docs/scale-out.md): statements and round trips per operation, times
// operations per second, times replicas.
type PostgresStats struct {
	// Statements counts the statements sent: every Exec, Query and
	// QueryRow (BEGIN and COMMIT included) and every query of a batch.
	Statements uint64
	// RoundTrips counts the exchanges with the server: one per Exec,
	// Query or QueryRow, one per batch however many queries it holds.
	RoundTrips uint64
	// EmptyAcquires counts connection acquisitions that found the pool
	// empty and waited; EmptyAcquireWait is the time they waited.
	EmptyAcquires    int64
	EmptyAcquireWait time.Duration
	// Conns is the pool's open connections now, MaxConns its bound.
	Conns, MaxConns int32
	// SerializationFailures counts the transactions PostgreSQL aborted
	// for a serialization failure or a deadlock, each run again by
	// Update (retry.go). SERIALIZABLE tracks reads by B-tree page, so on
	// a small table most of them are pages shared by unrelated keys,
	// not real conflicts (docs/scale-out.md, "What limits a push").
	SerializationFailures uint64
}

// Stats reads the counters.
func (s *Postgres) Stats() PostgresStats {
	st := s.pool.Stat()
	return PostgresStats{
		Statements:       s.tracer.statements.Load(),
		RoundTrips:       s.tracer.roundTrips.Load(),
		EmptyAcquires:    st.EmptyAcquireCount(),
		EmptyAcquireWait: st.EmptyAcquireWaitTime(),
		Conns:            st.TotalConns(),
		MaxConns:         st.MaxConns(),

		SerializationFailures: s.tracer.serializationFailures.Load(),
	}
}

// statementCounter is the pool's pgx tracer: it counts, and keeps no
// per-query state, so it costs two atomic adds per statement.
type statementCounter struct {
	statements, roundTrips, serializationFailures atomic.Uint64
}

var (
	_ pgx.QueryTracer = (*statementCounter)(nil)
	_ pgx.BatchTracer = (*statementCounter)(nil)
)

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.statements.Add(1)
	c.roundTrips.Add(1)
	return ctx
}

func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *statementCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.roundTrips.Add(1)
	return ctx
}

func (c *statementCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.statements.Add(1)
}

func (c *statementCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
