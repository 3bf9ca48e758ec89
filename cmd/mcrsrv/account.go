package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// The account and policy commands work on a stopped server's data
// directory: Badger lets one process at a time open it. They are the
// operator's tools until the admin API (mcrctl) exists.

// offline is an opened data directory of a stopped server.
type offline struct {
	store kv.Store
	ids   *identity.Service
	log   zerolog.Logger
}

// offlineFlags are the flags every offline command takes.
func offlineFlags(extra ...cli.Flag) []cli.Flag {
	return configFlags("TOML configuration file", extra...)
}

// withOffline loads the configuration of cmd, opens its data directory,
// runs fn and closes the store.
func withOffline(ctx context.Context, cmd *cli.Command, fn func(*offline) error) error {
	c, err := validConfig(cmd, func(_ *cli.Command, c *Config) {
		c.Auth.Mode = "builtin" // these commands manage builtin accounts whatever the config serves with
	})
	if err != nil {
		return err
	}
	o, err := openOffline(ctx, c)
	if err != nil {
		return err
	}
	defer o.store.Close()
	return fn(o)
}

// offlineAction is the Action of a command that needs nothing but the
// opened data directory and its flags: withOffline around fn.
func offlineAction(fn func(ctx context.Context, cmd *cli.Command, o *offline) error) cli.ActionFunc {
	return func(ctx context.Context, cmd *cli.Command) error {
		return withOffline(ctx, cmd, func(o *offline) error { return fn(ctx, cmd, o) })
	}
}

// openOffline opens c.Data, which mcrsrv init (or a first serve) made.
func openOffline(ctx context.Context, c Config) (*offline, error) {
	log := c.logger()
	store, err := openStopped(ctx, c, log, " (run mcrsrv init first)", "these commands need it stopped")
	if err != nil {
		return nil, err
	}
	ids, err := identity.New(ctx, store, identity.Options{Service: c.Auth.Service})
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	return &offline{store: store, ids: ids, log: log}, nil
}

func accountCommand() *cli.Command {
	return &cli.Command{
		Name:  "account",
		Usage: "manage accounts in a stopped server's data directory",
		Commands: []*cli.Command{
			{
				Name:  "add",
				Usage: "create an account; a generated password is printed once",
				Flags: offlineFlags(
					&cli.StringFlag{Name: "name", Required: true, Usage: "account name"},
					&cli.StringFlag{Name: "type", Required: true, Usage: "human (a person) or system (a CI robot or service)"},
					&cli.StringSliceFlag{Name: "role", Usage: "role, repeatable (admin: everything, by the built-in policy)"},
					&cli.StringFlag{Name: "password-file", Usage: "file holding the password; without it one is generated and printed"},
					&cli.BoolFlag{Name: "no-password", Usage: "system accounts only: no password, log in with access keys"},
				),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					n := identity.NewAccount{Name: cmd.String("name"), Type: cmd.String("type"), Roles: cmd.StringSlice("role")}
					generated := false
					switch {
					case cmd.Bool("no-password") && cmd.IsSet("password-file"):
						return fmt.Errorf("--no-password and --password-file exclude each other")
					case cmd.Bool("no-password"):
					case cmd.IsSet("password-file"):
						pw, err := readSecret(cmd.String("password-file"))
						if err != nil {
							return err
						}
						n.Password = pw
					default:
						n.Password, generated = identity.GeneratePassword(), true
					}
					return withOffline(ctx, cmd, func(o *offline) error {
						return addAccount(ctx, o, n, generated, cmd.Root().Writer)
					})
				},
			},
			{
				Name:  "ls",
				Usage: "list the accounts",
				Flags: offlineFlags(),
				Action: offlineAction(func(ctx context.Context, cmd *cli.Command, o *offline) error {
					return listAccounts(ctx, o, cmd.Root().Writer)
				}),
			},
			{
				Name:  "key",
				Usage: "manage a system account's access keys",
				Commands: []*cli.Command{
					{
						Name:  "add",
						Usage: "create an access key for a system account; the key is printed once",
						Flags: offlineFlags(
							&cli.StringFlag{Name: "name", Required: true, Usage: "account name"},
							&cli.StringFlag{Name: "description", Usage: "what the key is for"},
						),
						Action: offlineAction(func(ctx context.Context, cmd *cli.Command, o *offline) error {
							return addAccessKey(ctx, o, cmd.String("name"), cmd.String("description"), cmd.Root().Writer)
						}),
					},
				},
			},
		},
	}
}

// addAccount creates n. A generated password is written to w, on a line
// of its own after the announcement, and nowhere else.
func addAccount(ctx context.Context, o *offline, n identity.NewAccount, generated bool, w io.Writer) error {
	a, err := o.ids.CreateAccount(ctx, n)
	if err != nil {
		return err
	}
	o.log.Info().Str("account", a.Name).Str("account_id", a.ID).Str("type", a.Type).Strs("roles", a.Roles).Msg("account created offline")
	if !generated {
		_, err = fmt.Fprintf(w, "created %s account %q (id %s)\n", a.Type, a.Name, a.ID)
		return err
	}
	_, err = fmt.Fprintf(w, "created %s account %q (id %s); its generated password, shown once:\n%s\n", a.Type, a.Name, a.ID, n.Password)
	return err
}

func listAccounts(ctx context.Context, o *offline, w io.Writer) error {
	accts, err := o.ids.Accounts(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tTYPE\tROLES\tENABLED\tCREATED")
	for _, a := range accts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\n", a.Name, a.ID, a.Type, orDash(strings.Join(a.Roles, ",")), a.Enabled,
			a.Created.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// addAccessKey creates a key for system account name and writes it to w,
// on a line of its own, once.
func addAccessKey(ctx context.Context, o *offline, name, description string, w io.Writer) error {
	a, err := o.ids.AccountByName(ctx, name)
	if err != nil {
		return err
	}
	k, secret, err := o.ids.CreateAccessKey(ctx, a.ID, description)
	if err != nil {
		return err
	}
	o.log.Info().Str("account", a.Name).Str("account_id", a.ID).Str("key_id", k.ID).Msg("access key created offline")
	_, err = fmt.Fprintf(w, "created access key %s for %q; use it as the password with user %q. Shown once:\n%s\n", k.ID, a.Name, a.Name, secret)
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
