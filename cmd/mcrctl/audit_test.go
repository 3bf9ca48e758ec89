package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// events runs audit ls -o json with args.
func events(t *testing.T, args ...string) apiv1.EventPage {
	t.Helper()
	var p apiv1.EventPage
	admin(t, append([]string{"-o", "json", "audit", "ls"}, args...)...).ok(t).decode(t, &p)
	return p
}

func TestAuditLs(t *testing.T) {
	d1, _ := pushImage(t, "audit/app", "v1", "audited one")
	d2, _ := pushImage(t, "audit/app", "v2", "audited two")
	var pushes apiv1.EventPage
	wait.For(t, "the push events", func() bool {
		pushes = events(t, "--type", "push", "--repository", "audit/app")
		seen := map[string]bool{}
		for _, e := range pushes.Events {
			seen[e.Digest] = true
		}
		return seen[d1] && seen[d2]
	})
	for i, e := range pushes.Events {
		if e.Type != "push" || e.Repository != "audit/app" || e.AccountName != "admin" || e.Outcome != "success" || e.Hash == "" {
			t.Errorf("filtered by type and repository: %+v", e)
		}
		if i > 0 && e.Seq <= pushes.Events[i-1].Seq {
			t.Errorf("not oldest first: %d after %d", e.Seq, pushes.Events[i-1].Seq)
		}
	}
	n := len(pushes.Events)
	if n < 6 { // per image: a config, a layer, a manifest
		t.Errorf("%d push events for two images", n)
	}

	byDigest := events(t, "--digest", d1)
	if len(byDigest.Events) == 0 {
		t.Error("no event for the first manifest's digest")
	}
	for _, e := range byDigest.Events {
		if e.Digest != d1 {
			t.Errorf("--digest %s: %+v", d1, e)
		}
	}
	for _, e := range events(t, "--actor", "admin", "--type", "push", "--limit", "20").Events {
		if e.AccountName != "admin" || e.Type != "push" {
			t.Errorf("--actor admin --type push: %+v", e)
		}
	}

	// A failed login, found by type and outcome.
	resp := basic(t, "mallory", "guess", http.MethodGet, srv.base+"/api/v1/status", "", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad credentials: %s", resp.Status)
	}
	wait.For(t, "the failed login", func() bool {
		for _, e := range events(t, "--type", "login_failed", "--outcome", "failure").Events {
			if e.Type != "login_failed" || e.Outcome != "failure" {
				t.Fatalf("--type login_failed --outcome failure: %+v", e)
			}
			if e.AccountName == "mallory" || strings.Contains(e.Detail, "mallory") {
				return true
			}
		}
		return false
	})

	// --limit caps the walk and hands back the cursor; --page-size makes
	// the walk follow cursors.
	lim := events(t, "--type", "push", "--repository", "audit/app", "--limit", "1")
	if len(lim.Events) != 1 || lim.Next == "" || lim.Events[0].Seq != pushes.Events[0].Seq {
		t.Errorf("--limit 1: %+v", lim)
	}
	paged := events(t, "--type", "push", "--repository", "audit/app", "--page-size", "2")
	if len(paged.Events) != n || paged.Events[n-1].Seq != pushes.Events[n-1].Seq {
		t.Errorf("--page-size 2 walked %d events, want %d", len(paged.Events), n)
	}

	// Time bounds, RFC 3339 or a duration ago.
	if p := events(t, "--type", "push", "--repository", "audit/app", "--since", "1h"); len(p.Events) != n {
		t.Errorf("--since 1h: %d events, want %d", len(p.Events), n)
	}
	if p := events(t, "--type", "push", "--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); len(p.Events) != 0 {
		t.Errorf("--since an hour ahead: %+v", p.Events)
	}
	if p := events(t, "--until", "2000-01-01T00:00:00Z"); len(p.Events) != 0 {
		t.Errorf("--until 2000: %+v", p.Events)
	}
	admin(t, "audit", "ls", "--since", "yesterday").want(t, exitUsage, "--since")

	if out := admin(t, "audit", "ls", "--type", "push", "--repository", "audit/app").ok(t).stdout; !strings.Contains(out, "SEQ") || strings.Count(out, "audit/app") != n {
		t.Errorf("audit ls table:\n%s", out)
	}

	// tail: the newest events, one JSON document a line.
	r := admin(t, "-o", "json", "audit", "tail", "-n", "2", "--type", "push", "--repository", "audit/app").ok(t)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("tail -n 2:\n%s", r.stdout)
	}
	for i, l := range lines {
		var e apiv1.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Seq != pushes.Events[n-2+i].Seq {
			t.Errorf("tail line %d: %v %s", i, err, l)
		}
	}
}

func TestAuditVerify(t *testing.T) {
	var v apiv1.Verification
	admin(t, "-o", "json", "audit", "verify").ok(t).decode(t, &v)
	if !v.OK || v.Events == 0 || v.Last < v.First || v.Broken != nil {
		t.Errorf("verify: %+v", v)
	}
	if out := admin(t, "audit", "verify").ok(t).stdout; !strings.Contains(out, "true") {
		t.Errorf("verify table:\n%s", out)
	}
}

// tail -f follows with the long poll until its context ends, then exits 0.
func TestAuditTailFollow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"mcrctl", "-o", "json", "audit", "tail", "-f", "-n", "0", "--type", "push", "--repository", "follow/app"},
			streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(k string) string {
				if k == "MCR_CONFIG" {
					return srv.adminCfg
				}
				return ""
			}})
	}()
	// Events before the follower attached are not printed (-n 0), and the
	// server (another process) does not say when it has: push until one
	// of the pushes shows, then one that can only arrive live.
	var pushed []string
	wait.For(t, "a push followed live", func() bool {
		d, _ := pushImage(t, "follow/app", fmt.Sprintf("v1.%d", len(pushed)), fmt.Sprintf("followed %d", len(pushed)))
		pushed = append(pushed, d)
		return slices.ContainsFunc(pushed, func(d string) bool { return strings.Contains(out.String(), d) })
	})
	d2, _ := pushImage(t, "follow/app", "v2", "followed again")
	wait.For(t, "the second followed push", func() bool { return strings.Contains(out.String(), d2) })
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("tail -f exit %d: %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tail -f did not stop when its context ended")
	}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e apiv1.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Type != "push" || e.Repository != "follow/app" {
			t.Errorf("followed line: %v %s", err, l)
		}
	}
}

// An aggregated event's count shows in the table's detail column.
func TestDetailOfAggregate(t *testing.T) {
	for _, c := range []struct {
		e    apiv1.Event
		want string
	}{
		{apiv1.Event{Detail: "wrong password", Count: 40}, "wrong password (x40)"},
		{apiv1.Event{Count: 3}, "(x3)"},
		{apiv1.Event{Detail: "once"}, "once"},
	} {
		if got := detailOf(c.e); got != c.want {
			t.Errorf("detailOf(%+v) = %q, want %q", c.e, got, c.want)
		}
	}
}
