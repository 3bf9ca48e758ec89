package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
)

func initCommand() *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create a data directory: metadata store, blob tree, token signing key and the first admin",
		Flags: configFlags("TOML configuration file",
			&cli.StringFlag{Name: "admin-user", Usage: "name of the first admin (overrides auth.admin_user)"},
			&cli.StringFlag{Name: "admin-password-file", Usage: "file holding the first admin's password; without it one is generated into DATA/" + initialPasswordFile},
		),
		Action: configAction(func(cmd *cli.Command, c *Config) {
			if cmd.IsSet("admin-user") {
				c.Auth.AdminUser = cmd.String("admin-user")
			}
			c.Auth.Mode = "builtin" // init makes builtin accounts whatever the config serves with
		}, func(ctx context.Context, cmd *cli.Command, c Config) error {
			password := ""
			if f := cmd.String("admin-password-file"); f != "" {
				var err error
				if password, err = readSecret(f); err != nil {
					return err
				}
			}
			return initData(ctx, c, password, cmd.Root().Writer)
		}),
	}
}

// initData creates c.Data and everything in it that serve needs.
func initData(ctx context.Context, c Config, password string, out interface{ Write([]byte) (int, error) }) error {
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return err
	}
	log := c.logger()
	warnLooseDirs(c.Data, log)
	store, err := openMetadata(ctx, c, false, log)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := blobstore.Open(c.Data, nil); err != nil {
		return err
	}
	ids, err := identity.New(ctx, store, identity.Options{Service: c.Auth.Service})
	if err != nil {
		return err
	}
	err = bootstrapAdmin(ctx, ids, c.Data, c.Auth.AdminUser, password, log)
	if errors.Is(err, identity.ErrInitialized) {
		return fmt.Errorf("%s is already initialized: it has accounts", c.Data)
	}
	if err != nil {
		return err
	}
	where := "the password you gave"
	if password == "" {
		where = "its password is in " + filepath.Join(c.Data, initialPasswordFile)
	}
	_, err = fmt.Fprintf(out, "initialized %s: admin account %q created; %s\n", c.Data, c.Auth.AdminUser, where)
	return err
}
