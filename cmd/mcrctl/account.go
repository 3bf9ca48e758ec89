package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

func accountPath(idOrName string, sub ...string) string {
	p := apiv1.Prefix + "/accounts/" + escapeSegments(idOrName)
	for _, s := range sub {
		p += "/" + escapeSegments(s)
	}
	return p
}

// readStdinSecret reads a secret from all of standard input, less a final
// newline.
func readStdinSecret(s *streams) (string, error) {
	b, err := io.ReadAll(io.LimitReader(s.In, 64<<10))
	if err != nil {
		return "", err
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", usagef("no password on standard input")
	}
	return pw, nil
}

func accountCommand(s *streams) *cli.Command {
	// toggle enables or disables an account.
	toggle := func(verb string) cli.ActionFunc {
		return callAction(s, 1, "ACCOUNT", "POST", func(args []string) string { return accountPath(args[0], verb) }, printAccount)
	}
	return &cli.Command{
		Name:  "account",
		Usage: "manage accounts and access keys (builtin auth mode)",
		Commands: []*cli.Command{
			{
				Name:  "ls",
				Usage: "list the accounts",
				Action: callAction(s, 0, "", "GET", func([]string) string { return apiv1.Prefix + "/accounts" }, func(cmd *cli.Command, s *streams, l apiv1.AccountList) error {
					l.Accounts = nonNil(l.Accounts)
					return printList(cmd, s, l, l.Accounts,
						[]string{"NAME", "ID", "TYPE", "ROLES", "ENABLED", "CREATED"},
						func(a apiv1.Account) []any {
							return []any{a.Name, a.ID, a.Type, orDash(strings.Join(a.Roles, ",")), a.Enabled, fmtTime(a.Created)}
						})
				}),
			},
			{
				Name:      "show",
				Usage:     "show one account",
				ArgsUsage: "ACCOUNT",
				Action:    callAction(s, 1, "ACCOUNT", "GET", func(args []string) string { return accountPath(args[0]) }, printAccount),
			},
			{
				Name:      "add",
				Usage:     "create an account; a human account without --password-stdin gets a generated password, printed once",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "type", Value: "human", Usage: "human (a person) or system (a CI robot or service)"},
					&cli.StringSliceFlag{Name: "role", Usage: "roles, comma separated or repeated (admin: everything, by the built-in policy)"},
					&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from standard input"},
				},
				Action: withClient(s, 1, "NAME", func(ctx context.Context, cmd *cli.Command, c *client, args []string) error {
					n := apiv1.NewAccount{Name: args[0], Type: cmd.String("type"), Roles: cmd.StringSlice("role")}
					if cmd.Bool("password-stdin") {
						pw, err := readStdinSecret(s)
						if err != nil {
							return err
						}
						n.Password = pw
					}
					var out apiv1.CreatedAccount
					if err := c.do(ctx, "POST", apiv1.Prefix+"/accounts", nil, n, &out); err != nil {
						return err
					}
					if jsonOutput(cmd) {
						return printJSON(s.Out, out)
					}
					fmt.Fprintf(s.Out, "created %s account %q (id %s)\n", out.Account.Type, out.Account.Name, out.Account.ID)
					if out.Password != "" {
						fmt.Fprintf(s.Out, "its generated password, shown once:\n%s\n", out.Password)
					}
					return nil
				}),
			},
			{
				Name:      "enable",
				Usage:     "enable an account",
				ArgsUsage: "ACCOUNT",
				Action:    toggle("enable"),
			},
			{
				Name:      "disable",
				Usage:     "disable an account: it can no longer log in, and its refresh tokens stop working",
				ArgsUsage: "ACCOUNT",
				Action:    toggle("disable"),
			},
			{
				Name:      "rm",
				Usage:     "delete an account",
				ArgsUsage: "ACCOUNT",
				Action:    deleteAction(s, "ACCOUNT", func(a string) string { return accountPath(a) }, "deleted account %s\n"),
			},
			{
				Name:      "passwd",
				Usage:     "set an account's password (asked for, or read with --password-stdin)",
				ArgsUsage: "ACCOUNT",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from standard input"},
				},
				Action: withClient(s, 1, "ACCOUNT", func(ctx context.Context, cmd *cli.Command, c *client, args []string) error {
					acct := args[0]
					var pw string
					var err error
					if cmd.Bool("password-stdin") {
						pw, err = readStdinSecret(s)
					} else {
						fmt.Fprintf(s.Err, "New password for %s: ", acct)
						pw, err = readPassword(s.In, bufio.NewReader(s.In))
						fmt.Fprintln(s.Err)
					}
					if err != nil {
						return err
					}
					if pw == "" {
						return usagef("empty password")
					}
					if err := c.do(ctx, "PUT", accountPath(acct, "password"), nil, apiv1.Password{Password: pw}, nil); err != nil {
						return err
					}
					return printDone(cmd, s, map[string]string{"password_changed": acct}, "password of %s changed\n", acct)
				}),
			},
			keyCommand(s),
		},
	}
}

func keyCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:  "key",
		Usage: "manage a system account's access keys",
		Commands: []*cli.Command{
			{
				Name:      "ls",
				Usage:     "list an account's access keys",
				ArgsUsage: "ACCOUNT",
				Action: callAction(s, 1, "ACCOUNT", "GET", func(args []string) string { return accountPath(args[0], "keys") }, func(cmd *cli.Command, s *streams, l apiv1.AccessKeyList) error {
					l.Keys = nonNil(l.Keys)
					return printList(cmd, s, l, l.Keys,
						[]string{"ID", "DESCRIPTION", "CREATED", "REVOKED"},
						func(k apiv1.AccessKey) []any {
							return []any{k.ID, orDash(k.Description), fmtTime(k.Created), fmtTimePtr(k.Revoked)}
						})
				}),
			},
			{
				Name:      "add",
				Usage:     "create an access key; its secret is printed once",
				ArgsUsage: "ACCOUNT",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "description", Usage: "what the key is for"},
				},
				Action: withClient(s, 1, "ACCOUNT", func(ctx context.Context, cmd *cli.Command, c *client, args []string) error {
					acct := args[0]
					var out apiv1.CreatedAccessKey
					if err := c.do(ctx, "POST", accountPath(acct, "keys"), nil, apiv1.NewAccessKey{Description: cmd.String("description")}, &out); err != nil {
						return err
					}
					return printDone(cmd, s, out, "created access key %s for %s; use it as the password. Shown once:\n%s\n", out.Key.ID, acct, out.Secret)
				}),
			},
			{
				Name:      "rm",
				Usage:     "revoke an access key",
				ArgsUsage: "ACCOUNT KEY-ID",
				Action: withClient(s, 2, "ACCOUNT KEY-ID", func(ctx context.Context, cmd *cli.Command, c *client, args []string) error {
					acct, id := args[0], args[1]
					if err := c.do(ctx, "DELETE", accountPath(acct, "keys", id), nil, nil, nil); err != nil {
						return err
					}
					return printDone(cmd, s, map[string]string{"revoked": id}, "revoked access key %s of %s\n", id, acct)
				}),
			},
		},
	}
}

func printAccount(cmd *cli.Command, s *streams, a apiv1.Account) error {
	return printFields(cmd, s, a, func(tw io.Writer) {
		row(tw, "name", a.Name)
		row(tw, "id", a.ID)
		row(tw, "type", a.Type)
		row(tw, "roles", orDash(strings.Join(a.Roles, ",")))
		row(tw, "enabled", a.Enabled)
		row(tw, "created", fmtTime(a.Created))
	})
}
