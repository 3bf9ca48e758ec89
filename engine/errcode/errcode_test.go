package errcode

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Client input echoed in a message or a detail is clipped to MaxEcho
// bytes on a rune boundary; short input and the caller's arguments are
// left alone.
func TestClip(t *testing.T) {
	long := strings.Repeat("a", 10_000)
	e := New(NameInvalid, "invalid name %q", long).WithDetail(map[string]string{"name": long, "short": "ok"})
	if len(e.Message) > MaxEcho+64 || !strings.HasSuffix(e.Message, `…"`) {
		t.Errorf("message of %d bytes: %.80s", len(e.Message), e.Message)
	}
	d := e.Detail.(map[string]string)
	if len(d["name"]) != MaxEcho+len("…") || d["short"] != "ok" {
		t.Errorf("detail %d bytes, short %q", len(d["name"]), d["short"])
	}
	if w := Wrap(Invalid, nil, "%s", long); len(w.Message) != MaxEcho+len("…") {
		t.Errorf("wrapped message of %d bytes", len(w.Message))
	}
	if s := stringDetail(long); len(s) != MaxEcho+len("…") {
		t.Errorf("string detail of %d bytes", len(s))
	}
	// A multi-byte rune across the cut is not split.
	multi := strings.Repeat("a", MaxEcho-1) + "é" + "tail"
	if c := Clip(multi); !utf8.ValidString(c) || c != strings.Repeat("a", MaxEcho-1)+"…" {
		t.Errorf("clip across a rune: %q", c[len(c)-8:])
	}
	if Clip("short") != "short" {
		t.Error("short input changed")
	}
	args := []any{long}
	_ = New(Invalid, "%s", args...)
	if args[0] != long {
		t.Error("the caller's arguments were changed")
	}
}

// stringDetail is the clipped detail of a string.
func stringDetail(s string) string {
	return New(Invalid, "x").WithDetail(s).Detail.(string)
}
