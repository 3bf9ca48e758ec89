// Command mcrsrv is the mcr registry server: serve runs it, init prepares a
// data directory and its first admin, account and policy manage a stopped
// server's accounts and rules, snapshot and restore copy a stopped server's
// data, version prints the build.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/urfave/cli/v3"
)

func main() {
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
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(_ context.Context, cmd *cli.Command) error {
					_, err := fmt.Fprintln(cmd.Root().Writer, "mcrsrv", version())
					return err
				},
			},
		},
	}
}

// version is the module version stamped by the Go toolchain, with the VCS
// revision when built from a checkout.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
