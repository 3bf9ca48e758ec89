package main

import (
	"context"
	"encoding/json"
	"fmt"
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
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if err := wantArgs(cmd, 1, "DIR"); err != nil {
						return err
					}
					c, err := newClient(cmd, s)
					if err != nil {
						return err
					}
					var snap apiv1.Snapshot
					if err := c.doWithin(ctx, max(c.timeout, snapshotTimeout), "POST", apiv1.Prefix+"/snapshots", nil, apiv1.SnapshotRequest{Dir: cmd.Args().First()}, &snap); err != nil {
						return err
					}
					if jsonOutput(cmd) {
						return printJSON(s.Out, snap)
					}
					fmt.Fprintf(s.Out, "snapshot %s: %d blobs, %s, at %s\n", snap.Dir, snap.Blobs, humanBytes(snap.BlobBytes), fmtTime(snap.Created))
					return nil
				},
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
