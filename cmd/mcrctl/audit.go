package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

const (
	// followWait is the long poll's wait (docs/api.md allows up to 60s).
	followWait = 30 * time.Second
	// followMargin is how much longer than its wait a long poll may take.
	followMargin = 15 * time.Second
	// followRetry is the pause after a failed long poll before the next.
	followRetry = 2 * time.Second
)

// auditFilterFlags are the filters of audit ls and tail.
func auditFilterFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "type", Usage: "event types, comma separated or repeated (push, pull, delete, login_failed, policy_denied, gc_run, ...)"},
		&cli.StringFlag{Name: "actor", Usage: "account id or name"},
		&cli.StringFlag{Name: "repository", Usage: "repository name"},
		&cli.StringFlag{Name: "digest", Usage: "digest"},
		&cli.StringFlag{Name: "outcome", Usage: "success or failure"},
		&cli.StringFlag{Name: "since", Usage: "events at or after this time: RFC 3339, or a duration ago (90m, 24h)"},
		&cli.StringFlag{Name: "until", Usage: "events before this time: RFC 3339, or a duration ago"},
	}
}

// auditQuery is the query of cmd's filters.
func auditQuery(cmd *cli.Command, now time.Time) (url.Values, error) {
	q := url.Values{}
	for _, t := range cmd.StringSlice("type") {
		q.Add("type", t)
	}
	for _, f := range []string{"actor", "repository", "digest", "outcome"} {
		if v := cmd.String(f); v != "" {
			q.Set(f, v)
		}
	}
	for _, f := range []string{"since", "until"} {
		v := cmd.String(f)
		if v == "" {
			continue
		}
		t, err := parseTimeArg(v, now)
		if err != nil {
			return nil, usagef("--%s: %v", f, err)
		}
		q.Set(f, t.UTC().Format(time.RFC3339Nano))
	}
	return q, nil
}

// auditArgs checks audit ls and tail take no arguments and reads the
// query of their filters.
func auditArgs(cmd *cli.Command) (url.Values, error) {
	if err := wantArgs(cmd, 0, ""); err != nil {
		return nil, err
	}
	return auditQuery(cmd, time.Now())
}

// parseTimeArg reads RFC 3339, or a duration before now.
func parseTimeArg(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration", v)
	}
	return now.Add(-d), nil
}

func auditCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "read, follow and verify the audit log",
		Commands: []*cli.Command{
			{
				Name:  "ls",
				Usage: "list events, oldest first",
				Flags: listFlags(auditFilterFlags()...),
				Action: withChecked(s, auditArgs, func(ctx context.Context, cmd *cli.Command, c *client, q url.Values) error {
					return listAll(ctx, cmd, s, c, apiv1.Prefix+"/audit", q, func(p *apiv1.EventPage) (*[]apiv1.Event, *string) { return &p.Events, &p.Next },
						[]string{"SEQ", "TIME", "TYPE", "OUTCOME", "ACTOR", "REMOTE", "ACTION", "REPOSITORY", "DIGEST", "DETAIL"},
						func(e apiv1.Event) []any {
							return []any{e.Seq, fmtTime(e.Time), e.Type, orDash(e.Outcome), actor(e), orDash(e.Remote), orDash(e.Action),
								orDash(e.Repository), orDash(shortDigest(e.Digest)), orDash(detailOf(e))}
						})
				}),
			},
			{
				Name:  "tail",
				Usage: "print the newest events; with -f, follow the log until interrupted (-o json: one event per line)",
				Flags: append(auditFilterFlags(),
					&cli.IntFlag{Name: "lines", Aliases: []string{"n"}, Value: 10, Usage: "how many of the newest events to print first"},
					&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new events (long poll) until interrupted"},
				),
				Action: withChecked(s, func(cmd *cli.Command) (url.Values, error) {
					q, err := auditArgs(cmd)
					if err == nil && cmd.Int("lines") < 0 {
						err = usagef("--lines must be >= 0")
					}
					return q, err
				}, func(ctx context.Context, cmd *cli.Command, c *client, q url.Values) error {
					return tail(ctx, cmd, s, c, q)
				}),
			},
			{
				Name:  "verify",
				Usage: "walk the audit hash chain; exit 1 when it is broken",
				Action: callAction(s, 0, "", "GET", func([]string) string { return apiv1.Prefix + "/audit/verify" }, func(cmd *cli.Command, s *streams, v apiv1.Verification) error {
					err := printFields(cmd, s, v, func(tw io.Writer) {
						row(tw, "ok", v.OK)
						row(tw, "events", v.Events)
						row(tw, "first", v.First)
						row(tw, "last", v.Last)
						if v.Head != "" {
							row(tw, "head", v.Head)
						}
						if v.Broken != nil {
							row(tw, "broken at", v.Broken.Seq)
							row(tw, "reason", v.Broken.Reason)
						}
					})
					if err != nil {
						return err
					}
					if !v.OK {
						msg := "the audit chain is broken"
						if v.Broken != nil {
							msg += fmt.Sprintf(" at event %d: %s", v.Broken.Seq, v.Broken.Reason)
						}
						return &codeError{code: exitError, msg: msg}
					}
					return nil
				}),
			},
		},
	}
}

