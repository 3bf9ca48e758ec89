package blobstore

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// Store is the blob store port: what the engine, GC and snapshots need of
// a place that keeps blob bytes by digest. Two implementations exist: FS
// (local files, this package) and s3store (S3-compatible object storage).
// Both pass the shared suite in blobtest, which states the contract:
//
//   - a blob is visible under its digest only once Writer.Commit returned,
//     and then whole: never a prefix, never bytes that were not verified;
//   - Commit returns only when the blob is durable;
//   - a staging (an upload in progress) is named by its upload id, and
//     what Writer.Sync returned, recorded by the caller with the offset,
//     is enough for any process sharing the store to go on writing it;
//   - Delete of a blob, RemoveStaging of a staging that is not there are
//     not errors the caller has to handle specially (ErrNotFound / nil).
//
// Capabilities only some stores have are optional interfaces found by type
// assertion: FileOpener (an *os.File for sendfile), Presigner (redirect
// pulls to the store), StagingTrimmer (start-up repair of staging files).
type Store interface {
	// Stat returns blob d's size and when it was stored; ErrNotFound if
	// it is not there.
	Stat(ctx context.Context, d digest.Digest) (Info, error)
	// Reader opens blob d for reading; ErrNotFound (or ErrUnavailable)
	// comes from Reader itself, before the caller answers its client.
	// Seek makes the read a ranged one: only the bytes from there on are
	// fetched.
	Reader(ctx context.Context, d digest.Digest) (io.ReadSeekCloser, error)
	// Delete removes blob d. Only GC calls it, after d's record is gone.
	Delete(ctx context.Context, d digest.Digest) error
	// Walk calls fn for every stored blob, in pages: a walk over a large
	// store never holds the whole listing.
	Walk(ctx context.Context, fn func(digest.Digest) error) error

	// Stage opens upload id's staging for appending at pos.Offset, with
	// the state its last Sync returned (nil for a new staging).
	Stage(ctx context.Context, id string, pos Position) (Writer, error)
	// RemoveStaging drops upload id's staging, and everything the store
	// keeps for it (parts of a multipart upload). Absent is not an error.
	RemoveStaging(ctx context.Context, id string) error
	// StatStaging describes upload id's staging; ErrNotFound if none.
	StatStaging(ctx context.Context, id string) (StagingFile, error)
	// WalkStaging calls fn for every staging the store holds.
	WalkStaging(ctx context.Context, fn func(StagingFile) error) error
}

// ErrUnavailable marks a failure to reach the store (refused connection,
// timeout, 5xx): nothing was changed that a reader can see, and the same
// request can succeed once the store is back (503 with Retry-After).
var ErrUnavailable = errcode.New(errcode.Unavailable, "the blob store is unavailable; retry later")

// Info describes a stored blob.
type Info struct {
	Size     int64
	Modified time.Time
}

// Position is where a staging is taken up.
type Position struct {
	// Offset is the number of bytes recorded for the session. Bytes the
	// store holds past it (written by a request that failed before its
	// offset was recorded) are dropped, so a retried chunk is written
	// exactly once.
	Offset int64
	// State is what the last Writer.Sync returned.
	State []byte
	// Durable says the caller will record the staging (a PATCH): its
	// existence must survive a crash once Sync returned. A staging that
	// is committed or dropped within one request does not need that.
	Durable bool
}

// Writer appends to a staging.
type Writer interface {
	io.Writer
	// Sync makes what was written durable and returns the store's state
	// of the staging, which the caller records with the new offset and
	// hands back in Position.State to go on.
	Sync(ctx context.Context) ([]byte, error)
	// Reread makes what was written durable and reads the whole staging
	// back, for a digest other than the caller's running sha256 (sha512).
	// On S3 this completes the multipart upload: the writer can then only
	// Commit, and the session cannot take more bytes.
	Reread(ctx context.Context) (io.ReadCloser, error)
	// Commit makes the staged bytes blob d, durably. The caller has
	// verified them against d. If d is already stored the staging is
	// dropped (content-addressed bytes are identical) and existed is
	// true: that file may be one a collection is deleting (docs/gc.md),
	// which the caller rules out before recording d. Otherwise the blob
	// is this Commit's own, placed now: its modification time (Info) is
	// the time of the Commit.
	Commit(ctx context.Context, d digest.Digest) (existed bool, err error)
	// Close releases the writer; the staging stays until Commit or
	// RemoveStaging.
	Close() error
}

// FileOpener is a store whose blobs are local files: the HTTP layer hands
// them to sendfile.
type FileOpener interface {
	Open(d digest.Digest) (*os.File, error)
}

// Presigner is a store that can send a client to fetch blob d itself,
// with a URL valid for a short time.
type Presigner interface {
	PresignGet(ctx context.Context, d digest.Digest) (string, error)
}

// StrayMultiparts is a store whose blob writes can leave an unfinished
// multipart upload at a blob's key, outside the staging area that
// WalkStaging lists: S3's multipart copy of a large blob whose abort
// failed (s3store). Upload expiry (engine/gc) removes those started
// before its cutoff; dry counts them without removing any.
type StrayMultiparts interface {
	AbortStrayMultiparts(ctx context.Context, before time.Time, dry bool) (int, error)
}

// StagingTrimmer is a store whose staging can hold bytes past a session's
// recorded offset after a crash, which start-up cuts off (engine/gc).
type StagingTrimmer interface {
	StagingSize(id string) (int64, error)
	TruncateStaging(id string, n int64) error
}
