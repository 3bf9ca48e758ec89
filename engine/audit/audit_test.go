package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestLog(t *testing.T) {
	var b bytes.Buffer
	Log{L: zerolog.New(&b)}.Record(context.Background(), Event{
		Time: time.Unix(1, 0), Kind: Denied, AccountName: "ci", Repository: "prod/app", Action: "push", Outcome: "denied",
	})
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%s: %v", b.String(), err)
	}
	if got["event"] != "denied" || got["account"] != "ci" || got["repository"] != "prod/app" || got["component"] != "audit" {
		t.Errorf("logged %v", got)
	}
	if _, ok := got["digest"]; ok {
		t.Error("empty fields are logged")
	}
	ctx := WithActor(context.Background(), Actor{Name: "root"})
	if ActorFrom(ctx).Name != "root" || ActorFrom(context.Background()) != (Actor{}) {
		t.Error("actor context")
	}
}

// A Tee passes each event to every recorder, Nop among them, in order.
func TestTee(t *testing.T) {
	var a, b bytes.Buffer
	Tee{Log{L: zerolog.New(&a)}, Nop{}, Log{L: zerolog.New(&b)}}.Record(context.Background(), Event{Kind: Push, Repository: "r"})
	for _, out := range []*bytes.Buffer{&a, &b} {
		var got map[string]any
		if err := json.Unmarshal(out.Bytes(), &got); err != nil || got["event"] != "push" || got["repository"] != "r" {
			t.Errorf("teed event: %s (%v)", out.String(), err)
		}
	}
}
