package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// TestReplicasRepoDeletionOnLeader: deleting a repository (mcrctl repo
// rm) asked of a follower runs on the leader, whose writes the lease
// fences, and its status reads the same through every replica. Asked while
// the leader is paused, the deletion is carried out by the replica that
// takes over; the old leader, resumed, does not run it.
func TestReplicasRepoDeletionOnLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and pauses server processes")
	}
	c := startCluster(t, 2)
	leader, _ := c.waitLeader(t, nil, 30*time.Second)
	follower := c.pick(leader)
	seedGarbage(t, c, 8) // repositories garbage/g0 … garbage/g7

	remove := func(r *child, repo string) string {
		t.Helper()
		res, b := send(t, "DELETE", "http://"+r.addr+"/api/v1/repositories/"+repo, nil)
		var j apiv1.Job
		if res.StatusCode != http.StatusAccepted || json.Unmarshal(b, &j) != nil || (j.State != "queued" && j.State != "running") {
			t.Fatalf("DELETE %s on %s: %s %s", repo, r.addr, res.Status, b)
		}
		return j.Kind
	}
	succeeded := func(r *child, kind string, within time.Duration) {
		t.Helper()
		wait.Within(t, within, kind+" to succeed, seen through "+r.addr, func() bool {
			var j apiv1.Job
			return adminGet(r, "jobs/"+kind, &j) == nil && j.State == "succeeded"
		})
	}
	gone := func(r *child, repo string) {
		t.Helper()
		if res, b := send(t, "GET", "http://"+r.addr+"/api/v1/repositories/"+repo, nil); res.StatusCode != http.StatusNotFound {
			t.Fatalf("%s after its deletion, through %s: %s %s", repo, r.addr, res.Status, b)
		}
	}

	first := remove(follower, "garbage/g0")
	succeeded(follower, first, time.Minute)
	succeeded(leader, first, time.Minute)
	gone(follower, "garbage/g0")
	gone(leader, "garbage/g0")

	if err := leader.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	second := remove(follower, "garbage/g1")
	succeeded(follower, second, takeoverBound+time.Minute)
	gone(follower, "garbage/g1")
	if err := leader.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	wait.Within(t, 30*time.Second, "the resumed leader to see the new one", func() bool {
		var st apiv1.Status
		return adminGet(leader, "status", &st) == nil && !st.Leader.Self && strings.HasSuffix(st.Leader.Replica, "/"+follower.addr)
	})
	succeeded(leader, second, time.Minute)
	gone(leader, "garbage/g1")
	if res, b := send(t, "GET", "http://"+leader.addr+"/api/v1/repositories/garbage/g2", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("a repository nobody deleted: %s %s", res.Status, b)
	}
	for _, r := range []*child{leader, follower} {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		_ = r.cmd.Wait()
	}

	// Who ran what, from the replicas' logs ("job finished" names the
	// kind and how it ended).
	ran := func(r *child, kind string) bool {
		for _, line := range strings.Split(r.log.String(), "\n") {
			if strings.Contains(line, `"job":"`+kind+`"`) && strings.Contains(line, "job finished") {
				return true
			}
		}
		return false
	}
	if !ran(leader, first) || ran(follower, first) {
		t.Errorf("%s: ran on the leader %v, on the follower %v; want only the leader", first, ran(leader, first), ran(follower, first))
	}
	if ran(leader, second) || !ran(follower, second) {
		t.Errorf("%s: ran on the paused old leader %v, on its successor %v; want only the successor", second, ran(leader, second), ran(follower, second))
	}
}
