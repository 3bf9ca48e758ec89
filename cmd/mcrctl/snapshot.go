package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// snapshotTimeout is the least a snapshot call is given: it copies the
// whole metadata store and links every blob.
const snapshotTimeout = 10 * time.Minute

func snapshotCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:  "snapshot",
		Usage: "take consistent snapshots of a running server (restore is offline: mcrsrv restore)",
		Commands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "write a snapshot into DIR on the server: relative to <data>/snapshots/, or absolute",
				ArgsUsage: "DIR",
				Action: withClient(s, 1, "DIR", func(ctx context.Context, cmd *cli.Command, c *client, args []string) error {
					var snap apiv1.Snapshot
					if err := c.doWithin(ctx, max(c.timeout, snapshotTimeout), "POST", apiv1.Prefix+"/snapshots", nil, apiv1.SnapshotRequest{Dir: args[0]}, &snap); err != nil {
						return err
					}
					return printDone(cmd, s, snap, "snapshot %s: %d blobs (%s; %d linked, %d copied), metadata %s, at %s\n",
						snap.Dir, snap.Blobs, humanBytes(snap.BlobBytes), snap.Linked, snap.Copied, humanBytes(snap.MetadataBytes), fmtTime(snap.Created))
				}),
			},
		},
	}
}

// printJSONLine writes v as one line of JSON: for streams of documents.
func printJSONLine(s *streams, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = s.Out.Write(append(b, '\n'))
	return err
}
