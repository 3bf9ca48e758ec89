package identity

import (
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/clock"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

func TestVerifiedTokenCache(t *testing.T) {
	c := clock.At(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := newService(t, newStore(t), c, Options{Service: "registry.test", TokenTTL: time.Minute})
	iss, err := s.IssueToken(Principal{ID: "id-1", Name: "ci", Type: System}, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.VerifyToken(iss.Token)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.VerifyToken(iss.Token)
	if err != nil || second != first {
		t.Fatalf("second verification did not come from the cache: %p vs %p, %v", second, first, err)
	}
	// A token differing from a cached one in any byte is verified afresh.
	// The changed character is inside the signature, not its last one: the
	// final base64url character carries padding bits, and a change there
	// can decode to the same signature.
	tampered := tamper(iss.Token, len(iss.Token)-10)
	if _, err := s.VerifyToken(tampered); errcode.KindOf(err) != errcode.Unauthorized {
		t.Errorf("tampered token after caching the original: %v", err)
	}
	// Cached or not, a token is dead once expired (leeway included).
	c.Add(time.Minute + 4*time.Second)
	if _, err := s.VerifyToken(iss.Token); err != nil {
		t.Errorf("token inside the leeway refused: %v", err)
	}
	c.Add(2 * time.Second)
	if _, err := s.VerifyToken(iss.Token); errcode.KindOf(err) != errcode.Unauthorized {
		t.Errorf("expired cached token accepted: %v", err)
	}
}

// tamper returns tok with the character at i replaced by a different one.
func tamper(tok string, i int) string {
	c := byte('A')
	if tok[i] == c {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

func TestTokenCacheBounded(t *testing.T) {
	var tc tokenCache
	exp := &Claims{}
	for i := range maxCachedTokens + 10 {
		tc.put(string(rune(i))+"tok", exp)
	}
	n := 0
	tc.current().entries.Range(func(_, _ any) bool { n++; return true })
	if n > maxCachedTokens {
		t.Fatalf("cache holds %d tokens, bound is %d", n, maxCachedTokens)
	}
}

func BenchmarkVerifyToken(b *testing.B) {
	c := clock.At(time.Now())
	s := newService(b, newStore(b), c, Options{Service: "registry.test", TokenTTL: time.Hour})
	iss, err := s.IssueToken(Principal{ID: "id-1", Name: "ci", Type: System}, []Access{{Type: "repository", Name: "ci/app", Actions: []string{"pull"}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.VerifyToken(iss.Token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("signature", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.parse(iss.Token, useAccess); err != nil {
				b.Fatal(err)
			}
		}
	})
}
