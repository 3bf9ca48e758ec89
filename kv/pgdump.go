package kv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/dgraph-io/badger/v4/pb"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
)

// Backups are in one format whichever store wrote them: Badger's backup
// stream, a sequence of (little-endian uint64 length, protobuf pb.KVList).
// So a snapshot of either store restores into either store, and
// engine/snapshot reads every backup the same way.

// dumpBatch bounds one KVList of a PostgreSQL backup: Badger's loader
// reads a list whole, so lists stay around a few MiB.
const dumpBatch = 4 << 20

// Badger's meta bits that a backup stream carries (badger/v4 structs.go).
const (
	badgerBitDelete byte = 1 << 0
)

var (
	_ Backuper = (*Postgres)(nil)
	_ Backuper = (*Badger)(nil)
	_ Restorer = (*Postgres)(nil)
)

// Backup implements Backuper: every key of one REPEATABLE READ snapshot,
// in key order, as Badger's backup stream (one version per key).
func (s *Postgres) Backup(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	return s.View(ctx, func(r Reader) error {
		list, size := &pb.KVList{}, 0
		err := r.Scan(nil, nil, func(k, v []byte) error {
			list.Kv = append(list.Kv, &pb.KV{Key: bytes.Clone(k), Value: bytes.Clone(v), UserMeta: []byte{0}, Meta: []byte{0}, Version: 1})
			if size += len(k) + len(v); size >= dumpBatch {
				if err := writeKVList(bw, list); err != nil {
					return err
				}
				list, size = &pb.KVList{}, 0
			}
			return ctx.Err()
		})
		if err != nil {
			return err
		}
		if len(list.Kv) > 0 {
			if err := writeKVList(bw, list); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
}

func writeKVList(w io.Writer, list *pb.KVList) error {
	b, err := proto.Marshal(list)
	if err != nil {
		return err
	}
	if err := binary.Write(w, binary.LittleEndian, uint64(len(b))); err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// ErrNotEmpty is returned by Restore into a store that holds data.
var ErrNotEmpty error = &kindError{"kv: restore needs an empty store", "Conflict"}

// Restore loads a backup stream (from either store) into this database,
// which must hold nothing but the schema version that opening it wrote. The
// whole load is one transaction (COPY into the kv table): a failed restore
// leaves the database as it was.
func (s *Postgres) Restore(ctx context.Context, r io.Reader) error {
	err := s.View(ctx, func(rd Reader) error {
		return rd.ScanKeys(nil, nil, func(k []byte) error {
			if !bytes.Equal(k, SchemaKey()) {
				return ErrNotEmpty
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	src := &streamRows{r: bufio.NewReaderSize(r, 1<<20), now: uint64(time.Now().Unix())}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The stream carries its own schema version record.
		if _, err := tx.Exec(ctx, `DELETE FROM kv`); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"kv"}, []string{"k", "v"}, pgx.CopyFromFunc(src.next))
		return err
	})
	if err != nil {
		return fmt.Errorf("kv: restore: %w", err)
	}
	return nil
}

// streamRows reads a backup stream as (k, v) rows: a key's versions come
// together, newest first, so the first decides, and a deleted or expired
// one leaves the key absent.
type streamRows struct {
	r    *bufio.Reader
	now  uint64
	list []*pb.KV
	last []byte
}

func (s *streamRows) next() ([]any, error) {
	for {
		for len(s.list) > 0 {
			kv := s.list[0]
			s.list = s.list[1:]
			if s.last != nil && bytes.Equal(kv.Key, s.last) {
				continue
			}
			s.last = kv.Key
			if len(kv.Meta) > 0 && kv.Meta[0]&badgerBitDelete != 0 || kv.ExpiresAt != 0 && kv.ExpiresAt <= s.now {
				continue
			}
			v := kv.Value
			if v == nil {
				v = []byte{}
			}
			return []any{kv.Key, v}, nil
		}
		var n uint64
		if err := binary.Read(s.r, binary.LittleEndian, &n); errors.Is(err, io.EOF) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		if n > 1<<30 {
			return nil, fmt.Errorf("a list of %d bytes: %w", n, ErrCorrupt)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(s.r, buf); err != nil {
			return nil, err
		}
		list := &pb.KVList{}
		if err := proto.Unmarshal(buf, list); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		s.list = list.Kv
	}
}
