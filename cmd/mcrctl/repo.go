package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

func repoCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:  "repo",
		Usage: "list, inspect and delete repositories",
		Commands: []*cli.Command{
			{
				Name:  "ls",
				Usage: "list the repositories you may pull",
				Flags: listFlags(),
				Action: withClient(s, 0, "", func(ctx context.Context, cmd *cli.Command, c *client, _ []string) error {
					return listAll(ctx, cmd, s, c, apiv1.Prefix+"/repositories", nil, func(p *apiv1.RepositoryPage) (*[]apiv1.Repository, *string) { return &p.Repositories, &p.Next },
						[]string{"NAME", "TAGS", "MANIFESTS", "SIZE", "LAST PUSH"},
						func(r apiv1.Repository) []any {
							return []any{r.Name, r.Tags, r.Manifests, humanBytes(r.SizeBytes), fmtTimePtr(r.LastPush)}
						})
				}),
			},
			{
				Name:      "show",
				Usage:     "show one repository",
				ArgsUsage: "REPO",
				Action:    callAction(s, 1, "REPO", "GET", func(args []string) string { return repoPath(args[0]) }, printRepository),
			},
			{
				Name:      "rm",
				Usage:     "delete a repository: every tag, manifest and link (blobs go at the next GC)",
				ArgsUsage: "REPO",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "wait", Usage: "wait until the deletion job ends"},
				},
				Action: withClient(s, 1, "REPO", func(ctx context.Context, cmd *cli.Command, c *client, args []string) error {
					name := args[0]
					var job apiv1.Job
					if err := c.do(ctx, "DELETE", repoPath(name), nil, nil, &job); err != nil {
						return err
					}
					kind := job.Kind
					if kind == "" {
						kind = "repo-delete:" + name
					}
					return finishJob(ctx, cmd, s, job, func(ctx context.Context) (apiv1.Job, error) {
						var j apiv1.Job
						err := c.do(ctx, "GET", apiv1.Prefix+"/jobs/"+escapeSegments(kind), nil, nil, &j)
						return j, err
					})
				}),
			},
		},
	}
}

func printRepository(cmd *cli.Command, s *streams, r apiv1.Repository) error {
	return printFields(cmd, s, r, func(tw io.Writer) {
		row(tw, "name", r.Name)
		row(tw, "created", fmtTime(r.Created))
		row(tw, "tags", r.Tags)
		row(tw, "manifests", r.Manifests)
		row(tw, "size", fmt.Sprintf("%s (%d bytes)", humanBytes(r.SizeBytes), r.SizeBytes))
		row(tw, "last push", fmtTimePtr(r.LastPush))
	})
}

func tagCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:  "tag",
		Usage: "list and delete tags",
		Commands: []*cli.Command{
			{
				Name:      "ls",
				Usage:     "list a repository's tags",
				ArgsUsage: "REPO",
				Flags:     listFlags(),
				Action: withClient(s, 1, "REPO", func(ctx context.Context, cmd *cli.Command, c *client, args []string) error {
					return listAll(ctx, cmd, s, c, repoPath(args[0], "tags"), nil, func(p *apiv1.TagPage) (*[]apiv1.Tag, *string) { return &p.Tags, &p.Next },
						[]string{"TAG", "DIGEST"},
						func(t apiv1.Tag) []any { return []any{t.Name, t.Digest} })
				}),
			},
			{
				Name:      "rm",
				Usage:     "delete a tag (the manifest stays)",
				ArgsUsage: "REPO TAG | REPO:TAG",
				Action: withChecked(s, tagArgs, func(ctx context.Context, cmd *cli.Command, c *client, rt [2]string) error {
					repo, tag := rt[0], rt[1]
					if err := c.do(ctx, "DELETE", repoPath(repo, "tags", tag), nil, nil, nil); err != nil {
						return err
					}
					return printDone(cmd, s, map[string]string{"deleted": repo + ":" + tag}, "deleted tag %s:%s\n", repo, tag)
				}),
			},
		},
	}
}

