// Package snapshot writes and restores consistent copies of a registry:
// the metadata store as one Badger backup stream, plus every blob its b/
// records reference, plus a manifest that lists them.
//
//	<dir>/
//	├── manifest.json     format, time, schema version, backup hash, blobs
//	├── meta.backup       the metadata store's backup stream (kv.Backuper, Badger's format; one read snapshot)
//	└── blobs/<alg>/<2 hex>/<hex>
//
// The blob list is read from the backup itself (loaded into an in-memory
// store), so the manifest matches the metadata exactly, whatever was
// written meanwhile. Blob files are hard-linked when the snapshot is on the
// data directory's filesystem (blobs are immutable, so a link is a copy)
// and copied otherwise. manifest.json is written last: a directory without
// it is an unfinished snapshot. Restore verifies the backup's hash and
// every blob's digest and size before the data directory is used.
package snapshot
