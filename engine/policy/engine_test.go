package policy

import (
	"context"
	"sync"
	"testing"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/audit/audittest"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/kv"
)

func newEngine(t *testing.T) (*Engine, kv.Store) {
	t.Helper()
	store := enginetest.Memory(t)
	e, err := NewEngine(context.Background(), store, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e, store
}

func TestEngineStoreAndCache(t *testing.T) {
	rec := &audittest.Recorder{}
	ctx := audit.WithActor(context.Background(), audit.Actor{ID: "u-root", Name: "root"})
	e, store := newEngine(t)
	e.WithAudit(rec)
	q := robot.do(Push, "ci/app")
	if e.Evaluate(q).Allowed {
		t.Fatal("system account allowed before any rule")
	}
	ci := allow("ci-push", 10, Subject{AccountID: "u-ci"}, []Action{Pull, Push}, "ci/*")
	ci.Description = "CI pushes to ci/"
	if err := e.Put(ctx, ci); err != nil {
		t.Fatal(err)
	}
	if d := e.Evaluate(q); !d.Allowed || d.Rule.ID != "ci-push" {
		t.Fatalf("after Put: %+v", d)
	}
	// A second engine on the same store sees the rule: it was stored.
	e2, err := NewEngine(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := e2.Rule("ci-push"); !ok || r.Description != ci.Description || r.Repositories[0] != "ci/*" {
		t.Fatalf("reloaded rule %+v %v", r, ok)
	}
	if found, err := e.Delete(ctx, "ci-push"); err != nil || !found {
		t.Fatalf("Delete: %v %v", found, err)
	}
	if found, _ := e.Delete(ctx, "ci-push"); found {
		t.Error("deleted twice")
	}
	if e.Evaluate(q).Allowed {
		t.Error("allowed after Delete")
	}
	if ev := rec.Events(); len(ev) != 2 || ev[0].Kind != audit.PolicyChanged || ev[0].AccountName != "root" || ev[1].Action != "delete" {
		t.Errorf("audit events %+v", ev)
	}
}

func TestEngineBuiltInsFixed(t *testing.T) {
	ctx := context.Background()
	e, _ := newEngine(t)
	r := BuiltIns()[0]
	r.Effect = Deny
	if err := e.Put(ctx, r); errcode.KindOf(err) != errcode.Conflict {
		t.Errorf("Put built-in: %v", err)
	}
	if _, err := e.Delete(ctx, "builtin:admin"); errcode.KindOf(err) != errcode.Conflict {
		t.Errorf("Delete built-in: %v", err)
	}
	if err := e.Put(ctx, Rule{ID: "bad", Effect: Allow}); errcode.KindOf(err) != errcode.Invalid {
		t.Errorf("Put invalid: %v", err)
	}
	if n := len(e.Rules()); n != len(BuiltIns()) {
		t.Errorf("%d rules, want the %d built-ins", n, len(BuiltIns()))
	}
}

// Evaluation runs while rules change: the race detector checks that the
// snapshot swap is safe without a lock on the read path.
func TestEngineConcurrent(t *testing.T) {
	ctx := context.Background()
	e, _ := newEngine(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					_ = e.Evaluate(alice.do(Pull, "a/b"))
				}
			}
		})
	}
	for i := range 20 {
		r := allow("r", i, Subject{}, []Action{Pull}, "a/*")
		if err := e.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// Create refuses an existing id and Replace an unknown one, so the admin
// API's POST and PUT cannot silently do the other's job.
func TestEngineCreateReplace(t *testing.T) {
	ctx := context.Background()
	e, _ := newEngine(t)
	r := allow("r1", 10, Subject{AccountType: "system"}, []Action{Pull}, "ci/**")
	if err := e.Replace(ctx, r); errcode.KindOf(err) != errcode.NotFound {
		t.Fatalf("Replace of an unknown rule: %v", err)
	}
	if err := e.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := e.Create(ctx, r); errcode.KindOf(err) != errcode.Conflict {
		t.Fatalf("Create twice: %v", err)
	}
	r.Actions = []Action{Pull, Push}
	if err := e.Replace(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.Rule("r1"); len(got.Actions) != 2 {
		t.Errorf("replaced rule %+v", got)
	}
}
