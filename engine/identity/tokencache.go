package identity

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
)

// maxCachedTokens bounds the verified-token cache. Past it the cache is
// dropped whole and refills from live traffic: simpler than an LRU, and a
// CI fleet holds far fewer live tokens than this.
const maxCachedTokens = 16384

// tokenCache remembers access tokens whose signature and claims were
// verified, keyed by the token's SHA-256, until they expire. An Ed25519
// verification costs tens of microseconds, more than the rest of a
// manifest GET; a client sends the same token for every request of a pull.
// Cached claims are shared and never modified.
type tokenCache struct {
	m atomic.Pointer[tokenMap]
}

type tokenMap struct {
	entries sync.Map // [32]byte → *Claims
	n       atomic.Int64
}

func (c *tokenCache) current() *tokenMap {
	if m := c.m.Load(); m != nil {
		return m
	}
	c.m.CompareAndSwap(nil, &tokenMap{})
	return c.m.Load()
}

// get returns the claims of a token verified before, if it has not
// expired at now. The same leeway as parse applies, so a token is never
// valid longer from the cache than it would be when verified.
func (c *tokenCache) get(tok string, now time.Time) (*Claims, bool) {
	m := c.current()
	key := sha256.Sum256([]byte(tok))
	v, ok := m.entries.Load(key)
	if !ok {
		return nil, false
	}
	cl := v.(*Claims)
	if cl.ExpiresAt == nil || !now.Before(cl.ExpiresAt.Add(tokenLeeway)) {
		m.entries.Delete(key)
		return nil, false
	}
	return cl, true
}

func (c *tokenCache) put(tok string, cl *Claims) {
	m := c.current()
	if m.n.Add(1) > maxCachedTokens {
		c.m.CompareAndSwap(m, &tokenMap{})
		return
	}
	m.entries.Store(sha256.Sum256([]byte(tok)), cl)
}
