package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// pollInterval is how often a waiting command asks for a job's status.
const pollInterval = 250 * time.Millisecond

func statusCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the server's version, uptime, counts, storage and jobs",
		Action: withClient(s, 0, "", func(ctx context.Context, cmd *cli.Command, c *client, _ []string) error {
			var st apiv1.Status
			if err := c.do(ctx, "GET", apiv1.Prefix+"/status", nil, nil, &st); err != nil {
				return err
			}
			if jsonOutput(cmd) {
				return printJSON(s.Out, st)
			}
			tw := table(s.Out, "FIELD", "VALUE")
			row(tw, "server", c.base)
			row(tw, "version", st.Version)
			row(tw, "started", fmtTime(st.Started))
			row(tw, "uptime", (time.Duration(st.UptimeSeconds) * time.Second).String())
			row(tw, "jobs leader", leaderText(st.Leader))
			row(tw, "repositories", st.Repositories)
			row(tw, "manifests", st.Manifests)
			row(tw, "tags", st.Tags)
			row(tw, "blobs", st.Blobs)
			row(tw, "blob storage", humanBytes(st.Storage.BlobBytes))
			row(tw, "metadata storage", humanBytes(st.Storage.MetadataBytes))
			for _, fs := range st.Storage.Filesystems {
				diskRows(tw, fs)
			}
			row(tw, "active uploads", st.UploadsActive)
			row(tw, "staging", fmt.Sprintf("%s in %d files", humanBytes(st.Storage.StagingBytes), st.Storage.StagingFiles))
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(st.Jobs) > 0 {
				fmt.Fprintln(s.Out)
				return jobTable(s, st.Jobs)
			}
			return nil
		}),
	}
}

func gcCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:  "gc",
		Usage: "run garbage collection and see its state",
		Commands: []*cli.Command{
			{
				Name:  "run",
				Usage: "start a collection (409, exit 5, when one is already running)",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "dry-run", Usage: "report what would be swept, sweep nothing"},
					&cli.BoolFlag{Name: "wait", Usage: "show progress on stderr until the run ends, then a summary (the whole job with -o json); exit 1 if it failed"},
				},
				Action: withClient(s, 0, "", func(ctx context.Context, cmd *cli.Command, c *client, _ []string) error {
					dry := cmd.Bool("dry-run")
					var job apiv1.Job
					if err := c.do(ctx, "POST", apiv1.Prefix+"/gc", nil, apiv1.GCRequest{DryRun: dry}, &job); err != nil {
						return err
					}
					get := func(ctx context.Context) (apiv1.Job, error) {
						var st apiv1.GCStatus
						if err := c.do(ctx, "GET", apiv1.Prefix+"/gc", nil, nil, &st); err != nil {
							return apiv1.Job{}, err
						}
						if dry {
							return st.DryRun, nil
						}
						return st.GC, nil
					}
					if !cmd.Bool("wait") || jsonOutput(cmd) {
						return finishJob(ctx, cmd, s, job, get)
					}
					job, err := waitJob(ctx, s, get)
					if err != nil {
						return err
					}
					if err := jobFailure(job); err != nil {
						return err
					}
					fmt.Fprintln(s.Out, gcSummary(job.Result))
					return nil
				}),
			},
			{
				Name:  "status",
				Usage: "show the GC, dry-run GC and upload-expiry jobs",
				Action: callAction(s, 0, "", "GET", func([]string) string { return apiv1.Prefix + "/gc" }, func(cmd *cli.Command, s *streams, st apiv1.GCStatus) error {
					if jsonOutput(cmd) {
						return printJSON(s.Out, st)
					}
					return jobTable(s, []apiv1.Job{st.GC, st.DryRun, st.Uploads})
				}),
			},
		},
	}
}

// gcReport is what the summary reads of a collection's report (the
// server's gc.Report, reclaimed_bytes and grace added).
type gcReport struct {
	DryRun    bool   `json:"dry_run"`
	Blobs     int    `json:"blobs"`
	Swept     int    `json:"swept"`
	Kept      int    `json:"kept"`
	Raced     int    `json:"raced"`
	Reclaimed int64  `json:"reclaimed_bytes"`
	Grace     string `json:"grace"`
}

