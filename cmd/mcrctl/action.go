package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// The helpers here hold what the subcommands' actions have in common, so
// that each action states only its call and its output.

// withClient is the Action of a subcommand that takes exactly n
// arguments, named by usage in the error when the count is off, and calls
// the server.
func withClient(s *streams, n int, usage string, fn func(ctx context.Context, cmd *cli.Command, c *client, args []string) error) cli.ActionFunc {
	return withChecked(s, func(cmd *cli.Command) ([]string, error) {
		return cmd.Args().Slice(), wantArgs(cmd, n, usage)
	}, fn)
}

// withChecked is the Action of a subcommand that calls the server: check
// reads its command line, then the client is made, in that order, so that
// a wrong command line is reported as such even where no server is
// configured; fn gets what check read.
func withChecked[T any](s *streams, check func(cmd *cli.Command) (T, error), fn func(ctx context.Context, cmd *cli.Command, c *client, v T) error) cli.ActionFunc {
	return func(ctx context.Context, cmd *cli.Command) error {
		v, err := check(cmd)
		if err != nil {
			return err
		}
		c, err := newClient(cmd, s)
		if err != nil {
			return err
		}
		return fn(ctx, cmd, c, v)
	}
}

// wantArgs checks cmd has exactly n arguments, named by usage.
func wantArgs(cmd *cli.Command, n int, usage string) error {
	if cmd.NArg() == n {
		return nil
	}
	if n == 0 {
		return usagef("%s takes no arguments", cmd.FullName())
	}
	return usagef("usage: %s %s", cmd.FullName(), usage)
}

// callAction is the Action of a subcommand that takes exactly n
// arguments, named by usage, sends method to path(args) with no body and
// prints the answer with show.
func callAction[T any](s *streams, n int, usage, method string, path func(args []string) string, show func(*cli.Command, *streams, T) error) cli.ActionFunc {
	return withClient(s, n, usage, func(ctx context.Context, cmd *cli.Command, c *client, args []string) error {
		var v T
		if err := c.do(ctx, method, path(args), nil, nil, &v); err != nil {
			return err
		}
		return show(cmd, s, v)
	})
}

// deleteAction is the Action of a subcommand that deletes the one thing
// its argument (named by usage) names, at path(arg), and reports it with
// done, a format of the argument.
func deleteAction(s *streams, usage string, path func(string) string, done string) cli.ActionFunc {
	return withClient(s, 1, usage, func(ctx context.Context, cmd *cli.Command, c *client, args []string) error {
		id := args[0]
		if err := c.do(ctx, "DELETE", path(id), nil, nil, nil); err != nil {
			return err
		}
		return printDone(cmd, s, map[string]string{"deleted": id}, done, id)
	})
}

// printList prints a listing: doc (the answer, with its items) as JSON
// with -o json, else a table of items under header, cells giving the
// columns of one item. The caller passes its items through nonNil in doc,
// so that an empty listing prints as [] rather than null.
func printList[T any](cmd *cli.Command, s *streams, doc any, items []T, header []string, cells func(T) []any) error {
	if jsonOutput(cmd) {
		return printJSON(s.Out, doc)
	}
	tw := table(s.Out, header...)
	for _, it := range items {
		row(tw, cells(it)...)
	}
	return tw.Flush()
}

// printFields prints one document: v as JSON with -o json, else a
// FIELD/VALUE table whose rows fields writes.
func printFields(cmd *cli.Command, s *streams, v any, fields func(tw io.Writer)) error {
	if jsonOutput(cmd) {
		return printJSON(s.Out, v)
	}
	tw := table(s.Out, "FIELD", "VALUE")
	fields(tw)
	return tw.Flush()
}

// printDone reports a call whose answer is no more than a line: doc as
// JSON with -o json, else the line format(args...).
func printDone(cmd *cli.Command, s *streams, doc any, format string, args ...any) error {
	if jsonOutput(cmd) {
		return printJSON(s.Out, doc)
	}
	fmt.Fprintf(s.Out, format, args...)
	return nil
}

// nonNil makes an empty listing print as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// finishJob ends a command that started job: with --wait it waits for the
// job to end (get reads its state), then prints it and fails (exit 1) when
// the job did.
func finishJob(ctx context.Context, cmd *cli.Command, s *streams, job apiv1.Job, get func(context.Context) (apiv1.Job, error)) error {
	if cmd.Bool("wait") {
		var err error
		if job, err = waitJob(ctx, s, get); err != nil {
			return err
		}
	}
	if err := printJob(cmd, s, job); err != nil {
		return err
	}
	return jobFailure(job)
}
