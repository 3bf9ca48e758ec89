package snapshot

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/durable"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// Format is the version of the snapshot layout.
const Format = 1

// File names inside a snapshot directory.
const (
	ManifestFile = "manifest.json"
	BackupFile   = "meta.backup"
	BlobsDir     = "blobs"
)

// Blob is one blob of a snapshot.
type Blob struct {
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
}

// Manifest describes a snapshot.
type Manifest struct {
	Format        int       `json:"format"`
	Created       time.Time `json:"created"`
	SchemaVersion int       `json:"schema_version"`
	BackupSHA256  string    `json:"backup_sha256"`
	BackupSize    int64     `json:"backup_size"`
	Blobs         []Blob    `json:"blobs"`
	// Linked and Copied count how the blob files got there.
	Linked int `json:"linked"`
	Copied int `json:"copied"`
}

// Bytes is the total size of the snapshot's blobs.
func (m *Manifest) Bytes() int64 {
	var n int64
	for _, b := range m.Blobs {
		n += b.Size
	}
	return n
}

// ErrNotEmpty is returned when the target directory already has content.
var ErrNotEmpty = errcode.New(errcode.Conflict, "the snapshot's directory exists and is not empty")

// Create writes a snapshot of store and blobs into dir, which must be
// empty or absent. It is safe while the registry serves: the backup is one
// read snapshot, and blobs are immutable. A blob that garbage collection
// removes between the backup and its copy fails the snapshot (retry it).
//
// Both stores write the same backup format (kv.Backuper), so a snapshot
// of either restores into either.
func Create(ctx context.Context, store kv.Backuper, blobs blobstore.Store, dir string) (*Manifest, error) {
	if err := emptyDir(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	m := &Manifest{Format: Format, Created: time.Now().UTC(), SchemaVersion: kv.SchemaVersion}
	sum, size, err := writeBackup(ctx, store, filepath.Join(dir, BackupFile))
	if err != nil {
		return nil, err
	}
	m.BackupSHA256, m.BackupSize = sum, size
	if m.Blobs, err = backupBlobs(ctx, filepath.Join(dir, BackupFile)); err != nil {
		return nil, err
	}
	for _, b := range m.Blobs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		linked, err := place(ctx, blobs, b, dir)
		if err != nil {
			return nil, err
		}
		if linked {
			m.Linked++
		} else {
			m.Copied++
		}
	}
	if err := syncTree(filepath.Join(dir, BlobsDir)); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	err = durable.WriteFile(filepath.Join(dir, ManifestFile), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, durable.SyncDir(dir)
}

// ReadManifest reads the manifest of the snapshot in dir.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w (an unfinished snapshot has no manifest)", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("snapshot: %s: %w", ManifestFile, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("snapshot: format %d, this build reads %d", m.Format, Format)
	}
	for _, bl := range m.Blobs {
		if err := bl.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("snapshot: %s: %w", ManifestFile, err)
		}
	}
	return &m, nil
}

// Target is a store a snapshot is restored into: Badger or PostgreSQL
// (both read the one backup format).
type Target interface {
	kv.Store
	kv.Restorer
}

// Restore loads the snapshot in dir into store and blobs, which must be a
// fresh data directory's (nothing else may use them meanwhile). It checks
// the backup's hash first, verifies the digest and size of every blob as it
// copies it, and finally that the restored metadata names exactly the
// snapshot's blobs.
func Restore(ctx context.Context, dir string, store Target, blobs blobstore.Store) (*Manifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if m.SchemaVersion != kv.SchemaVersion {
		return nil, fmt.Errorf("snapshot: schema version %d, this build knows %d", m.SchemaVersion, kv.SchemaVersion)
	}
	backup := filepath.Join(dir, BackupFile)
	if sum, _, err := hashFile(backup); err != nil {
		return nil, err
	} else if sum != m.BackupSHA256 {
		return nil, fmt.Errorf("snapshot: %s is corrupt: sha256 %s, manifest says %s", BackupFile, sum, m.BackupSHA256)
	}
	f, err := os.Open(backup)
	if err != nil {
		return nil, err
	}
	err = store.Restore(ctx, f)
	_ = f.Close()
	if err != nil {
		return nil, fmt.Errorf("snapshot: loading the metadata: %w", err)
	}
	for _, b := range m.Blobs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := importBlob(ctx, blobs, filepath.Join(dir, blobPath(b.Digest)), b); err != nil {
			return nil, err
		}
	}
	got, err := listBlobs(ctx, store)
	if err != nil {
		return nil, err
	}
	if err := sameBlobs(got, m.Blobs); err != nil {
		return nil, err
	}
	return m, nil
}

