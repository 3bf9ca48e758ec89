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

// RepoDeletePrefix starts the kind of the job deleting a repository:
// RepoDeletePrefix + the repository's name.
const RepoDeletePrefix = "repo-delete:"

// RepoDeleteJob is the job kind deleting repo.
func RepoDeleteJob(repo string) string { return RepoDeletePrefix + repo }

// RepoDeletions is the family of jobs deleting repositories (one kind per
// repository); a run's result is the RepoDeletion as JSON. Like the
// collection it changes what every replica shares, so it runs on the
// leader, through the Collector's (fenced) store: a replica asked to
// delete a repository records the request and the leader carries it out,
// even if the replica asked dies.
func (c *Collector) RepoDeletions() jobs.Family {
	return jobs.Family{Prefix: RepoDeletePrefix, Make: func(repo string) jobs.Func {
		return func(ctx context.Context, _ *jobs.Progress) (string, error) {
			res, err := c.DeleteRepository(ctx, repo)
			return toJSON(res), err
		}
	}}
}
