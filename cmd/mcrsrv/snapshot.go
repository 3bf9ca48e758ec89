package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/snapshot"
	"git.wntrmute.dev/kyle/mcr/kv"
)

func snapshotCommand() *cli.Command {
	return &cli.Command{
		Name:  "snapshot",
		Usage: "write a consistent snapshot of a stopped server's data directory",
		Description: "Writes the metadata as one backup stream (Badger's format, from either metadata store), every blob it references (hard-linked\n" +
			"when on the same filesystem, copied otherwise; read out of the bucket with storage.backend s3) and a manifest.json\n" +
			"listing them, into an empty or new directory. Restore it with `mcrsrv restore`. See docs/operations.md.",
		Flags: configFlags("TOML configuration file (for the data directory)",
			&cli.StringFlag{Name: "to", Usage: "snapshot directory (must be empty or absent)", Required: true},
		),
		Action: configAction(nil, func(ctx context.Context, cmd *cli.Command, c Config) error {
			return offlineSnapshot(ctx, c, cmd.String("to"), cmd.Root().Writer)
		}),
	}
}

func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:  "restore",
		Usage: "restore a snapshot into a new data directory",
		Description: "Loads the snapshot's metadata into an empty or new data directory (or an empty PostgreSQL database), copies its\n" +
			"blobs (into the data directory, or into an empty bucket with storage.backend s3) and verifies every blob's digest\n" +
			"and size. Point a server at the restored stores afterwards.",
		Flags: configFlags("TOML configuration file (for the data directory)",
			&cli.StringFlag{Name: "from", Usage: "snapshot directory written by `mcrsrv snapshot`", Required: true},
		),
		Action: configAction(nil, func(ctx context.Context, cmd *cli.Command, c Config) error {
			return restoreSnapshot(ctx, c, cmd.String("from"), cmd.Root().Writer)
		}),
	}
}

// offlineSnapshot snapshots c's registry into to. Badger's directory lock
// refuses a store a server still holds (the admin API snapshots a running
// one); PostgreSQL's backup is one read snapshot, safe either way.
func offlineSnapshot(ctx context.Context, c Config, to string, w io.Writer) error {
	data := c.Data
	store, err := openStopped(ctx, c, zerolog.Nop(), "", "stop it, or snapshot through the admin API")
	if err != nil {
		return err
	}
	defer store.Close()
	// The configured blob store: with S3 the blobs are read out of the
	// bucket into the snapshot, which is then whole on its own.
	blobs, err := c.Storage.openBlobs(data, nil)
	if err != nil {
		return err
	}
	b, ok := store.(kv.Backuper)
	if !ok {
		return errNoBackup
	}
	m, err := snapshot.Create(ctx, b, blobs, to)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "snapshot of %s written to %s: %d blobs (%d bytes; %d linked, %d copied), metadata %d bytes\n",
		data, to, len(m.Blobs), m.Bytes(), m.Linked, m.Copied, m.BackupSize)
	return nil
}

// restoreSnapshot restores from into the empty or absent data directory of
// c, its metadata store (Badger's inside it, or an empty PostgreSQL
// database) and its blob store (the data directory, or an S3 bucket or
// prefix that holds no blob). On failure it empties data and the bucket
// again, so that a retry starts clean; a PostgreSQL restore is one
// transaction.
func restoreSnapshot(ctx context.Context, c Config, from string, w io.Writer) (err error) {
	data := c.Data
	if err := snapshot.EmptyDir(data); err != nil {
		return fmt.Errorf("%w (restore only into a new data directory)", err)
	}
	manifest, err := snapshot.ReadManifest(from)
	if err != nil {
		return err
	}
	var blobs blobstore.Store // local files are opened once data exists
	if c.Storage.Backend == backendS3 {
		if blobs, err = c.Storage.openBlobs(data, nil); err != nil {
			return err
		}
		if err := noBlobs(ctx, blobs); err != nil {
			return err
		}
		// Every blob in the bucket is the restore's: a failed restore
		// removes them, so that a retry starts from an empty bucket.
		defer func() {
			if err != nil {
				for _, b := range manifest.Blobs {
					_ = blobs.Delete(context.WithoutCancel(ctx), b.Digest)
				}
			}
		}()
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			ents, _ := os.ReadDir(data)
			for _, e := range ents {
				_ = os.RemoveAll(filepath.Join(data, e.Name()))
			}
		}
	}()
	opened, err := openMetadata(ctx, c, false, zerolog.Nop())
	if err != nil {
		return err
	}
	store, ok := opened.(snapshot.Target)
	if !ok {
		_ = opened.Close()
		return errNoBackup
	}
	closed := false
	defer func() {
		if !closed {
			_ = store.Close()
		}
	}()
	if blobs == nil {
		if blobs, err = blobstore.Open(data, nil); err != nil {
			return err
		}
	}
	m, err := snapshot.Restore(ctx, from, store, blobs)
	if err != nil {
		return err
	}
	rep, err := audit.Verify(ctx, store)
	if err != nil {
		return err
	}
	closed = true
	if err := store.Close(); err != nil {
		return err
	}
	fmt.Fprintf(w, "restored %s into %s: %d blobs (%d bytes), every digest verified\n", from, data, len(m.Blobs), m.Bytes())
	if rep.OK() {
		fmt.Fprintf(w, "audit log: %d events, hash chain intact (head %s)\n", rep.Checked, rep.Head)
	} else {
		fmt.Fprintf(w, "WARNING: audit log hash chain broken at event %d: %s\n", rep.Broken.Seq, rep.Broken.Reason)
	}
	return nil
}

// errHasBlob stops the walk of noBlobs at the first blob.
var errHasBlob = errors.New("the blob store holds blobs")

// noBlobs refuses a blob store that holds any blob: a restore goes into a
// new bucket (or prefix), as it goes into a new data directory, so that
// nothing of another registry mixes with the snapshot's.
func noBlobs(ctx context.Context, blobs blobstore.Store) error {
	err := blobs.Walk(ctx, func(digest.Digest) error { return errHasBlob })
	if errors.Is(err, errHasBlob) {
		return fmt.Errorf("restore only into an empty bucket (or a new storage.s3.prefix): %w", err)
	}
	return err
}