// gcSummary is one line on what a collection did: "swept 3 blobs, 12.4 MiB
// reclaimed; 5 kept, 2 of them younger than gc.grace 1h". Kept counts
// every blob not swept; those younger than the grace period are the
// unreferenced ones the run spared.
func gcSummary(raw json.RawMessage) string {
	var r gcReport
	if err := json.Unmarshal(raw, &r); err != nil {
		return "finished; the result is not a collection report: " + string(raw)
	}
	verb, reclaimed := "swept", "reclaimed"
	if r.DryRun {
		verb, reclaimed = "would sweep", "reclaimable"
	}
	line := fmt.Sprintf("%s %s, %s %s; %d kept", verb, plural(r.Swept, "blob"), humanBytes(r.Reclaimed), reclaimed, max(r.Blobs-r.Swept, 0))
	if r.Kept > 0 {
		line += fmt.Sprintf(", %d of them younger than gc.grace", r.Kept)
		if d, err := time.ParseDuration(r.Grace); err == nil {
			line += " " + shortDuration(d)
		}
	}
	if r.Raced > 0 {
		line += fmt.Sprintf(", %d linked by a push during the run", r.Raced)
	}
	return line
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// shortDuration drops a duration's zero tail: 1h, 1h30m, 45s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// waitJob polls get until the job is neither queued nor running, printing
// its progress on stderr whenever it changes.
func waitJob(ctx context.Context, s *streams, get func(context.Context) (apiv1.Job, error)) (apiv1.Job, error) {
	last := ""
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		j, err := get(ctx)
		if err != nil {
			return j, err
		}
		if !j.Active() {
			return j, nil
		}
		p := fmt.Sprintf("%s: %s", j.Kind, j.State)
		if j.Total > 0 {
			p += fmt.Sprintf(" %d/%d", j.Done, j.Total)
		} else if j.Done > 0 {
			p += fmt.Sprintf(" %d", j.Done)
		}
		if j.Note != "" {
			p += " (" + j.Note + ")"
		}
		if p != last {
			fmt.Fprintln(s.Err, p)
			last = p
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-t.C:
		}
	}
}

// jobFailure is the error of a job that ended badly: exit code 1.
func jobFailure(j apiv1.Job) error {
	switch j.State {
	case "failed", "cancelled", "interrupted":
		msg := fmt.Sprintf("job %s %s", j.Kind, j.State)
		if j.Error != "" {
			msg += ": " + j.Error
		}
		return &codeError{code: exitError, msg: msg}
	}
	return nil
}

// printJob prints one job: its JSON, or its fields and its result's.
func printJob(cmd *cli.Command, s *streams, j apiv1.Job) error {
	return printFields(cmd, s, j, func(tw io.Writer) {
		row(tw, "kind", j.Kind)
		row(tw, "state", j.State)
		row(tw, "started", fmtTimePtr(j.Started))
		row(tw, "finished", fmtTimePtr(j.Finished))
		if j.Total > 0 || j.Done > 0 {
			row(tw, "progress", fmt.Sprintf("%d/%d", j.Done, j.Total))
		}
		if j.Note != "" {
			row(tw, "note", j.Note)
		}
		if j.Error != "" {
			row(tw, "error", j.Error)
		}
		for _, kv := range resultFields(j.Result) {
			row(tw, "result."+kv[0], kv[1])
		}
	})
}

// resultFields flattens a job result for a table: the fields of a JSON
// object, sorted, or the whole value as "value".
func resultFields(raw json.RawMessage) [][2]string {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		var str string
		if json.Unmarshal(raw, &str) == nil {
			return [][2]string{{"value", str}}
		}
		return [][2]string{{"value", string(raw)}}
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][2]string, 0, len(keys))
	for _, k := range keys {
		v := string(obj[k])
		var str string
		if json.Unmarshal(obj[k], &str) == nil {
			v = str
		}
		out = append(out, [2]string{k, v})
	}
	return out
}

func jobTable(s *streams, jobs []apiv1.Job) error {
	tw := table(s.Out, "JOB", "STATE", "STARTED", "FINISHED", "PROGRESS", "RUNS", "NEXT", "ERROR")
	for _, j := range jobs {
		prog := "-"
		if j.Total > 0 || j.Done > 0 {
			prog = fmt.Sprintf("%d/%d", j.Done, j.Total)
		}
		row(tw, orDash(j.Kind), orDash(j.State), fmtTimePtr(j.Started), fmtTimePtr(j.Finished), prog, j.Runs, fmtTimePtr(j.Next), orDash(j.Error))
	}
	return tw.Flush()
}

// diskRows shows one filesystem the server writes: free space and inodes
// against their floors, and the metadata store's reserve.
func diskRows(w io.Writer, fs apiv1.Filesystem) {
	name := "disk " + fs.Names
	state := "ok"
	if fs.BelowFloor {
		state = "BELOW FLOOR, writes refused: " + fs.Reason
	}
	row(w, name, state)
	row(w, name+" free", fmt.Sprintf("%s of %s (floor %s)", humanBytes(int64(min(fs.FreeBytes, 1<<62))),
		humanBytes(int64(min(fs.SizeBytes, 1<<62))), humanBytes(int64(min(fs.FloorBytes, 1<<62)))))
	row(w, name+" free inodes", fmt.Sprintf("%d of %d (floor %d)", fs.FreeInodes, fs.Inodes, fs.FloorInodes))
	if fs.ReserveSize > 0 {
		held := "held"
		if fs.ReserveBytes == 0 {
			held = "released to the metadata store"
		}
		row(w, name+" reserve", humanBytes(int64(min(fs.ReserveSize, 1<<62)))+" "+held)
	}
}

// leaderText names the replica running the background jobs, and whether
// it is the one that answered.
func leaderText(l apiv1.Leader) string {
	switch {
	case l.Replica == "":
		return "none (the lease is free)"
	case l.Self:
		return l.Replica + " (this replica)"
	}
	return l.Replica
}
