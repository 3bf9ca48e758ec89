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
	tx  pgx.Tx
	// failed is the first error a statement returned. PostgreSQL aborts
	// the transaction on any error, so it decides the outcome whatever
	// the closure does with it.
	failed error
}

// fail records err as the transaction's failure and returns it wrapped.
func (t *pgTxn) fail(err error) error {
	if t.failed == nil {
		t.failed = err
	}
	return pgError(err)
}

func (t *pgTxn) Get(key []byte) ([]byte, error) {
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
	var ok bool
	if err := t.tx.QueryRow(t.ctx, `SELECT EXISTS (SELECT 1 FROM kv WHERE k = $1)`, key).Scan(&ok); err != nil {
		return false, t.fail(err)
	}
	return ok, nil
}

func (t *pgTxn) Set(key, val []byte) error {
	if val == nil {
		val = []byte{} // nil would be SQL NULL; an empty value is a value
	}
	_, err := t.tx.Exec(t.ctx, `INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v`, key, val)
	if err != nil {
		return t.fail(err)
	}
	return nil
}

func (t *pgTxn) Delete(key []byte) error {
	if _, err := t.tx.Exec(t.ctx, `DELETE FROM kv WHERE k = $1`, key); err != nil {
		return t.fail(err)
	}
	return nil
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
