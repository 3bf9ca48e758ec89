package kv

import "testing"

// openBadger opens a Badger store with o for the test, closed when it
// ends.
func openBadger(t testing.TB, o Options) *Badger {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
