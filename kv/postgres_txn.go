package kv

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// Scan pages. A scan reads a page of rows per query and hands them to the
// callback after the query is done, so that the callback may itself read
// through the same transaction (one connection runs one query at a time)
// and a 100 000-key scan holds one page in memory, not all of it. The
// first page is small, because most scans stop early (a listing page of
// 100, a point check); each next page doubles, up to the cap. Pages of
// values are capped lower: a value may be a 4 MiB manifest.
const (
	firstPage    = 128
	keyPageCap   = 2048
	valuePageCap = 128
)

var _ RowLocker = (*pgTxn)(nil)

// pgTxn is a Txn on one PostgreSQL transaction.
type pgTxn struct {
	ctx context.Context
	tx  pgQuerier
	// failed is the first error a statement returned. PostgreSQL aborts
	// the transaction on any error, so it decides the outcome whatever
	// the closure does with it.
	failed error
	// writes and topics are what the transaction wrote and published and
	// has not sent yet (postgres_writes.go).
	writes map[string]pending
	topics []string
}

// fail records err as the transaction's failure and returns it wrapped.
func (t *pgTxn) fail(err error) error {
	if t.failed == nil {
		t.failed = err
	}
	return pgError(err)
}

func (t *pgTxn) Get(key []byte) ([]byte, error) {
	if p, ok := t.buffered(key); ok {
		if p.del {
			return nil, ErrNotFound
		}
		return append([]byte{}, p.val...), nil
	}
	var v []byte
	err := t.tx.QueryRow(t.ctx, `SELECT v FROM kv WHERE k = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, t.fail(err)
	}
	return v, nil
}

// GetKeyShare implements RowLocker: SELECT ... FOR KEY SHARE, which an
// UPDATE of the value alone does not wait for.
func (t *pgTxn) GetKeyShare(key []byte) ([]byte, error) { return t.getLocked(key, "FOR KEY SHARE") }

// GetForUpdate implements RowLocker: SELECT ... FOR UPDATE, which waits
// for every other lock on the row.
func (t *pgTxn) GetForUpdate(key []byte) ([]byte, error) { return t.getLocked(key, "FOR UPDATE") }

func (t *pgTxn) getLocked(key []byte, lock string) ([]byte, error) {
	// The lock is taken on the row as PostgreSQL has it, so a buffered
	// write of it goes first.
	if _, ok := t.buffered(key); ok {
		if err := t.flush(); err != nil {
			return nil, err
		}
	}
	var v []byte
	err := t.tx.QueryRow(t.ctx, `SELECT v FROM kv WHERE k = $1 `+lock, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, t.fail(err)
	}
	return v, nil
}

func (t *pgTxn) Has(key []byte) (bool, error) {
	if p, ok := t.buffered(key); ok {
		return !p.del, nil
	}
	var ok bool
	if err := t.tx.QueryRow(t.ctx, `SELECT EXISTS (SELECT 1 FROM kv WHERE k = $1)`, key).Scan(&ok); err != nil {
		return false, t.fail(err)
	}
	return ok, nil
}

func (t *pgTxn) Scan(prefix, after []byte, fn func(key, val []byte) error) error {
	return t.scan(prefix, after, true, fn)
}

func (t *pgTxn) ScanKeys(prefix, after []byte, fn func(key []byte) error) error {
	return t.scan(prefix, after, false, func(k, _ []byte) error { return fn(k) })
}

// scan pages through [start, end): start is prefix, or the first key after
// prefix+after; end is the first key past every key with the prefix. Each
// page resumes strictly after the last key of the one before.
func (t *pgTxn) scan(prefix, after []byte, values bool, fn func(key, val []byte) error) error {
	if err := t.flushFor(prefix, after); err != nil {
		return err
	}
	cols, page, pageCap := "k, NULL::bytea", firstPage, keyPageCap
	if values {
		cols, pageCap = "k, v", valuePageCap
	}
	// An empty prefix is every key: start at the empty key (a nil one
	// would be SQL NULL, which nothing compares greater than).
	start, op := append([]byte{}, prefix...), ">="
	if len(after) > 0 {
		start, op = append(append(make([]byte, 0, len(prefix)+len(after)), prefix...), after...), ">"
	}
	// The end bound is part of the text, not a nullable parameter: a
	// generic plan could not use "$2 IS NULL OR k < $2" to stop the index
	// scan, and would read past the prefix to the end of the table.
	args, bound := []any{nil, page}, ""
	if end := prefixEnd(prefix); end != nil {
		args, bound = append(args, end), ` AND k < $3`
	}
	for {
		args[0], args[1] = start, page
		q := `SELECT ` + cols + ` FROM kv WHERE k ` + op + ` $1` + bound + ` ORDER BY k LIMIT $2`
		rows, err := t.tx.Query(t.ctx, q, args...)
		if err != nil {
			return t.fail(err)
		}
		var ks, vs [][]byte
		for rows.Next() {
			var k, v []byte
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return t.fail(err)
			}
			ks, vs = append(ks, k), append(vs, v)
		}
		if err := rows.Err(); err != nil {
			return t.fail(err)
		}
		for i, k := range ks {
			if err := fn(k, vs[i]); err != nil {
				if errors.Is(err, ErrStop) {
					return nil
				}
				return err
			}
		}
		if len(ks) < page {
			return nil
		}
		start, op = ks[len(ks)-1], ">"
		page = min(page*2, pageCap)
	}
}

// prefixEnd is the smallest key greater than every key with the prefix
// (the prefix with its last byte below 0xff incremented), or nil when there
// is none (an empty or all-0xff prefix).
func prefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] < 0xff {
			end := append([]byte(nil), prefix[:i+1]...)
			end[i]++
			return end
		}
	}
	return nil
}

// selectMany reads several keys in one statement.
const selectMany = `SELECT k, v FROM kv WHERE k = ANY($1::bytea[])`

// GetMany implements MultiGetter: the keys the transaction wrote are
// answered from its buffer, the others in one statement.
func (t *pgTxn) GetMany(keys ...[]byte) ([][]byte, error) {
	out := make([][]byte, len(keys))
	var ask [][]byte
	for i, k := range keys {
		if p, ok := t.buffered(k); ok {
			if !p.del {
				out[i] = append([]byte{}, p.val...)
			}
			continue
		}
		ask = append(ask, k)
	}
	if len(ask) == 0 {
		return out, nil
	}
	got, err := selectKeys(t.ctx, t.tx, ask)
	if err != nil {
		return nil, t.fail(err)
	}
	for i, k := range keys {
		if v, ok := got[string(k)]; ok { // never a buffered key: not asked
			out[i] = v
		}
	}
	return out, nil
}

// querier is what selectKeys runs on: a transaction, or the pool for a
// single-statement snapshot.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// selectKeys reads keys in one statement and returns the values found,
// by key; an empty value is a non-nil empty slice.
func selectKeys(ctx context.Context, q querier, keys [][]byte) (map[string][]byte, error) {
	rows, err := q.Query(ctx, selectMany, keys)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	got := make(map[string][]byte, len(keys))
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		if v == nil {
			v = []byte{}
		}
		got[string(k)] = v
	}
	return got, rows.Err()
}
