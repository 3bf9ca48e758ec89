package gc

import (
	"errors"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// orphans removes blob files that have no record and are older than the
// grace period: left by a crash between an upload's rename and its commit.
// A file younger than that may be an upload between those two steps. The
// removal takes the same tombstone as a sweep, so an upload that found the
// file present and is about to record it is refused rather than left with
// a record of a deleted file.
func (r *run) orphans() error {
	batch := make([]digest.Digest, 0, 512)
	seen := int64(0)
	flush := func() error {
		var lost []digest.Digest
		err := r.c.kv.View(r.ctx, func(t kv.Reader) error {
			for _, d := range batch {
				known, err := t.Has(kv.BlobKey(d.String()))
				if err != nil {
					return err
				}
				if !known {
					lost = append(lost, d)
				}
			}
			return nil
		})
		batch = batch[:0]
		if err != nil {
			return err
		}
		for _, d := range lost {
			if err := r.orphan(d); err != nil {
				return err
			}
		}
		r.report(seen, 0, "orphans")
		return r.pace.step(r.ctx)
	}
	err := r.c.blobs.Walk(r.ctx, func(d digest.Digest) error {
		seen++
		batch = append(batch, d)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	return errors.Join(err, r.liftTombstones())
}

// orphansIfDue walks the blob files for orphans on the first run and then
// once per Options.OrphanInterval.
func (r *run) orphansIfDue() error {
	now := r.c.o.Now()
	if last := r.c.lastOrphanWalk; !last.IsZero() && now.Sub(last) < r.c.o.OrphanInterval {
		return nil
	}
	if err := r.orphans(); err != nil {
		return err
	}
	r.c.lastOrphanWalk = now
	r.count(func(rep *Report) { rep.OrphanWalk = true })
	return nil
}

// orphan removes file d if it is old and still has no record.
func (r *run) orphan(d digest.Digest) error {
	info, err := r.c.blobs.Stat(r.ctx, d)
	if errors.Is(err, blobstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.Modified.UnixNano() >= r.fileCutoff {
		return nil
	}
	size := info.Size
	if r.dry {
		r.count(func(rep *Report) { rep.Orphans++; rep.OrphanBytes += size })
		return nil
	}
	claimed := false
	err = r.c.kv.Update(r.ctx, func(t kv.Txn) error {
		claimed = false
		known, err := t.Has(kv.BlobKey(d.String()))
		if err != nil || known {
			return err // recorded meanwhile: not an orphan
		}
		claimed = true
		return t.Set(kv.SweepKey(d.String()), nil)
	})
	if errors.Is(err, kv.ErrConflict) {
		return nil
	}
	if err != nil || !claimed {
		return err
	}
	if err := r.removeFile(d.String()); err != nil {
		return err
	}
	r.count(func(rep *Report) { rep.Orphans++; rep.OrphanBytes += size })
	return nil
}
