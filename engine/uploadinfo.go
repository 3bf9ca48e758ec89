package engine

import (
	"context"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// The operator's view of upload sessions (the admin API): list them, see
// what they weigh, remove one. Sessions are read from their records, the
// same state the distribution API serves, so a removed session is unknown
// to its client's next request.

// UploadInfo is an open upload session.
type UploadInfo struct {
	ID   string
	Repo string
	// Bytes are the bytes recorded: durable, hashed, and what GET on the
	// session reports.
	Bytes   int64
	Started time.Time
	// LastWrite is when bytes were last recorded; zero before the first.
	LastWrite time.Time
}

// UploadTotals weigh the open sessions and the staging directory.
type UploadTotals struct {
	Sessions     int64
	SessionBytes int64 // recorded bytes of every session
	// StagingFiles and StagingBytes are what the uploads directory holds
	// on disk: the sessions' files, with any bytes past their recorded
	// offsets, and the files of whole-blob uploads in flight.
	StagingFiles int64
	StagingBytes int64
}

// UploadInfos lists up to n sessions in id order after the id after; with
// repo set, only that repository's. It also says whether more follow.
func (r *Registry) UploadInfos(ctx context.Context, repo, after string, n int) ([]UploadInfo, bool, error) {
	var out []UploadInfo
	more := false
	err := r.kv.View(ctx, func(t kv.Reader) error {
		return t.Scan(kv.UploadPrefix(), []byte(after), func(k, v []byte) error {
			rec, err := kv.DecodeUpload(v)
			if err != nil {
				return err
			}
			if repo != "" && rec.Repo != repo {
				return nil
			}
			if len(out) == n {
				more = true
				return kv.ErrStop
			}
			out = append(out, uploadInfo(kv.Suffix(k, kv.UploadPrefix()), rec))
			return nil
		})
	})
	return out, more, err
}

// UploadInfo returns session id, whatever its repository.
func (r *Registry) UploadInfo(ctx context.Context, id string) (UploadInfo, error) {
	rec, err := r.readUpload(ctx, id)
	if err != nil {
		return UploadInfo{}, err
	}
	return uploadInfo(id, rec), nil
}

func uploadInfo(id string, rec kv.UploadRecord) UploadInfo {
	info := UploadInfo{ID: id, Repo: rec.Repo, Bytes: rec.Offset, Started: time.Unix(0, rec.Started).UTC()}
	if rec.Updated > 0 {
		info.LastWrite = time.Unix(0, rec.Updated).UTC()
	}
	return info
}

// RemoveUpload ends session id whatever its repository: its record, then
// its staging file. A session a request is writing right now is refused
// (Conflict): removing the file under the writer would leave its bytes
// nowhere; the request ends, or is cut off when idle, and the removal can
// be retried.
func (r *Registry) RemoveUpload(ctx context.Context, id string) (UploadInfo, error) {
	info, err := r.UploadInfo(ctx, id)
	if err != nil {
		return info, err
	}
	if !r.claims.claim(id) {
		return info, errUploadInUse(id)
	}
	defer r.claims.release(id)
	return info, r.dropUpload(ctx, id)
}

// UploadTotals counts the sessions from one snapshot and the staging
// files on disk.
func (r *Registry) UploadTotals(ctx context.Context) (UploadTotals, error) {
	var tot UploadTotals
	err := r.kv.View(ctx, func(t kv.Reader) error {
		return t.Scan(kv.UploadPrefix(), nil, func(_, v []byte) error {
			rec, err := kv.DecodeUpload(v)
			tot.Sessions++
			tot.SessionBytes += rec.Offset
			return err
		})
	})
	if err != nil {
		return tot, err
	}
	err = r.blobs.WalkStaging(ctx, func(f blobstore.StagingFile) error {
		tot.StagingFiles++
		tot.StagingBytes += f.Size
		return nil
	})
	return tot, err
}
