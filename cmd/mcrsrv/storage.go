package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/dustin/go-humanize"
	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3store"
)

// StorageConfig says how the data directory is written
// (docs/operations.md).
type StorageConfig struct {
	// Sync is how an acknowledged write is made durable. "group" (the
	// default) syncs the data directory's filesystem once for every
	// blob write waiting at that moment (blobstore.Barrier, Linux's
	// syncfs), and Badger's logs once for every metadata commit waiting
	// (kv.Options.GroupSync);
	// "file" fsyncs each file and directory written and has Badger fsync
	// each commit. Both make a 2xx mean on disk; group does it with a
	// fraction of the disk flushes under concurrent pushes, but also
	// flushes whatever else is dirty on that filesystem, so it wants the
	// data directory on a filesystem of its own. Where syncfs is missing
	// (anything but Linux) group falls back to file.
	Sync string `toml:"sync"`
	// Backend is where blob bytes live: "fs" (the default), files under
	// the data directory; or "s3", the bucket of storage.s3 (metadata
	// stays where metadata.backend says).
	Backend string `toml:"backend"`
	// S3 is the bucket used when storage.backend is "s3".
	S3 S3Config `toml:"s3"`
	// MinFree is the floor of free space on each filesystem mcr writes
	// (the data directory's and the metadata directory's): below it,
	// uploads, manifest pushes and mounts are refused with 507 while
	// pulls, deletes and GC go on. A percentage of the filesystem, an
	// amount, or both ("2%, 1GiB": whichever is smaller); never less
	// than 32 MiB, what the metadata store may write at once.
	MinFree ByteFloor `toml:"min_free"`
	// MinFreeInodes is the floor of free inodes, written the same way
	// with a count ("1%, 10000"). Every blob and staging file is one.
	MinFreeInodes InodeFloor `toml:"min_free_inodes"`
	// Reserve is the size of the file preallocated in the metadata
	// directory and handed to the metadata store when its filesystem
	// goes below the floor, so that Badger's memory-mapped writes
	// (memtable flushes, compaction, a clean shutdown, the next start)
	// never meet a full disk, which would kill the process. 0 is none.
	Reserve Size `toml:"reserve"`
}

// S3Config is an S3-compatible bucket (docs/operations.md, "Blobs on S3").
type S3Config struct {
	// Endpoint is the store's URL, e.g. "https://s3.example.net"; empty
	// means the provider's default endpoint for the region.
	Endpoint string `toml:"endpoint"`
	// Bucket must exist; mcr creates no bucket.
	Bucket string `toml:"bucket"`
	// Region is the bucket's region (signing needs one; any value for
	// stores that ignore it).
	Region string `toml:"region"`
	// Prefix is put before every key, e.g. "mcr/", to share a bucket.
	Prefix string `toml:"prefix"`
	// AccessKeyID and SecretAccessKey are the credentials; when both are
	// empty AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are used.
	AccessKeyID     string `toml:"access_key_id"`
	SecretAccessKey string `toml:"secret_access_key"`
	// PartSize is the multipart part size (at least 5 MiB): an upload
	// holds at most one part in memory.
	PartSize Size `toml:"part_size"`
	// Redirect answers blob GETs with 307 to a presigned URL of the
	// object, so the bytes do not pass through mcr; off streams them.
	Redirect bool `toml:"redirect"`
}

const (
	backendFS = "fs"
	backendS3 = "s3"
)

const (
	syncGroup = "group"
	syncFile  = "file"
)

func (s StorageConfig) validate() []error {
	var errs []error
	if s.Sync != syncGroup && s.Sync != syncFile {
		errs = append(errs, fmt.Errorf("storage.sync %q: want %q or %q", s.Sync, syncGroup, syncFile))
	}
	switch s.Backend {
	case backendFS:
	case backendS3:
		if s.S3.Bucket == "" {
			errs = append(errs, errors.New("storage.s3.bucket: required when storage.backend is \"s3\""))
		}
		if s.S3.Region == "" {
			errs = append(errs, errors.New("storage.s3.region: required when storage.backend is \"s3\""))
		}
		if s.S3.Endpoint != "" {
			if u, err := url.Parse(s.S3.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fmt.Errorf("storage.s3.endpoint %q: want an http:// or https:// URL", s.S3.Endpoint))
			}
		}
		if (s.S3.AccessKeyID == "") != (s.S3.SecretAccessKey == "") {
			errs = append(errs, errors.New("storage.s3.access_key_id and storage.s3.secret_access_key: set both or neither"))
		}
		if s.S3.PartSize.Bytes < s3store.MinPartSize {
			errs = append(errs, fmt.Errorf("storage.s3.part_size %d: at least %d (5 MiB), S3's smallest part", s.S3.PartSize.Bytes, s3store.MinPartSize))
		}
	default:
		errs = append(errs, fmt.Errorf("storage.backend %q: want %q or %q", s.Backend, backendFS, backendS3))
	}
	if s.Reserve.Bytes != 0 && s.Reserve.Bytes < minReserve {
		errs = append(errs, fmt.Errorf("storage.reserve %d bytes: want 0 (none) or at least %s", s.Reserve.Bytes, humanize.IBytes(minReserve)))
	}
	return errs
}

// openBlobs opens the blob store storage.backend names. An S3 bucket that
// does not answer yet is not an error: the server starts, /readyz says
// not ready, and requests that need it get 503 until it answers.
func (s StorageConfig) openBlobs(data string, barrier *blobstore.Barrier) (blobstore.Store, error) {
	if s.Backend != backendS3 {
		return blobstore.Open(data, barrier)
	}
	st, err := s3store.New(s3store.Config{Endpoint: s.S3.Endpoint, Bucket: s.S3.Bucket, Region: s.S3.Region,
		Prefix: s.S3.Prefix, AccessKeyID: s.S3.AccessKeyID, SecretAccessKey: s.S3.SecretAccessKey,
		PartSize: int64(s.S3.PartSize.Bytes), Redirect: s.S3.Redirect})
	if err != nil {
		return nil, err
	}
	return st.Port(), nil
}

// barrier returns the group-commit barrier over the data directory and the
// metadata directory inside it (which may be another filesystem), or nil
// when writes are fsynced one by one.
func (s StorageConfig) barrier(data, meta string, log zerolog.Logger) (*blobstore.Barrier, error) {
	if s.Sync == syncFile {
		return nil, nil
	}
	if err := os.MkdirAll(meta, 0o700); err != nil {
		return nil, err
	}
	b, err := blobstore.NewBarrier(data, meta)
	if errors.Is(err, errors.ErrUnsupported) {
		log.Info().Err(err).Msg("storage.sync: group commit unavailable here; fsyncing each write")
		return nil, nil
	}
	return b, err
}
