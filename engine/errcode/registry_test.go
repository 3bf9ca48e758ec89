package errcode

import (
	"errors"
	"fmt"
	"testing"
)

// Every kind is registered, once, with an answer on every surface; only
// the server's own failures (internal, a store that does not answer, a
// full disk) are 5xx, and only Internal is gRPC's INTERNAL.
func TestRegistry(t *testing.T) {
	seen := map[string]Kind{}
	for _, k := range Kinds() {
		d := k.Describe()
		if d.Name == "" || d.OCI.Code == "" || d.Admin.Code == "" || d.GRPC == "" {
			t.Errorf("kind %d is not registered in full: %+v", k, d)
			continue
		}
		if prev, dup := seen[d.Name]; dup {
			t.Errorf("kinds %d and %d are both named %s", prev, k, d.Name)
		}
		seen[d.Name] = k
		if got, ok := Named(d.Name); !ok || got != k {
			t.Errorf("Named(%q) = %d, %v", d.Name, got, ok)
		}
		for surface, a := range map[string]Answer{"OCI": d.OCI, "admin": d.Admin} {
			if a.Status < 400 || a.Status > 599 {
				t.Errorf("%s: %s status %d is no error status", d.Name, surface, a.Status)
			}
			if (a.Status >= 500) != k.ServerFault() {
				t.Errorf("%s: %s status %d: only the server's own failures are 5xx", d.Name, surface, a.Status)
			}
		}
		if (d.GRPC == "INTERNAL" || d.GRPC == "UNKNOWN") != (k == Internal) {
			t.Errorf("%s: gRPC %s: only Internal is INTERNAL", d.Name, d.GRPC)
		}
	}
	if len(seen) != int(kindCount) {
		t.Errorf("%d kinds registered, want %d", len(seen), kindCount)
	}
}

// sentinel names its kind the way the packages below the engine do.
type sentinel string

func (s sentinel) Error() string     { return "sentinel" }
func (s sentinel) ErrorKind() string { return string(s) }

// The outermost error that names a kind decides; a client reads only the
// message of that error, never the text of what wraps or what it wraps.
func TestPublic(t *testing.T) {
	busy := sentinel("TooManyRequests")
	cases := []struct {
		name string
		err  error
		kind Kind
		msg  string
	}{
		{"plain error", errors.New("disk on fire at /secret"), Internal, "internal error"},
		{"engine error", New(NameUnknown, "no %s", "x"), NameUnknown, "no x"},
		{"sentinel below the engine", fmt.Errorf("repository a at /secret: %w", busy), TooManyRequests, "sentinel"},
		{"engine error over a sentinel", Wrap(Conflict, busy, "exists"), Conflict, "exists"},
		{"internal engine error over a sentinel", Wrap(Internal, busy, "bug"), Internal, "internal error"},
		{"unknown kind name", sentinel("NoSuchKind"), Internal, "internal error"},
	}
	for _, c := range cases {
		k, msg, _ := Public(c.err)
		if k != c.kind || msg != c.msg || KindOf(c.err) != c.kind {
			t.Errorf("%s: Public = %s %q, want %s %q", c.name, k, msg, c.kind, c.msg)
		}
	}
}
