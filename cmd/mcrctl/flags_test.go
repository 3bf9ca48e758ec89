package main

import (
	"context"
	"strings"
	"testing"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// Global flags work after the command too, as docs/mcrctl.md says.
func TestGlobalFlagsAfterCommand(t *testing.T) {
	var st apiv1.Status
	admin(t, "status", "-o", "json").ok(t).decode(t, &st)
	if st.Version == "" {
		t.Errorf("%+v", st)
	}
	var l apiv1.RuleList
	admin(t, "policy", "ls", "--output", "json").ok(t).decode(t, &l)
	if len(l.Rules) == 0 {
		t.Errorf("%+v", l)
	}
}

func TestUnknownCommand(t *testing.T) {
	admin(t, "repo", "bogus").want(t, exitUsage, "unknown command 'bogus'")
	admin(t, "bogus").want(t, exitUsage, "unknown command")
}

// waitJob prints each change of progress once, on stderr, and ends with
// the finished job; jobFailure makes a failed one exit 1.
func TestWaitJobProgress(t *testing.T) {
	seq := []apiv1.Job{
		{Kind: "gc", State: "queued"},
		{Kind: "gc", State: "running", Done: 1, Total: 10, Note: "mark"},
		{Kind: "gc", State: "running", Done: 1, Total: 10, Note: "mark"},
		{Kind: "gc", State: "running", Done: 7, Total: 10, Note: "sweep"},
		{Kind: "gc", State: "failed", Error: "disk on fire"},
	}
	var errb syncBuffer
	i := 0
	j, err := waitJob(context.Background(), &streams{Err: &errb}, func(context.Context) (apiv1.Job, error) {
		i++
		return seq[i-1], nil
	})
	if err != nil || j.State != "failed" || i != len(seq) {
		t.Fatalf("waitJob: %+v %v after %d polls", j, err, i)
	}
	want := "gc: queued\ngc: running 1/10 (mark)\ngc: running 7/10 (sweep)\n"
	if errb.String() != want {
		t.Errorf("progress:\n%s\nwant:\n%s", errb.String(), want)
	}
	if err := jobFailure(j); exitCode(err) != exitError || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("jobFailure: %v", err)
	}
	if err := jobFailure(apiv1.Job{State: "succeeded"}); err != nil {
		t.Errorf("a succeeded job: %v", err)
	}
}
