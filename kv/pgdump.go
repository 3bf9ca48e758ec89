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
var ErrNotEmpty = errors.New("kv: restore needs an empty store")

// Restore loads a backup stream (from either store) into this database,
// which must hold nothing but the schema version that opening it wrote.
// It commits in batches: a failed restore leaves a partial database, to be
// dropped and created again before a retry.
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
	br := bufio.NewReaderSize(r, 1<<20)
	var last []byte
	var batch []*pb.KV
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.Update(ctx, func(t Txn) error {
			for _, kv := range batch {
				if err := t.Set(kv.Key, kv.Value); err != nil {
					return err
				}
			}
			return nil
		})
		batch, size = batch[:0], 0
		return err
	}
	now := uint64(time.Now().Unix())
	for {
		var n uint64
		if err := binary.Read(br, binary.LittleEndian, &n); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("kv: restore: %w", err)
		}
		if n > 1<<30 {
			return fmt.Errorf("kv: restore: a list of %d bytes: %w", n, ErrCorrupt)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(br, buf); err != nil {
			return fmt.Errorf("kv: restore: %w", err)
		}
		list := &pb.KVList{}
		if err := proto.Unmarshal(buf, list); err != nil {
			return fmt.Errorf("kv: restore: %w: %w", ErrCorrupt, err)
		}
		for _, kv := range list.Kv {
			// A key's versions come together, newest first: the first
			// decides, and a deleted or expired one leaves it absent.
			if last != nil && bytes.Equal(kv.Key, last) {
				continue
			}
			last = kv.Key
			if len(kv.Meta) > 0 && kv.Meta[0]&badgerBitDelete != 0 || kv.ExpiresAt != 0 && kv.ExpiresAt <= now {
				continue
			}
			batch = append(batch, kv)
			if size += len(kv.Key) + len(kv.Value); size >= dumpBatch || len(batch) >= 1000 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}
