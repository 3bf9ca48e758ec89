package policy

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// followWithin is how soon a rule changed through one replica must
// decide requests on every other (issue #17: within one second).
const followWithin = time.Second

// TestFollowAcrossReplicas runs two engines on two stores of one
// PostgreSQL database, as two replicas: a rule put, replaced and deleted
// through one decides requests on the other within a second, each time.
func TestFollowAcrossReplicas(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dsn := pgtest.Database(t)
	engines := make([]*Engine, 2)
	var wg sync.WaitGroup
	for i := range engines {
		var err error
		if engines[i], err = NewEngine(ctx, enginetest.Postgres(t, dsn, 2), nil); err != nil {
			t.Fatal(err)
		}
		e := engines[i]
		wg.Go(func() { e.Follow(ctx, func(err error) { t.Errorf("reload: %v", err) }) })
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	a, b := engines[0], engines[1]
	q := robot.do(Push, "ci/app")
	await := func(what string, allowed bool) {
		t.Helper()
		start := time.Now()
		for b.Evaluate(q).Allowed != allowed {
			if time.Since(start) > followWithin {
				t.Fatalf("%s: the other replica still decides allowed=%t after %s", what, !allowed, followWithin)
			}
			time.Sleep(time.Millisecond) // polling an in-memory decision, bounded above
		}
		t.Logf("%s: seen by the other replica after %s", what, time.Since(start))
	}
	if err := a.Put(ctx, allow("ci-push", 10, Subject{AccountID: "u-ci"}, []Action{Pull, Push}, "ci/*")); err != nil {
		t.Fatal(err)
	}
	await("new allow rule", true)
	deny := allow("ci-push", 10, Subject{AccountID: "u-ci"}, []Action{Pull, Push}, "ci/*")
	deny.Effect = Deny
	if err := a.Replace(ctx, deny); err != nil {
		t.Fatal(err)
	}
	await("allow replaced by deny", false)
	if err := a.Put(ctx, allow("ci-push", 10, Subject{AccountID: "u-ci"}, []Action{Pull, Push}, "ci/*")); err != nil {
		t.Fatal(err)
	}
	await("deny replaced by allow", true)
	if _, err := a.Delete(ctx, "ci-push"); err != nil {
		t.Fatal(err)
	}
	await("rule deleted", false)
}
