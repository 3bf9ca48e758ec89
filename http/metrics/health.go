package metrics

import (
	"encoding/json"
	"errors"
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

// Degraded is a readiness check's answer for a registry that serves with
// less than its full service: a disk below its floor refuses pushes (507)
// and still serves pulls, deletes and GC.
type Degraded struct{ Reason string }

func (d *Degraded) Error() string { return d.Reason }

// Readyz answers GET /readyz: 200 when check (nil: always ready) passes;
// 200 with {"status":"degraded","reason":"..."} when it returns a
// *Degraded, so that a load balancer keeps routing the reads the registry
// still serves while a monitor sees the condition; else 503 with
// {"status":"unavailable","reason":"..."}, so a load balancer stops
// sending traffic to a registry that cannot serve.
func Readyz(check func() error) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		if check != nil {
			err := check()
			var d *Degraded
			if errors.As(err, &d) {
				b, _ := json.Marshal(map[string]string{"status": "degraded", "reason": d.Reason})
				ctx.SetBody(b)
				return
			}
			if err != nil {
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
