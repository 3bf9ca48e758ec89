package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/urfave/cli/v3"
)

// The exit codes scripts can rely on (docs/mcrctl.md).
const (
	exitOK           = 0
	exitError        = 1
	exitUsage        = 2
	exitNotFound     = 3
	exitUnauthorized = 4 // 401 or 403
	exitConflict     = 5
)

// usageError is a command line the command cannot run: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// onUsageError turns cli's flag parsing errors into usage errors.
func onUsageError(_ context.Context, _ *cli.Command, err error, _ bool) error {
	return &usageError{msg: err.Error()}
}

// exitError carries an exit code chosen by a command (a denied policy
// test, a failed GC run) with the message to print.
type codeError struct {
	code int
	msg  string
}

func (e *codeError) Error() string { return e.msg }

// exitCode maps an error to the process exit code.
func exitCode(err error) int {
	var ue *usageError
	var ae *apiError
	var ce *codeError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce):
		return ce.code
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ae):
		switch ae.Status {
		case http.StatusNotFound:
			return exitNotFound
		case http.StatusUnauthorized, http.StatusForbidden:
			return exitUnauthorized
		case http.StatusConflict:
			return exitConflict
		}
		return exitError
	case isCLIUsage(err):
		return exitUsage
	}
	return exitError
}

// isCLIUsage recognizes the errors cli returns for a command line it cannot
// parse without calling OnUsageError (a missing required flag).
func isCLIUsage(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "Required flag") || strings.HasPrefix(s, "Required flags") ||
		strings.Contains(s, "flag provided but not defined") || strings.Contains(s, "No help topic")
}

// report prints err to w: the API's code, message and detail for an API
// error, the message otherwise.
func report(w io.Writer, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		fmt.Fprintf(w, "mcrctl: %s (HTTP %d): %s\n", ae.Code, ae.Status, ae.Message)
		keys := make([]string, 0, len(ae.Detail))
		for k := range ae.Detail {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s: %s\n", k, ae.Detail[k])
		}
		return
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "No help topic for "); ok {
		msg = "unknown command " + rest + " (mcrctl --help lists the commands)"
	}
	fmt.Fprintln(w, "mcrctl:", msg)
}
