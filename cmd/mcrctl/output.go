package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"
)

// jsonOutput reports whether -o json was asked for.
func jsonOutput(cmd *cli.Command) bool { return cmd.String("output") == "json" }

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table is a tabwriter for aligned columns; Flush writes it.
func table(w io.Writer, header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	return tw
}

// row writes one tab-separated line.
func row(w io.Writer, cols ...any) {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = fmt.Sprint(c)
	}
	fmt.Fprintln(w, strings.Join(s, "\t"))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return fmtTime(*t)
}

// humanBytes is n in binary units, one decimal.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// shortDigest cuts a digest for a table: the algorithm and 12 hex digits.
func shortDigest(d string) string {
	if alg, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return alg + ":" + hex[:12]
	}
	return d
}

// maxPageSize is the largest page the API serves (docs/api.md); a larger n
// is a 400, so mcrctl asks for at most this.
const maxPageSize = 1000

// listFlags are the flags of every listing that follows cursors.
func listFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{
		&cli.IntFlag{Name: "limit", Usage: "at most this many entries in all (0: every one)"},
		&cli.IntFlag{Name: "page-size", Value: 1000, Usage: "entries asked for per request (the server caps it at 1000)"},
	}, extra...)
}

// pageFields says where a page P of a listing keeps its items T and the
// cursor of the next page.
type pageFields[P, T any] func(*P) (items *[]T, next *string)

// fetchAll reads the pages of path (with query q) from the start, following
// next cursors, until the end or cmd's --limit. It returns the items and,
// when --limit stopped it first, the cursor to continue from.
func fetchAll[P, T any](ctx context.Context, cmd *cli.Command, c *client, path string, q url.Values, fields pageFields[P, T]) ([]T, string, error) {
	limit, size := cmd.Int("limit"), min(cmd.Int("page-size"), maxPageSize)
	if limit < 0 || size <= 0 {
		return nil, "", usagef("--limit must be >= 0 and --page-size > 0")
	}
	if q == nil {
		q = url.Values{}
	}
	var all []T
	cursor := ""
	for {
		n := size
		if limit > 0 {
			n = min(n, limit-len(all))
		}
		q.Set("n", strconv.Itoa(n))
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page P
		if err := c.do(ctx, "GET", path, q, nil, &page); err != nil {
			return nil, "", err
		}
		items, nextp := fields(&page)
		all = append(all, *items...)
		next := *nextp
		// An empty page ends the walk even with a cursor: the audit log
		// hands one out at its end, to follow it with.
		if next == "" || next == cursor || len(*items) == 0 {
			return all, "", nil
		}
		cursor = next
		if limit > 0 && len(all) >= limit {
			return all, cursor, nil
		}
	}
}

// listAll prints the listing at path (with query q) as printList does,
// reading it with fetchAll; its JSON is one page holding every item read,
// and the cursor to go on from when --limit stopped the walk.
func listAll[P, T any](ctx context.Context, cmd *cli.Command, s *streams, c *client, path string, q url.Values, fields pageFields[P, T], header []string, cells func(T) []any) error {
	all, next, err := fetchAll(ctx, cmd, c, path, q, fields)
	if err != nil {
		return err
	}
	var doc P
	items, cursor := fields(&doc)
	*items, *cursor = nonNil(all), next
	return printList(cmd, s, doc, all, header, cells)
}
