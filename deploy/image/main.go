package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

type platformList []Platform

func (l *platformList) String() string { return fmt.Sprint(*l) }
func (l *platformList) Set(s string) error {
	p, err := parsePlatform(s)
	if err == nil {
		*l = append(*l, p)
	}
	return err
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var (
		ps      platformList
		m       Meta
		out     = fs.String("out", "bin/image", "OCI image layout directory to write (replaced)")
		created = fs.String("created", "", "creation time: RFC 3339 or Unix seconds (SOURCE_DATE_EPOCH); required, so that a build is reproducible")
	)
	fs.Var(&ps, "platform", "OS/ARCH=DIR: DIR holds that platform's mcrsrv and mcrctl (repeat per platform)")
	fs.StringVar(&m.Version, "version", "", "org.opencontainers.image.version (required)")
	fs.StringVar(&m.Revision, "revision", "", "org.opencontainers.image.revision: the commit (required)")
	fs.StringVar(&m.Source, "source", "", "org.opencontainers.image.source: the repository URL (required)")
	fs.StringVar(&m.Licenses, "licenses", "", "org.opencontainers.image.licenses, an SPDX expression (optional)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var missing []string
	for _, f := range [][2]string{{"-version", m.Version}, {"-revision", m.Revision}, {"-source", m.Source}, {"-created", *created}} {
		if f[1] == "" {
			missing = append(missing, f[0])
		}
	}
	if len(ps) == 0 {
		missing = append(missing, "-platform")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	t, err := parseTime(*created)
	if err != nil {
		return err
	}
	m.Created = t
	idx, err := index(ps, m)
	if err != nil {
		return err
	}
	d, err := writeLayout(*out, idx, m)
	if err != nil {
		return err
	}
	fmt.Printf("%s: index %s (%d platforms)\n", *out, d, len(ps))
	return nil
}

// parseTime reads RFC 3339 or Unix seconds.
func parseTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("-created %q: want RFC 3339 or Unix seconds", s)
	}
	return t.UTC(), nil
}
