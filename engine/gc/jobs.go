package gc

import (
	"context"
	"time"

	"git.wntrmute.dev/kyle/mcr/jobs"
)

// The job kinds garbage collection registers. The admin API triggers them
// by name (jobs.Runner.Trigger) and reads their status; LastResult of a
// collection is its Report as JSON.
const (
	JobCollect = "gc"            // a collection (scheduled and on demand)
	JobDryRun  = "gc-dry-run"    // a dry run (on demand)
	JobUploads = "upload-expiry" // expiry of abandoned upload sessions (scheduled)
)

// Schedule says how often the scheduled jobs run; 0 leaves a job on
// demand only.
type Schedule struct {
	Collect time.Duration
	Uploads time.Duration
	// Timeout bounds one collection; 0 is none.
	Timeout time.Duration
}

// Jobs returns the garbage collection jobs to register with a
// jobs.Runner.
func (c *Collector) Jobs(s Schedule) []jobs.Job {
	return []jobs.Job{
		{Kind: JobCollect, Every: s.Collect, Timeout: s.Timeout, Run: c.job(false)},
		{Kind: JobDryRun, Timeout: s.Timeout, Run: c.job(true)},
		{Kind: JobUploads, Every: s.Uploads, Timeout: s.Timeout, Run: func(ctx context.Context, p *jobs.Progress) (string, error) {
			rep, err := c.ExpireUploads(ctx, RunOptions{Progress: p.Report})
			return rep.JSON(), err
		}},
	}
}

func (c *Collector) job(dry bool) jobs.Func {
	return func(ctx context.Context, p *jobs.Progress) (string, error) {
		rep, err := c.Run(ctx, RunOptions{DryRun: dry, Progress: p.Report})
		if rep == nil {
			return "", err
		}
		return rep.JSON(), err
	}
}

// DeleteRepositoryJob is a one-off job (jobs.Runner.Submit) deleting repo;
// its result is the RepoDeletion as JSON.
func (c *Collector) DeleteRepositoryJob(repo string) jobs.Func {
	return func(ctx context.Context, _ *jobs.Progress) (string, error) {
		res, err := c.DeleteRepository(ctx, repo)
		return toJSON(res), err
	}
}
