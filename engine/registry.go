package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/actors"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// Options configures a Registry.
type Options struct {
	// AllowSparse accepts manifests whose blobs or child manifests are not
	// in the repository (OCI_DATA_SPARSE in the conformance suite): only the
	// ones present are linked. Off by default: a manifest that names a
	// missing blob is refused with MANIFEST_BLOB_UNKNOWN.
	AllowSparse bool
	// MailboxSize bounds each repository actor's queue; a full queue answers
	// 429 instead of piling up goroutines.
	MailboxSize int
	// ActorIdle is how long an idle repository actor lives.
	ActorIdle time.Duration
	// Streamer, when set, runs upload copies on a bounded worker pool
	// (jobs.Pool); nil copies on the request's goroutine.
	Streamer Streamer
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Space, when set, refuses writes that add data while a filesystem
	// the registry writes is below its floor (diskspace.Monitor); nil
	// watches nothing, and only ENOSPC itself becomes a 507.
	Space Space
	// TagCacheBytes bounds the memory of the cached whole tag lists
	// (TagList); 0 is DefaultTagCacheBytes, < 0 turns the cache off.
	TagCacheBytes int64
}

// Registry is the transport-free registry service. Reads go straight to a
// kv snapshot and the blob store. Manifest pushes and every deletion
// (manifest, tag, blob link) go through the repository's actor (mutate);
// blob uploads and mounts write the blob record and its link directly, in
// one transaction, guarded against GC (checkSweep) and against other
// writers of the same blob record (blobWriters). See docs/architecture.md.
type Registry struct {
	kv      kv.Store
	blobs   blobstore.Store
	actors  *actors.System[string]
	opts    Options
	now     func() time.Time
	claims  uploadClaims // the uploads a request is writing now
	writers blobWriters
	tags    *tagLists
	// bigBufSlots are the places of the pipelines that may use the
	// large buffers (bigBufs).
	bigBufSlots bigSlots
	// shared: other processes write the metadata store too (replicas on
	// PostgreSQL), so cached tag lists check its generation (taggen.go).
	shared bool
}

// New builds a Registry over an open metadata store and blob store. The
// caller owns both and closes them after Close.
func New(store kv.Store, blobs blobstore.Store, o Options) *Registry {
	if o.MailboxSize <= 0 {
		o.MailboxSize = 256
	}
	if o.ActorIdle <= 0 {
		o.ActorIdle = 30 * time.Second
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Registry{
		kv:          store,
		blobs:       blobs,
		actors:      actors.New[string](actors.Options{MailboxSize: o.MailboxSize, IdleTimeout: o.ActorIdle}),
		opts:        o,
		now:         now,
		tags:        &tagLists{limit: o.TagCacheBytes},
		bigBufSlots: make(bigSlots, bigPipelines),
		shared:      sharedStore(store),
	}
}

// Close stops the repository actors after they drain their queues.
func (r *Registry) Close(ctx context.Context) error { return r.actors.Stop(ctx) }

// ActorStats reports the live repository actors and their queued messages.
func (r *Registry) ActorStats() actors.Stats { return r.actors.Stats() }

// mutate runs fn as one transaction on repo's actor (a full mailbox is
// actors.ErrBusy, answered 429): the single writer of
// that repository's manifests and tags. blobs are the blob records fn
// rewrites; their writers' stripes are held around the transaction (see
// blobWriters), taken on the actor so that a request waiting in the
// mailbox never holds one. The repository's cached tag list is
// invalidated on the actor, after the transaction and before the answer,
// even when the caller stopped waiting (see tagLists). The actor and the
// stripes are left once the transaction is applied; the answer then waits
// for it to be durable (commit.go).
func (r *Registry) mutate(ctx context.Context, repo string, blobs []digest.Digest, fn func(kv.Txn) error) error {
	commit, durable := r.committer()
	err := r.actors.Ask(ctx, repo, func(ctx context.Context) error {
		defer r.tags.invalidate(repo)
		defer r.writers.lock(blobs...)()
		return commit(ctx, r.versioned(repo, fn))
	})
	if err != nil {
		return err
	}
	return durable()
}

// Exclusive runs fn on repo's actor: after every manifest, tag and link
// mutation of repo queued before it and before any queued after it. It is
// how maintenance jobs (engine/gc: untagged manifests, unused links, empty
// repositories) change a repository's metadata while keeping the rule that
// only its actor does. fn does its own kv transactions; the repository's
// cached tag list is invalidated when fn returns (on a shared store, for
// every replica: taggen.go).
func (r *Registry) Exclusive(ctx context.Context, repo string, fn func(context.Context) error) error {
	return r.actors.Ask(ctx, repo, func(ctx context.Context) error {
		defer r.tags.invalidate(repo)
		err := fn(ctx)
		if berr := r.bumpTags(ctx, repo); berr != nil {
			err = errors.Join(err, berr)
		}
		return err
	})
}

// checkSweep guards the transaction that records blob d against garbage
// collection deleting its file (docs/gc.md). GC deletes a blob's record
// and writes a sweep tombstone in one transaction, then deletes the file,
// then the tombstone; blobstore.Commit skips the rename when the file is
// already there. So an upload that found the file present (existed) may be
// about to record a file GC is deleting: while the tombstone exists the
// link is refused (and conflicts with GC's transaction if they overlap),
// and after it is gone a new record is written only if the file is really
// there. A file the upload's own Commit placed needs no such look: GC
// deletes a file only under a tombstone written while the file's record
// existed (never, for a file placed with no record), or left by a run
// that stopped early, and then only a file placed before the tombstone
// (gc's recoverTombstones); or an orphan older than the grace period. So
// the common case, a new blob, costs no blob store request inside the
// transaction: on S3 that request held a PostgreSQL transaction open
// across a round trip to S3 for every new blob. swept and known say
// whether the transaction found d's tombstone and d's record.
func (r *Registry) checkSweep(ctx context.Context, swept, known, existed bool, d digest.Digest) error {
	if !swept {
		if known || !existed {
			return nil
		}
		if _, err := r.blobs.Stat(ctx, d); !errors.Is(err, blobstore.ErrNotFound) {
			return err
		}
	}
	return errcode.New(errcode.BlobUploadInvalid, "blob %s was garbage-collected while it was uploaded; upload it again", d)
}

// newID returns a fresh upload id: 128 random bits in hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux (Go ≥1.24)
	return hex.EncodeToString(b[:])
}

// repoExists reports whether repo has a record.
func repoExists(t kv.Reader, repo string) (bool, error) {
	return t.Has(kv.RepoKey(repo))
}

// mustExist is NAME_UNKNOWN unless repo exists.
func mustExist(t kv.Reader, repo string) error {
	ok, err := repoExists(t, repo)
	if err == nil && !ok {
		err = nameUnknown(repo)
	}
	return err
}

// ensureRepo creates repo's record if it is missing.
func ensureRepo(t kv.Txn, repo string, now time.Time) error {
	ok, err := repoExists(t, repo)
	if err != nil || ok {
		return err
	}
	return createRepo(t, repo, now)
}

// createRepo writes repo's record, created now.
func createRepo(t kv.Txn, repo string, now time.Time) error {
	return t.Set(kv.RepoKey(repo), kv.RepoRecord{Created: now.UnixNano()}.Encode())
}

// notFound turns a kv.ErrNotFound into the given registry error and
// passes any other error through.
func notFound(err error, e *errcode.Error) error {
	if errors.Is(err, kv.ErrNotFound) {
		return e
	}
	return err
}
