package server

import (
	"hash/maphash"
	"strconv"
	"sync"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/http/auth"
	"git.wntrmute.dev/kyle/mcr/http/forwarded"
)

// uploadGate bounds the uploads one caller streams at once: an account,
// or the remote address of an anonymous push. Without it one account's
// stalled uploads could hold every upload worker (jobs.Pool) while other
// accounts' pushes queue behind them. Counts live in shards so that no
// one lock is taken by every upload.
type uploadGate struct {
	per     int
	proxies forwarded.Trust // whose X-Forwarded-For names an anonymous caller
	seed    maphash.Seed
	shards  [gateShards]gateShard
}

const gateShards = 32

type gateShard struct {
	mu sync.Mutex
	n  map[string]int // callers with uploads in flight, never 0
}

// retryAfterSecs is the Retry-After of a refused upload: the slots are
// held by uploads in progress, which a short wait may see end.
const retryAfterSecs = 5

func newUploadGate(per int, proxies forwarded.Trust) *uploadGate {
	g := &uploadGate{per: per, proxies: proxies, seed: maphash.MakeSeed()}
	for i := range g.shards {
		g.shards[i].n = map[string]int{}
	}
	return g
}

// callerKey names who a request counts against: its account, or the
// client's address (behind a trusted proxy, the one it forwards).
func (g *uploadGate) callerKey(ctx *fasthttp.RequestCtx) string {
	if s := auth.Subject(ctx); s != "" {
		return "account:" + s
	}
	return "addr:" + g.proxies.ClientIP(ctx).String()
}

// Admit counts an upload against its caller, or refuses it with 429 past
// the bound. leave ends the upload's count.
func (g *uploadGate) Admit(ctx *fasthttp.RequestCtx) (leave func(), err error) {
	key := g.callerKey(ctx)
	sh := &g.shards[maphash.String(g.seed, key)%gateShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.n[key] >= g.per {
		return nil, &retryError{
			err:  errcode.New(errcode.TooManyRequests, "%d uploads of this caller are in progress already; retry later", g.per),
			secs: retryAfterSecs,
		}
	}
	sh.n[key]++
	return func() {
		sh.mu.Lock()
		defer sh.mu.Unlock()
		if sh.n[key]--; sh.n[key] == 0 {
			delete(sh.n, key)
		}
	}, nil
}

// retryError is a 429 that tells the client when to retry; WriteError
// sets its header.
type retryError struct {
	err  *errcode.Error
	secs int
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// SetHeaders adds Retry-After.
func (e *retryError) SetHeaders(h *fasthttp.ResponseHeader) {
	h.Set(fasthttp.HeaderRetryAfter, strconv.Itoa(e.secs))
}
