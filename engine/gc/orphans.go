package gc

import (
	"context"
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
	if info.Modified.UnixNano() >= r.cutoff {
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

// repositories removes repositories left with nothing in them (no
// manifest, tag or link) and older than the grace period, and gives a
// record back to a repository that has content but lost its record (an
// upload can link a blob into a repository in the instant it is removed).
func (r *run) repositories() error {
	type verdict struct {
		repo    string
		restore bool
	}
	var todo []verdict
	err := r.c.kv.View(r.ctx, func(t kv.Reader) error {
		repos, err := repositories(t)
		if err != nil {
			return err
		}
		for _, repo := range repos {
			empty, created, known, err := repoState(t, repo)
			if err != nil {
				return err
			}
			switch {
			case known && empty && created < r.cutoff:
				todo = append(todo, verdict{repo, false})
			case !known && !empty:
				todo = append(todo, verdict{repo, true})
			}
			if err := r.pace.step(r.ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, v := range todo {
		r.report(int64(i), int64(len(todo)), "repositories")
		if r.dry {
			r.count(func(rep *Report) {
				if v.restore {
					rep.RestoredRepos++
				} else {
					rep.EmptyRepositories++
				}
			})
			continue
		}
		changed := false
		_, err := r.exclusive(v.repo, func(ctx context.Context) error {
			return r.c.kv.Update(ctx, func(t kv.Txn) error {
				changed = false
				empty, created, known, err := repoState(t, v.repo)
				if err != nil {
					return err
				}
				switch {
				case !v.restore && known && empty && created < r.cutoff:
					changed = true
					return t.Delete(kv.RepoKey(v.repo))
				case v.restore && !known && !empty:
					changed = true
					return t.Set(kv.RepoKey(v.repo), kv.RepoRecord{Created: r.c.o.Now().UnixNano()}.Encode())
				}
				return nil
			})
		})
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		if changed {
			r.count(func(rep *Report) {
				if v.restore {
					rep.RestoredRepos++
				} else {
					rep.EmptyRepositories++
				}
			})
		}
	}
	return nil
}

// repoState reports whether repo holds no manifest, tag or link, when its
// record was created, and whether it has one. Referrer entries exist only
// alongside their manifest, so manifests stand for them.
func repoState(t kv.Reader, repo string) (empty bool, created int64, known bool, err error) {
	v, err := t.Get(kv.RepoKey(repo))
	switch {
	case errors.Is(err, kv.ErrNotFound):
	case err != nil:
		return false, 0, false, err
	default:
		rec, err := kv.DecodeRepo(v)
		if err != nil {
			return false, 0, false, err
		}
		known, created = true, rec.Created
	}
	for _, p := range [][]byte{kv.ManifestPrefix(repo), kv.TagPrefix(repo), kv.LinkPrefix(repo)} {
		some, err := hasAny(t, p)
		if err != nil || some {
			return false, created, known, err
		}
	}
	return true, created, known, nil
}

// uploads expires abandoned upload sessions.
func (r *run) uploads() error {
	cutoff := r.rep.Started.Add(-r.c.o.UploadExpiry).UnixNano()
	type session struct {
		id  string
		rec kv.UploadRecord
	}
	var old []session
	err := r.c.kv.View(r.ctx, func(t kv.Reader) error {
		return t.Scan(kv.UploadPrefix(), nil, func(k, v []byte) error {
			rec, err := kv.DecodeUpload(v)
			if err != nil {
				return err
			}
			if rec.Started < cutoff {
				old = append(old, session{kv.Suffix(k, kv.UploadPrefix()), rec})
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, s := range old {
		size, fresh, err := r.staging(s.id, cutoff)
		if err != nil {
			return err
		}
		if fresh {
			continue // written to recently: a slow upload, not an abandoned one
		}
		if r.dry {
			r.count(func(rep *Report) { rep.UploadsExpired++; rep.UploadBytes += size })
			continue
		}
		gone := false
		err = r.c.kv.Update(r.ctx, func(t kv.Txn) error {
			gone = false
			v, err := t.Get(kv.UploadKey(s.id))
			if errors.Is(err, kv.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			rec, err := kv.DecodeUpload(v)
			if err != nil {
				return err
			}
			if rec.Offset != s.rec.Offset || rec.Started != s.rec.Started {
				return nil // progressed since we looked
			}
			gone = true
			return t.Delete(kv.UploadKey(s.id))
		})
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		if gone {
			if err := r.c.blobs.RemoveStaging(r.ctx, s.id); err != nil {
				return err
			}
			r.count(func(rep *Report) { rep.UploadsExpired++; rep.UploadBytes += size })
		}
	}
	return r.strayStaging(cutoff)
}

// staging returns the size of upload id's staging file and whether it was
// modified at or after cutoff.
func (r *run) staging(id string, cutoff int64) (int64, bool, error) {
	f, err := r.c.blobs.StatStaging(r.ctx, id)
	if errors.Is(err, blobstore.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return f.Size, f.Modified.UnixNano() >= cutoff, nil
}

// strayStaging removes staging files older than cutoff that belong to no
// session: a monolithic upload cut short by a crash, or a session whose
// record went first.
func (r *run) strayStaging(cutoff int64) error {
	return r.c.blobs.WalkStaging(r.ctx, func(f blobstore.StagingFile) error {
		if f.Modified.UnixNano() >= cutoff {
			return nil
		}
		open, err := kv.Read(r.ctx, r.c.kv, func(t kv.Reader) (bool, error) { return t.Has(kv.UploadKey(f.ID)) })
		if err != nil || open {
			return err
		}
		if !r.dry {
			if err := r.c.blobs.RemoveStaging(r.ctx, f.ID); err != nil {
				return err
			}
		}
		r.count(func(rep *Report) { rep.UploadsExpired++; rep.UploadBytes += f.Size })
		return nil
	})
}

// ExpireUploads runs only the upload-expiry step: the job that runs more
// often than a whole collection.
func (c *Collector) ExpireUploads(ctx context.Context, o RunOptions) (*Report, error) {
	r := newRun(ctx, c, o)
	err := r.uploads()
	r.rep.Duration = c.o.Now().Sub(r.rep.Started)
	return r.rep, err
}
