package gc

import (
	"context"
	"errors"

	"github.com/opencontainers/go-digest"
	"github.com/sourcegraph/conc/pool"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// markAndSweep takes the mark snapshot, marks every repository's blobs
// (cleaning its links on the way), and sweeps the unmarked blob records of
// the same snapshot.
func (r *run) markAndSweep() error {
	sweepers := pool.New().WithErrors().WithMaxGoroutines(r.c.o.Workers)
	err := r.c.kv.View(r.ctx, func(t kv.Reader) error {
		marks := markSet{}
		var err error
		r.rep.Repositories, err = r.eachRepository(t, "mark", func(repo string) error { return r.markRepo(t, repo, marks) })
		if err != nil {
			return err
		}
		if err := r.danglingInverseLinks(t); err != nil {
			return err
		}
		r.report(0, 0, "sweep")
		n := int64(0)
		return t.Scan(kv.BlobPrefix(), nil, func(k, v []byte) error {
			n++
			if n%1024 == 0 {
				r.report(n, 0, "sweep")
			}
			d := kv.Suffix(k, kv.BlobPrefix())
			rec, err := kv.DecodeBlob(v)
			if err != nil {
				return err
			}
			r.count(func(rep *Report) { rep.Blobs++ })
			switch {
			case marks.has(d):
				r.count(func(rep *Report) { rep.Marked++ })
			case rec.Created >= r.cutoff || rec.LastLinked >= r.cutoff:
				r.count(func(rep *Report) { rep.Kept++ })
			case r.dry:
				r.count(func(rep *Report) { rep.Swept++; rep.SweptBytes += rec.Size })
			default:
				// Blocks while every sweeper is busy: the scan goes no
				// faster than the deletes.
				sweepers.Go(func() error { return r.sweepBlob(d, rec) })
			}
			if n%64 == 0 {
				return r.pace.step(r.ctx)
			}
			return r.ctx.Err()
		})
	})
	return errors.Join(err, sweepers.Wait(), r.liftTombstones())
}

// linkCandidate is a link of a repository that no manifest of it uses.
type linkCandidate struct {
	digest   string
	dangling bool          // the blob had no record in the snapshot
	rec      kv.BlobRecord // the record in the snapshot, when it had one
}

// unlink removes candidate links of repo that are still removable: the
// blob record is still absent (dangling), or still exactly what the
// snapshot saw. A push that links or uses the blob after the snapshot
// changed LastLinked; one that does so concurrently writes the record this
// transaction reads, so one of the two retries. Runs on repo's actor.
func (r *run) unlink(ctx context.Context, repo string, cands []linkCandidate) error {
	for len(cands) > 0 {
		batch := cands[:min(chunk, len(cands))]
		cands = cands[len(batch):]
		var unused, dangling int
		err := r.c.kv.Update(ctx, func(t kv.Txn) error {
			unused, dangling = 0, 0
			for _, c := range batch {
				ok, err := t.Has(kv.LinkKey(repo, c.digest))
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				rec, err := kv.GetRecord(t, kv.BlobKey(c.digest), kv.DecodeBlob)
				switch {
				case errors.Is(err, kv.ErrNotFound):
					dangling++
				case err != nil:
					return err
				default:
					if c.dangling || rec != c.rec {
						continue // linked or re-created since the snapshot
					}
					unused++
				}
				if err := t.Delete(kv.LinkKey(repo, c.digest)); err != nil {
					return err
				}
				if err := t.Delete(kv.InverseLinkKey(c.digest, repo)); err != nil {
					return err
				}
			}
			return nil
		})
		if errors.Is(err, kv.ErrConflict) {
			continue // a busy blob: leave these links to the next run
		}
		if err != nil {
			return err
		}
		r.count(func(rep *Report) { rep.UnusedLinks += unused; rep.DanglingLinks += dangling })
	}
	return nil
}

// danglingInverseLinks removes i/<digest>@<repo> entries whose link is
// gone (they only tell mounts where to look).
func (r *run) danglingInverseLinks(t kv.Reader) error {
	type inv struct{ d, repo string }
	var cands []inv
	ns := kv.InverseLinkNamespace()
	seen := 0
	err := t.ScanKeys(ns, nil, func(k []byte) error {
		d, repo, ok := kv.SplitAt(k, ns)
		if !ok {
			return nil
		}
		has, err := t.Has(kv.LinkKey(repo, d))
		if err == nil && !has {
			cands = append(cands, inv{d, repo})
		}
		if seen++; err == nil && seen%64 == 0 {
			err = r.pace.step(r.ctx)
		}
		return err
	})
	if err != nil || len(cands) == 0 {
		return err
	}
	if r.dry {
		r.count(func(rep *Report) { rep.DanglingLinks += len(cands) })
		return nil
	}
	for len(cands) > 0 {
		batch := cands[:min(chunk, len(cands))]
		cands = cands[len(batch):]
		n := 0
		err := r.c.kv.Update(r.ctx, func(t kv.Txn) error {
			n = 0
			for _, c := range batch {
				has, err := t.Has(kv.LinkKey(c.repo, c.d))
				if err != nil {
					return err
				}
				if has {
					continue
				}
				if err := t.Delete(kv.InverseLinkKey(c.d, c.repo)); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil && !errors.Is(err, kv.ErrConflict) {
			return err
		}
		if err == nil {
			r.count(func(rep *Report) { rep.DanglingLinks += n })
		}
	}
	return nil
}

// sweepBlob deletes blob d if its record is still what the mark snapshot
// saw (seen): not linked or used by any push since, and older than the
// grace period. Record, links and tombstone change in one transaction,
// then the file goes, then the tombstone.
func (r *run) sweepBlob(d string, seen kv.BlobRecord) error {
	r.c.at("sweep", d)
	deleted, changed := false, false
	err := r.c.kv.Update(r.ctx, func(t kv.Txn) error {
		deleted, changed = false, false
		rec, err := kv.GetRecord(t, kv.BlobKey(d), kv.DecodeBlob)
		if errors.Is(err, kv.ErrNotFound) {
			return nil // already gone
		}
		if err != nil {
			return err
		}
		// Equality, not only age: a push whose transaction began before
		// T0 but committed after the snapshot wrote a LastLinked older
		// than T0, and its manifest is not in the mark set.
		if rec != seen || rec.Created >= r.cutoff || rec.LastLinked >= r.cutoff {
			changed = true
			return nil
		}
		var repos []string
		prefix := kv.InverseLinkPrefix(d)
		if err := t.ScanKeys(prefix, nil, func(k []byte) error {
			repos = append(repos, kv.Suffix(k, prefix))
			return nil
		}); err != nil {
			return err
		}
		for _, repo := range repos {
			if err := t.Delete(kv.LinkKey(repo, d)); err != nil {
				return err
			}
			if err := t.Delete(kv.InverseLinkKey(d, repo)); err != nil {
				return err
			}
		}
		if err := t.Delete(kv.BlobKey(d)); err != nil {
			return err
		}
		deleted = true
		return t.Set(kv.SweepKey(d), nil)
	})
	switch {
	case errors.Is(err, kv.ErrConflict):
		changed = true // still contended after every retry: a busy blob is not garbage
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return nil // the run was cancelled before this blob's transaction
	case err != nil:
		return err
	}
	if changed {
		r.count(func(rep *Report) { rep.Raced++ })
	}
	if !deleted {
		return nil
	}
	r.c.at("unrecorded", d)
	if err := r.removeFile(d); err != nil {
		return err
	}
	r.count(func(rep *Report) { rep.Swept++; rep.SweptBytes += seen.Size })
	return nil
}

// removeFile deletes blob d's file, then queues its sweep tombstone to be
// lifted. It completes even if the run is cancelled: the record is already
// gone.
func (r *run) removeFile(d string) error {
	if dg := digest.Digest(d); dg.Validate() == nil {
		if err := r.c.blobs.Delete(r.ctx, dg); err != nil && !errors.Is(err, blobstore.ErrNotFound) {
			return err // the tombstone stays: the next run retries
		}
	}
	r.mu.Lock()
	r.lift = append(r.lift, d)
	full := len(r.lift) >= liftBatch
	r.mu.Unlock()
	if full {
		return r.liftTombstones()
	}
	return nil
}

// removeOldFile is removeFile for a file that may have been placed anew
// since its tombstone was written: one younger than fileCutoff is kept,
// and only the tombstone goes.
func (r *run) removeOldFile(d string) error {
	if dg := digest.Digest(d); dg.Validate() == nil {
		info, err := r.c.blobs.Stat(r.ctx, dg)
		switch {
		case err == nil && info.Modified.UnixNano() >= r.fileCutoff:
			r.mu.Lock()
			r.lift = append(r.lift, d)
			r.mu.Unlock()
			return nil
		case err != nil && !errors.Is(err, blobstore.ErrNotFound):
			return err
		}
	}
	return r.removeFile(d)
}

// liftBatch is how many tombstones are lifted in one transaction. Lifting
// them in batches halves the synced commits of a sweep; the price is that
// a just-swept digest stays unlinkable (its upload is refused, and the
// client retries) for up to a batch longer.
const liftBatch = 128

// liftTombstones deletes the queued tombstones, whose files are gone.
func (r *run) liftTombstones() error {
	r.mu.Lock()
	batch := r.lift
	r.lift = nil
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	ctx, cancel := r.finish()
	defer cancel()
	return r.c.kv.Update(ctx, func(t kv.Txn) error {
		for _, d := range batch {
			if err := t.Delete(kv.SweepKey(d)); err != nil {
				return err
			}
		}
		return nil
	})
}

// recoverTombstones finishes the sweeps of an interrupted run: for each
// tombstone, delete the file (its record is gone) and lift the tombstone.
// A file placed since (younger than fileCutoff) is not the swept one but
// a new upload's of the same bytes, which may be about to record it: it
// stays, and is an orphan for a later walk if nothing records it.
func (r *run) recoverTombstones() error {
	var ds []string
	err := r.c.kv.View(r.ctx, func(t kv.Reader) error {
		return t.ScanKeys(kv.SweepPrefix(), nil, func(k []byte) error {
			ds = append(ds, kv.Suffix(k, kv.SweepPrefix()))
			return nil
		})
	})
	if err != nil || len(ds) == 0 {
		return err
	}
	if r.dry {
		r.rep.Recovered = len(ds)
		return nil
	}
	for _, d := range ds {
		known, err := kv.Read(r.ctx, r.c.kv, func(t kv.Reader) (bool, error) { return t.Has(kv.BlobKey(d)) })
		if err != nil {
			return err
		}
		if known {
			// Cannot happen (the record and the tombstone are written in
			// one transaction, and links are refused while the tombstone
			// stands); if it does, the file is needed.
			err = r.c.kv.Update(r.ctx, func(t kv.Txn) error { return t.Delete(kv.SweepKey(d)) })
		} else {
			err = r.removeOldFile(d)
		}
		if err != nil {
			return err
		}
		r.rep.Recovered++
	}
	return r.liftTombstones()
}

func (c *Collector) at(point, d string) {
	if c.hook != nil {
		c.hook(point, d)
	}
}