// writeBackup streams store's backup to path, returning its hash and size.
func writeBackup(ctx context.Context, store kv.Backuper, path string) (string, int64, error) {
	h := sha256.New()
	var n int64
	err := durable.WriteFile(path, func(f io.Writer) error {
		cw := &counter{w: io.MultiWriter(f, h)}
		err := store.Backup(ctx, cw)
		n = cw.n
		if err != nil {
			return fmt.Errorf("snapshot: backing up the metadata: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// backupBlobs lists the blob records inside a backup by loading it into a
// throwaway store beside it: exactly what the backup holds. The store is
// on disk, not in memory: an in-memory Badger keeps every value in its
// skiplist and cannot hold a manifest over 64 KiB.
func backupBlobs(ctx context.Context, path string) ([]Blob, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".readback-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	mem, err := kv.Open(kv.Options{Dir: tmp})
	if err != nil {
		return nil, err
	}
	defer mem.Close()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := mem.Restore(ctx, f); err != nil {
		return nil, fmt.Errorf("snapshot: reading back the backup: %w", err)
	}
	return listBlobs(ctx, mem)
}

// listBlobs returns the blob records of store, in key (digest) order.
func listBlobs(ctx context.Context, store kv.Store) ([]Blob, error) {
	var out []Blob
	err := store.View(ctx, func(t kv.Reader) error {
		return t.Scan(kv.BlobPrefix(), nil, func(key, val []byte) error {
			d := digest.Digest(kv.Suffix(key, kv.BlobPrefix()))
			if err := d.Validate(); err != nil {
				return fmt.Errorf("snapshot: blob record %q: %w", key, err)
			}
			rec, err := kv.DecodeBlob(val)
			if err != nil {
				return fmt.Errorf("snapshot: blob record %s: %w", d, err)
			}
			out = append(out, Blob{Digest: d, Size: rec.Size})
			return nil
		})
	})
	return out, err
}

func sameBlobs(got, want []Blob) error {
	if len(got) != len(want) {
		return fmt.Errorf("snapshot: restored metadata has %d blobs, the manifest lists %d", len(got), len(want))
	}
	seen := make(map[Blob]bool, len(want))
	for _, b := range want {
		seen[b] = true
	}
	for _, b := range got {
		if !seen[b] {
			return fmt.Errorf("snapshot: restored blob record %s (%d bytes) is not in the manifest", b.Digest, b.Size)
		}
	}
	return nil
}

// blobPath is where blob d goes inside a snapshot: the blob store's layout.
func blobPath(d digest.Digest) string {
	h := d.Encoded()
	return filepath.Join(BlobsDir, d.Algorithm().String(), h[:2], h)
}

// place puts blob b into the snapshot in dir: a hard link when the store
// keeps local files and the link works, else a copy. It reports whether
// it linked.
func place(ctx context.Context, blobs blobstore.Store, b Blob, dir string) (bool, error) {
	info, err := blobs.Stat(ctx, b.Digest)
	if err != nil {
		return false, fmt.Errorf("snapshot: blob %s: %w", b.Digest, err)
	}
	if info.Size != b.Size {
		return false, fmt.Errorf("snapshot: blob %s has %d bytes, its record says %d", b.Digest, info.Size, b.Size)
	}
	dst := filepath.Join(dir, blobPath(b.Digest))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return false, err
	}
	var src io.ReadCloser
	if fo, ok := blobs.(blobstore.FileOpener); ok {
		f, err := fo.Open(b.Digest)
		if err != nil {
			return false, fmt.Errorf("snapshot: blob %s: %w", b.Digest, err)
		}
		if os.Link(f.Name(), dst) == nil {
			return true, f.Close()
		}
		src = f
	} else if src, err = blobs.Reader(ctx, b.Digest); err != nil {
		return false, fmt.Errorf("snapshot: blob %s: %w", b.Digest, err)
	}
	defer src.Close()
	return false, durable.WriteFile(dst, func(out io.Writer) error {
		_, err := io.Copy(out, src)
		return err
	})
}

// importBlob copies a snapshot's blob file into the blob store through a
// staging file, verifying digest and size as it goes.
func importBlob(ctx context.Context, blobs blobstore.Store, src string, b Blob) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("snapshot: blob %s: %w", b.Digest, err)
	}
	defer in.Close()
	id := newID()
	out, err := blobs.Stage(ctx, id, blobstore.Position{})
	if err != nil {
		return err
	}
	defer out.Close()
	fail := func(err error) error {
		_ = blobs.RemoveStaging(ctx, id)
		return err
	}
	v := b.Digest.Verifier()
	n, err := io.Copy(io.MultiWriter(out, v), in)
	if err != nil {
		return fail(err)
	}
	if n != b.Size || !v.Verified() {
		return fail(fmt.Errorf("snapshot: blob %s is corrupt (%d bytes, want %d; digest verified: %t)", b.Digest, n, b.Size, v.Verified()))
	}
	if _, err := out.Commit(ctx, b.Digest); err != nil {
		return fail(err)
	}
	return nil
}

// emptyDir succeeds when dir is absent or an empty directory.
func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return errcode.Wrap(errcode.Conflict, ErrNotEmpty, "%s exists and is not empty", dir)
	}
	return nil
}

// EmptyDir is emptyDir for the restore command's target.
func EmptyDir(dir string) error { return emptyDir(dir) }

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// syncTree fsyncs every directory under root (the entries of linked and
// copied blobs), then root.
func syncTree(root string) error {
	if _, err := os.Stat(root); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil || !e.IsDir() {
			return err
		}
		return durable.SyncDir(p)
	})
}
