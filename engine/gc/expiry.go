package gc

import (
	"context"
	"errors"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/kv"
)

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
			rec, err := kv.GetRecord(t, kv.UploadKey(s.id), kv.DecodeUpload)
			if errors.Is(err, kv.ErrNotFound) {
				return nil
			}
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
// record went first; and, on a store that can leave them, unfinished
// multipart uploads at blob keys (a failed copy's, blobstore.StrayMultiparts).
func (r *run) strayStaging(cutoff int64) error {
	if sm, ok := r.c.blobs.(blobstore.StrayMultiparts); ok {
		n, err := sm.AbortStrayMultiparts(r.ctx, time.Unix(0, cutoff), r.dry)
		if err != nil {
			return err
		}
		r.count(func(rep *Report) { rep.UploadsExpired += n })
	}
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
