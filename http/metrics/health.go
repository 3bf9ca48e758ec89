package metrics

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/valyala/fasthttp"
)

// Healthz answers GET /healthz: 200 while the process serves requests.
// It checks nothing else, so an orchestrator restarts only a process that
// no longer answers.
func Healthz(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"status":"ok"}`)
}

// Readyz answers GET /readyz: 200 when check (nil: always ready) passes,
// else 503 with {"status":"unavailable","reason":"..."}, so a load balancer
// stops sending traffic to a registry that cannot store what it is sent.
func Readyz(check func() error) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		if check != nil {
			if err := check(); err != nil {
				b, _ := json.Marshal(map[string]string{"status": "unavailable", "reason": err.Error()})
				ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
				ctx.SetBody(b)
				return
			}
		}
		ctx.SetBodyString(`{"status":"ready"}`)
	}
}

// DirWritable proves dir takes writes: it creates a small probe file in
// it, syncs it to disk and removes it. A unique name keeps concurrent
// probes apart; a full disk, a read-only mount or a missing directory
// fails it.
func DirWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".readyz-*")
	if err != nil {
		return fmt.Errorf("data directory not writable: %w", err)
	}
	name := f.Name()
	_, err = f.Write([]byte("ok\n"))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("data directory not writable: %w", err)
	}
	return nil
}