// tagArgs reads the repository and tag of tag rm: REPO TAG, or REPO:TAG.
func tagArgs(cmd *cli.Command) ([2]string, error) {
	switch cmd.NArg() {
	case 1:
		repo, tag, ok := splitRepoTag(cmd.Args().First())
		if !ok {
			return [2]string{}, usagef("%q is not REPO:TAG", cmd.Args().First())
		}
		return [2]string{repo, tag}, nil
	case 2:
		return [2]string{cmd.Args().Get(0), cmd.Args().Get(1)}, nil
	}
	return [2]string{}, usagef("tag rm takes REPO TAG or REPO:TAG")
}

// splitRepoTag splits REPO:TAG at the colon after the last slash.
func splitRepoTag(s string) (string, string, bool) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i < strings.LastIndexByte(s, '/') || i == len(s)-1 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

func manifestCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:  "manifest",
		Usage: "list and inspect manifests",
		Commands: []*cli.Command{
			{
				Name:      "ls",
				Usage:     "list a repository's manifests",
				ArgsUsage: "REPO",
				Flags:     listFlags(),
				Action: withClient(s, 1, "REPO", func(ctx context.Context, cmd *cli.Command, c *client, args []string) error {
					return listAll(ctx, cmd, s, c, repoPath(args[0], "manifests"), nil, func(p *apiv1.ManifestPage) (*[]apiv1.Manifest, *string) { return &p.Manifests, &p.Next },
						[]string{"DIGEST", "MEDIA TYPE", "SIZE", "CREATED", "TAGS"},
						func(m apiv1.Manifest) []any {
							return []any{m.Digest, m.MediaType, m.Size, fmtTime(m.Created), orDash(strings.Join(m.Tags, ","))}
						})
				}),
			},
			{
				Name:      "show",
				Usage:     "show a manifest by tag or digest",
				ArgsUsage: "REPO REF",
				Action: withClient(s, 2, "REPO REF", func(ctx context.Context, cmd *cli.Command, c *client, args []string) error {
					repo, ref := args[0], args[1]
					digest := ref
					if !strings.Contains(ref, ":") { // a tag: digests are algorithm:hex
						var t apiv1.Tag
						if err := c.do(ctx, "GET", repoPath(repo, "tags", ref), nil, nil, &t); err != nil {
							return err
						}
						digest = t.Digest
					}
					var m apiv1.Manifest
					if err := c.do(ctx, "GET", repoPath(repo, "manifests", digest), nil, nil, &m); err != nil {
						return err
					}
					return printManifest(cmd, s, m)
				}),
			},
		},
	}
}

// printManifest prints one manifest: its JSON, or its fields, layers,
// platforms and referrers.
func printManifest(cmd *cli.Command, s *streams, m apiv1.Manifest) error {
	return printFields(cmd, s, m, func(tw io.Writer) {
		row(tw, "digest", m.Digest)
		row(tw, "media type", m.MediaType)
		if m.ArtifactType != "" {
			row(tw, "artifact type", m.ArtifactType)
		}
		row(tw, "size", m.Size)
		row(tw, "created", fmtTime(m.Created))
		row(tw, "tags", orDash(strings.Join(m.Tags, ",")))
		if m.Subject != "" {
			row(tw, "subject", m.Subject)
		}
		if m.Config != nil {
			row(tw, "config", fmt.Sprintf("%s %s (%d bytes)", m.Config.MediaType, m.Config.Digest, m.Config.Size))
		}
		for i, l := range m.Layers {
			row(tw, fmt.Sprintf("layer %d", i), fmt.Sprintf("%s %s (%s)", l.MediaType, l.Digest, humanBytes(l.Size)))
		}
		for _, p := range m.Platforms {
			plat := "-"
			if p.Platform != nil {
				plat = p.Platform.OS + "/" + p.Platform.Architecture
				if p.Platform.Variant != "" {
					plat += "/" + p.Platform.Variant
				}
			}
			row(tw, "platform "+plat, p.Digest)
		}
		for _, r := range m.Referrers {
			row(tw, "referrer", fmt.Sprintf("%s %s", orDash(r.ArtifactType), r.Digest))
		}
	})
}
