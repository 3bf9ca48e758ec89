// Command mcrsrv is the mcr registry server. Its subcommands, in the order
// of its help: serve runs it; init prepares a data directory and its first
// admin; gc collects garbage on a stopped server; account and policy
// manage a stopped server's accounts and rules; snapshot writes a stopped
// server's data and restore brings a snapshot back into a new data
// directory; config prints the default configuration file or checks one;
// version prints the build. A test (TestSubcommandsDocumented) keeps this
// list equal to the commands. Everything it creates is readable by its
// owner only (umask 0077, umask_unix.go).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/cmd/internal/buildinfo"
)

func main() {
	ownerOnly() // before anything is created: see umask_unix.go
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app().Run(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "mcrsrv:", err)
		os.Exit(1)
	}
}

func app() *cli.Command {
	return &cli.Command{
		Name:  "mcrsrv",
		Usage: "the mcr container registry server",
		Commands: []*cli.Command{
			serveCommand(),
			initCommand(),
			gcCommand(),
			accountCommand(),
			policyCommand(),
			snapshotCommand(),
			restoreCommand(),
			configCommand(),
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(_ context.Context, cmd *cli.Command) error {
					_, err := fmt.Fprintln(cmd.Root().Writer, "mcrsrv", buildinfo.String())
					return err
				},
			},
		},
	}
}
