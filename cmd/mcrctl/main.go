package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/cmd/internal/buildinfo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// streams is what a run of the CLI reads and writes besides the network:
// injected so that tests run it in-process.
type streams struct {
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	Getenv func(string) string
}

// defaultTimeout bounds one HTTP call unless --timeout says otherwise.
const defaultTimeout = 60 * time.Second

// run runs the CLI with args (args[0] is the program name) and returns the
// process exit code.
func run(ctx context.Context, args []string, s streams) int {
	if s.Getenv == nil {
		s.Getenv = func(string) string { return "" }
	}
	cmd := app(&s)
	err := cmd.Run(ctx, args)
	if err == nil {
		return exitOK
	}
	report(s.Err, err)
	return exitCode(err)
}

// app builds the command tree; actions reach s through the closure.
func app(s *streams) *cli.Command {
	return &cli.Command{
		Name:  "mcrctl",
		Usage: "operate an mcr registry through its admin API",
		Description: "Server and credentials come from --server/--token, then MCR_SERVER/MCR_TOKEN,\n" +
			"then the config file written by `mcrctl login` (--config, MCR_CONFIG).\n" +
			"Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 unauthorized or denied, 5 conflict.",
		Reader:    s.In,
		Writer:    s.Out,
		ErrWriter: s.Err,
		// Errors are reported once, by run, with their exit code; cli must
		// neither print them nor exit.
		ExitErrHandler:  func(context.Context, *cli.Command, error) {},
		OnUsageError:    onUsageError,
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "server", Aliases: []string{"s"}, Usage: "registry base URL, e.g. https://registry.example.com (env MCR_SERVER)"},
			&cli.StringFlag{Name: "token", Usage: "bearer access token, used as is (env MCR_TOKEN)"},
			&cli.StringFlag{Name: "config", Usage: "config file (env MCR_CONFIG; default " + defaultConfigHint + ")"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "output format: table or json"},
			&cli.DurationFlag{Name: "timeout", Value: defaultTimeout, Usage: "bound on each HTTP call"},
		},
		Before: func(ctx context.Context, cmd *cli.Command) (context.Context, error) {
			switch o := cmd.String("output"); o {
			case "table", "json":
			default:
				return ctx, usagef("--output %q: want table or json", o)
			}
			if cmd.Duration("timeout") <= 0 {
				return ctx, usagef("--timeout must be positive")
			}
			return ctx, nil
		},
		Commands: []*cli.Command{
			statusCommand(s),
			repoCommand(s),
			tagCommand(s),
			manifestCommand(s),
			uploadCommand(s),
			gcCommand(s),
			policyCommand(s),
			accountCommand(s),
			auditCommand(s),
			snapshotCommand(s),
			loginCommand(s),
			logoutCommand(s),
			{
				Name:  "version",
				Usage: "print this client's version (mcrctl status shows the server's)",
				Action: func(context.Context, *cli.Command) error {
					_, err := fmt.Fprintln(s.Out, "mcrctl", buildinfo.String())
					return err
				},
			},
		},
	}
}
