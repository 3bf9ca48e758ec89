package main

import (
	"context"
	"net/url"

	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

func uploadCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:  "upload",
		Usage: "list and remove open blob upload sessions",
		Commands: []*cli.Command{
			{
				Name:  "ls",
				Usage: "list the open upload sessions",
				Flags: listFlags(&cli.StringFlag{Name: "repo", Usage: "only the sessions of this repository"}),
				Action: withClient(s, 0, "", func(ctx context.Context, cmd *cli.Command, c *client, _ []string) error {
					q := url.Values{}
					if repo := cmd.String("repo"); repo != "" {
						q.Set("repository", repo)
					}
					return listAll(ctx, cmd, s, c, apiv1.Prefix+"/uploads", q, func(p *apiv1.UploadPage) (*[]apiv1.Upload, *string) { return &p.Uploads, &p.Next },
						[]string{"ID", "REPOSITORY", "BYTES", "STARTED", "LAST WRITE"},
						func(u apiv1.Upload) []any {
							return []any{u.ID, u.Repository, humanBytes(u.Bytes), fmtTime(u.Started), fmtTimePtr(u.LastWrite)}
						})
				}),
			},
			{
				Name:      "rm",
				Usage:     "remove an upload session and its staging file (its client's next request gets BLOB_UPLOAD_UNKNOWN)",
				ArgsUsage: "ID",
				Action:    deleteAction(s, "ID", func(id string) string { return apiv1.Prefix + "/uploads/" + url.PathEscape(id) }, "removed upload %s\n"),
			},
		},
	}
}
