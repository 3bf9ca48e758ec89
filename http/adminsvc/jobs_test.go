package adminsvc

import (
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/jobs"
)

// TestJobHidesEarlierRun: a run that is queued or running shows nothing of
// the run before it, so `mcrctl gc run` without --wait cannot print an
// earlier run's report as if it were this one's.
func TestJobHidesEarlierRun(t *testing.T) {
	earlier := jobs.Status{
		Kind: "gc", Runs: 4, Started: time.Unix(100, 0), Finished: time.Unix(160, 0),
		Done: 9, Total: 9, Note: "sweep", LastResult: `{"swept":3}`, LastError: "",
	}
	done := earlier
	done.State = jobs.Succeeded
	if j := job(done); string(j.Result) != `{"swept":3}` || j.Finished == nil || j.Started == nil {
		t.Errorf("finished run: %+v", j)
	}
	failed := earlier
	failed.State, failed.LastError = jobs.Failed, "disk on fire"
	if j := job(failed); j.Error != "disk on fire" {
		t.Errorf("failed run: %+v", j)
	}

	queued := failed
	queued.State = jobs.Queued
	j := job(queued)
	if j.Result != nil || j.Error != "" || j.Finished != nil || j.Started != nil || j.Done != 0 || j.Note != "" || j.Runs != 4 {
		t.Errorf("queued run shows the earlier one: %+v", j)
	}
	running := failed
	running.State, running.Started, running.Finished, running.Done, running.Total = jobs.Running, time.Unix(200, 0), time.Time{}, 1, 5
	j = job(running)
	if j.Result != nil || j.Error != "" || j.Finished != nil || j.Started == nil || !j.Started.Equal(time.Unix(200, 0)) || j.Done != 1 {
		t.Errorf("running: %+v", j)
	}
}
