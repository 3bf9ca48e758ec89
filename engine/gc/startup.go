package gc

import (
	"context"
	"errors"
	"math"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// AfterCrash is what Startup repaired and removed.
type AfterCrash struct {
	// Recovered are file deletions of an interrupted sweep finished.
	Recovered int `json:"recovered"`
	// SessionsDropped are upload sessions whose staging file was missing
	// or shorter than their record: the bytes they acknowledged are gone.
	SessionsDropped int `json:"sessions_dropped"`
	// SessionsTruncated are sessions whose staging file held bytes past
	// their recorded offset (a crash between the write and the record);
	// TruncatedBytes is what was cut.
	SessionsTruncated int   `json:"sessions_truncated"`
	TruncatedBytes    int64 `json:"truncated_bytes"`
	// Staging files belonged to no session.
	Staging      int   `json:"staging_files"`
	StagingBytes int64 `json:"staging_bytes"`
	// Orphans are blob files without a record.
	Orphans     int   `json:"orphans"`
	OrphanBytes int64 `json:"orphan_bytes"`
}

// Startup cleans up after a crash, before the registry serves: it
// finishes interrupted sweeps (as Recover), reconciles every upload
// session with its staging file, and removes at once, with no grace
// period, the staging files of no session and the blob files of no
// record.
//
// That is safe only because nothing else runs yet: every upload a client
// was told succeeded has its blob record (a 201 follows the commit) and
// every live session its u/ record (a 202 follows it), so a file without
// either was left by a request the crash cut short, and no client can
// hold a reference to it. A running registry must wait for the grace
// period instead (run.orphans), since there a file without a record may
// be an upload between its rename and its commit.
func (c *Collector) Startup(ctx context.Context) (AfterCrash, error) {
	var out AfterCrash
	if !c.running.CompareAndSwap(false, true) {
		return out, ErrRunning
	}
	defer c.running.Store(false)
	r := newRun(ctx, c, RunOptions{})
	r.cutoff, r.fileCutoff = math.MaxInt64, math.MaxInt64 // everything is old enough
	// Nothing is served yet, so there is nothing to leave the CPU to:
	// pacing (Options.Duty) would only delay the start.
	r.pace = newPacer(0)
	err := r.recoverTombstones()
	if err == nil {
		err = r.sessions(&out)
	}
	if err == nil {
		err = r.strayStaging(r.cutoff)
	}
	if err == nil {
		err = r.orphans()
	}
	out.Recovered = r.rep.Recovered
	out.Staging, out.StagingBytes = r.rep.UploadsExpired, r.rep.UploadBytes
	out.Orphans, out.OrphanBytes = r.rep.Orphans, r.rep.OrphanBytes
	return out, err
}

// sessions makes every upload session's staging file match its record:
// bytes past the recorded offset are cut off; a session whose file holds
// fewer bytes than recorded is removed. A session with nothing recorded
// needs no file (a POST not followed by a PATCH yet). Only a store whose
// staging can outgrow its record (local files: blobstore.StagingTrimmer)
// needs this; on S3 the record's part list is the truth.
func (r *run) sessions(out *AfterCrash) error {
	trim, ok := r.c.blobs.(blobstore.StagingTrimmer)
	if !ok {
		return nil
	}
	recs := map[string]int64{}
	err := r.c.kv.View(r.ctx, func(t kv.Reader) error {
		return t.Scan(kv.UploadPrefix(), nil, func(k, v []byte) error {
			rec, err := kv.DecodeUpload(v)
			if err != nil {
				return err
			}
			recs[kv.Suffix(k, kv.UploadPrefix())] = rec.Offset
			return nil
		})
	})
	if err != nil {
		return err
	}
	for id, offset := range recs {
		size, err := trim.StagingSize(id)
		missing := errors.Is(err, blobstore.ErrNotFound)
		if err != nil && !missing {
			return err
		}
		err = nil
		switch {
		case missing && offset == 0:
		case missing || size < offset:
			err = r.c.kv.Update(r.ctx, func(t kv.Txn) error { return t.Delete(kv.UploadKey(id)) })
			if err == nil {
				err = r.c.blobs.RemoveStaging(r.ctx, id)
			}
			out.SessionsDropped++
		case size > offset:
			err = trim.TruncateStaging(id, offset)
			out.SessionsTruncated++
			out.TruncatedBytes += size - offset
		}
		if err != nil {
			return err
		}
	}
	return nil
}