// tail prints the last --lines events matching q, then, with --follow,
// asks for more with the long poll until ctx ends.
func tail(ctx context.Context, cmd *cli.Command, s *streams, c *client, q url.Values) error {
	keep := cmd.Int("lines")
	var last []apiv1.Event
	cursor := ""
	for { // walk to the end of the log, keeping the newest events
		q.Set("n", "1000")
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var p apiv1.EventPage
		if err := c.do(ctx, "GET", apiv1.Prefix+"/audit", q, nil, &p); err != nil {
			return err
		}
		last = append(last, p.Events...)
		if len(last) > keep {
			last = append([]apiv1.Event(nil), last[len(last)-keep:]...)
		}
		next := nextCursor(p, cursor)
		if len(p.Events) == 0 || next == cursor {
			break
		}
		cursor = next
	}
	for _, e := range last {
		if err := printEvent(cmd, s, e); err != nil {
			return err
		}
	}
	if !cmd.Bool("follow") {
		return nil
	}
	q.Del("n")
	q.Set("wait", strconv.Itoa(int(followWait/time.Second))+"s")
	for {
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var p apiv1.EventPage
		err := c.doWithin(ctx, followWait+followMargin, "GET", apiv1.Prefix+"/audit", q, nil, &p)
		if ctx.Err() != nil {
			return nil // interrupted: the normal end of a follow
		}
		var ae *apiError
		if errors.As(err, &ae) && ae.Status < 500 {
			return err // the request is wrong or no longer allowed: asking again will not help
		}
		if err != nil {
			fmt.Fprintf(s.Err, "mcrctl: %v; retrying in %s\n", err, followRetry)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(followRetry):
			}
			continue
		}
		for _, e := range p.Events {
			if err := printEvent(cmd, s, e); err != nil {
				return err
			}
		}
		cursor = nextCursor(p, cursor)
	}
}

// nextCursor is where to ask from after page p: its next, else its last
// event's cursor, else where it was asked from.
func nextCursor(p apiv1.EventPage, cur string) string {
	switch {
	case p.Next != "":
		return p.Next
	case len(p.Events) > 0 && p.Events[len(p.Events)-1].Cursor != "":
		return p.Events[len(p.Events)-1].Cursor
	}
	return cur
}

// printEvent writes one event as a line: JSON, or the fields that are set.
func printEvent(cmd *cli.Command, s *streams, e apiv1.Event) error {
	if jsonOutput(cmd) {
		return printJSONLine(s, e)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s %s", e.Seq, fmtTime(e.Time), e.Type)
	for _, kv := range [][2]string{
		{"outcome", e.Outcome}, {"actor", actorOrEmpty(e)}, {"remote", e.Remote}, {"action", e.Action},
		{"repository", e.Repository}, {"digest", e.Digest}, {"detail", e.Detail},
	} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=%s", kv[0], strconv.Quote(kv[1]))
		}
	}
	if e.Count > 1 {
		fmt.Fprintf(&b, " count=%d", e.Count)
	}
	_, err := fmt.Fprintln(s.Out, b.String())
	return err
}

// detailOf is an event's detail for a table, with the count of an
// aggregated event.
func detailOf(e apiv1.Event) string {
	if e.Count > 1 {
		return strings.TrimSpace(fmt.Sprintf("%s (x%d)", e.Detail, e.Count))
	}
	return e.Detail
}

func actorOrEmpty(e apiv1.Event) string {
	if e.AccountName != "" {
		return e.AccountName
	}
	return e.AccountID
}

func actor(e apiv1.Event) string { return orDash(actorOrEmpty(e)) }
