package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
	"git.wntrmute.dev/kyle/mcr/http/server"
	"git.wntrmute.dev/kyle/mcr/http/servertest"
	"git.wntrmute.dev/kyle/mcr/jobs"
)

// newTCPRegistry serves what c says on a real 127.0.0.1 socket, so that
// tests can write raw requests and see exactly what goes over TCP.
func newTCPRegistry(t *testing.T, c servertest.Config) *servertest.Registry {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	c.Listener, c.Dial = ln, func() (net.Conn, error) { return net.Dial("tcp", addr) }
	return servertest.Serve(t, c)
}

// recordingStreamer is the real upload pool, remembering the context of
// every upload it ran so that a test can watch it.
type recordingStreamer struct {
	*jobs.Pool
	ctxs chan context.Context
}

func newRecordingStreamer(t *testing.T, workers int) *recordingStreamer {
	p := jobs.NewPool(workers, 4096)
	t.Cleanup(p.Close)
	return &recordingStreamer{Pool: p, ctxs: make(chan context.Context, 1024)}
}

func (r *recordingStreamer) Do(ctx context.Context, fn func(context.Context)) error {
	r.ctxs <- ctx
	return r.Pool.Do(ctx, fn)
}

// next is the context of the next upload to reach the pool.
func (r *recordingStreamer) next(t *testing.T) context.Context {
	t.Helper()
	select {
	case c := <-r.ctxs:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no upload reached the pool")
		return nil
	}
}

// rawConn is a client connection written to byte by byte.
type rawConn struct {
	t testing.TB
	net.Conn
	r *bufio.Reader
}

func raw(tr *servertest.Registry) *rawConn {
	tr.T.Helper()
	c, err := tr.Dial()
	if err != nil {
		tr.T.Fatal(err)
	}
	tr.T.Cleanup(func() { _ = c.Close() })
	return &rawConn{t: tr.T, Conn: c, r: bufio.NewReader(c)}
}

func (c *rawConn) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		c.t.Fatal(err)
	}
}

// response reads one response, within 10 s.
func (c *rawConn) response() *http.Response {
	c.t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(c.r, nil)
	if err != nil {
		c.t.Fatalf("reading the response: %v", err)
	}
	return res
}

// closedWithin fails unless the server closes the connection, sending
// nothing, within d.
func (c *rawConn) closedWithin(d time.Duration) {
	c.t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c.r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open after %s", d)
	}
	if len(b) > 0 {
		c.t.Fatalf("the server answered a cut-off request: %q", b)
	}
}

// TestEarlyRefusal sends headers declaring 10 GiB, with and without
// Expect: 100-continue, and no body at all: the 413 must come at once (a
// server waiting for the body would hang here), with no 100 Continue
// before it, and the connection must close.
func TestEarlyRefusal(t *testing.T) {
	tr := newTCPRegistry(t, servertest.Config{})
	for _, rt := range []struct{ method, path, code string }{
		{"PUT", "/v2/app/manifests/latest", "SIZE_INVALID"},
		{"POST", "/api/v1/policy/rules", "TOO_LARGE"},
		{"POST", "/v2/token", "SIZE_INVALID"},
		{"GET", "/v2/app/tags/list", "SIZE_INVALID"},
	} {
		for _, expect := range []string{"", "Expect: 100-continue\r\n"} {
			c := raw(tr)
			c.send(rt.method + " " + rt.path + " HTTP/1.1\r\nHost: registry.test\r\nContent-Type: application/json\r\n" +
				expect + "Content-Length: 10737418240\r\n\r\n")
			res := c.response()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 413 || !bytes.Contains(body, []byte(rt.code)) {
				t.Errorf("%s %s (%q): %d %s, want 413 %s", rt.method, rt.path, expect, res.StatusCode, body, rt.code)
			}
			c.closedWithin(5 * time.Second)
		}
	}
	// Within its limit, the same request is let through: 100 Continue.
	c := raw(tr)
	c.send("PUT /v2/app/manifests/latest HTTP/1.1\r\nHost: registry.test\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := c.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Errorf("a manifest within the limit: %q, %v; want 100 Continue", line, err)
	}
}

// chunkedUpload opens a session and acknowledges first through a PATCH.
func chunkedUpload(tr *servertest.Registry, repo string, first []byte) string {
	tr.T.Helper()
	r := tr.Do("POST", "/v2/"+repo+"/blobs/uploads/", nil)
	tr.Expect(r, 202, "", "open a session")
	loc := r.Header.Get("Location")
	r = tr.Do("PATCH", loc, first, "Content-Type", "application/octet-stream")
	tr.Expect(r, 202, "", "first chunk")
	return loc
}

// quiesce waits until the server has no connection open, so that a
// cut-off request's handler has returned (it may still record what
// arrived): the client's idle connections are closed first.
func quiesce(tr *servertest.Registry) {
	tr.T.Helper()
	tr.Client.CloseIdleConnections()
	wait.For(tr.T, "every connection to close", func() bool { return server.OpenConns(tr.Srv) == 0 })
}

// offset is the session's offset, checked to lie between what was
// acknowledged and what was sent: a PATCH cut off mid-body may have had
// what arrived recorded (engine.AppendUpload), never more.
func offset(tr *servertest.Registry, loc string, acked, sent int) int {
	tr.T.Helper()
	r := tr.Do("GET", loc, nil)
	var last int
	if _, err := fmt.Sscanf(r.Header.Get("Range"), "0-%d", &last); r.Status != 204 || err != nil {
		tr.T.Fatalf("session after the cut: %d Range %q", r.Status, r.Header.Get("Range"))
	}
	if n := last + 1; n < acked || n > sent {
		tr.T.Fatalf("session after the cut holds %d bytes, want %d to %d", n, acked, sent)
	}
	return last + 1
}

// finish completes a session from its offset and checks the blob.
func finish(tr *servertest.Registry, repo, loc string, all []byte, from int) {
	tr.T.Helper()
	d := digest.FromBytes(all)
	r := tr.Do("PUT", loc+"?digest="+d.String(), all[from:], "Content-Type", "application/octet-stream",
		"Content-Range", fmt.Sprintf("%d-%d", from, len(all)-1))
	tr.Expect(r, 201, "", "finish the session from its offset")
	r = tr.Do("GET", "/v2/"+repo+"/blobs/"+d.String(), nil)
	if r.Status != 200 || !bytes.Equal(r.Body, all) {
		tr.T.Errorf("the resumed blob reads back %d, %d bytes", r.Status, len(r.Body))
	}
}

// TestClientGoneCancelsUpload: a client that drops its connection in the
// middle of a PATCH body cancels the engine call's context (cause
// ErrClientGone), gets nothing back, and leaves the session consistent:
// at least what was acknowledged, at most what was sent; the client
// finishes from the session's offset. Both upload paths: bodies
// copied on a pool worker and pipelined ones (from 4 MiB).
func TestClientGoneCancelsUpload(t *testing.T) {
	for _, size := range []int{1 << 20, 8 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			rs := newRecordingStreamer(t, 4)
			tr := newTCPRegistry(t, servertest.Config{Engine: engine.Options{Streamer: rs}})
			all := servertest.RandomBytes(64<<10 + size)
			loc := chunkedUpload(tr, "app", all[:64<<10])
			<-rs.ctxs // the first chunk's
			c := raw(tr)
			c.send(fmt.Sprintf("PATCH %s HTTP/1.1\r\nHost: registry.test\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", loc, size))
			c.send(string(all[64<<10 : 64<<10+size/2]))
			ctx := rs.next(t)
			if ctx.Err() != nil {
				t.Fatalf("the upload's context is done before the client left: %v", context.Cause(ctx))
			}
			_ = c.Close()
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("the upload's context was not cancelled when the client left")
			}
			if cause := context.Cause(ctx); !errors.Is(cause, reqctx.ErrClientGone) {
				t.Errorf("cause %v, want ErrClientGone", cause)
			}
			quiesce(tr)
			finish(tr, "app", loc, all, offset(tr, loc, 64<<10, 64<<10+size/2))
		})
	}
}

// TestIdleBodyCutOff: a body that stops arriving is cut off after the
// idle timeout: the connection closes without an answer, the context's
// cause says why, and the session stays consistent and resumable.
func TestIdleBodyCutOff(t *testing.T) {
	const idle = 300 * time.Millisecond
	rs := newRecordingStreamer(t, 4)
	tr := newTCPRegistry(t, servertest.Config{Engine: engine.Options{Streamer: rs}, Server: func(_ *servertest.Registry, o *server.Options) { o.BodyIdleTimeout = idle }})
	all := servertest.RandomBytes(96 << 10)
	loc := chunkedUpload(tr, "app", all[:32<<10])
	<-rs.ctxs
	c := raw(tr)
	start := time.Now()
	c.send(fmt.Sprintf("PATCH %s HTTP/1.1\r\nHost: registry.test\r\nContent-Length: %d\r\n\r\n", loc, 64<<10))
	c.send(string(all[32<<10 : 40<<10]))
	ctx := rs.next(t)
	c.closedWithin(10 * time.Second)
	if took := time.Since(start); took < idle {
		t.Errorf("cut off after %s, before the idle timeout %s", took, idle)
	}
	if cause := context.Cause(ctx); !errors.Is(cause, reqctx.ErrIdle) {
		t.Errorf("cause %v, want ErrIdle", cause)
	}
	quiesce(tr)
	finish(tr, "app", loc, all, offset(tr, loc, 32<<10, 40<<10))

	// Stalled within the first bytes, which fasthttp reads before any
	// handler runs: the same bound applies (fasthttp answers 408).
	c = raw(tr)
	start = time.Now()
	c.send("PUT /v2/app/manifests/latest HTTP/1.1\r\nHost: registry.test\r\nContent-Length: 5000\r\n\r\n{")
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c.r)
	if err != nil || !bytes.HasPrefix(b, []byte("HTTP/1.1 408")) {
		t.Errorf("stalled before the handler: %q, %v; want 408 and a close", b, err)
	}
	if took := time.Since(start); took < idle || took > 5*time.Second {
		t.Errorf("stalled before the handler: closed after %s, want the idle timeout %s", took, idle)
	}
}

// TestUploadsPerCaller: past UploadsPerCaller uploads in flight from one
// caller, the next is refused 429 with Retry-After; once one ends, the
// caller may upload again.
func TestUploadsPerCaller(t *testing.T) {
	rs := newRecordingStreamer(t, 8)
	tr := newTCPRegistry(t, servertest.Config{Engine: engine.Options{Streamer: rs}, Server: func(_ *servertest.Registry, o *server.Options) { o.UploadsPerCaller = 2 }})
	blob := servertest.RandomBytes(16 << 10)
	d := digest.FromBytes(blob)
	var held []*rawConn
	for range 2 {
		c := raw(tr)
		c.send(fmt.Sprintf("POST /v2/app/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: registry.test\r\nContent-Length: %d\r\n\r\n", d, len(blob)))
		c.send(string(blob[:10<<10])) // past what fasthttp reads before the handler
		rs.next(t)                    // admitted: streaming
		held = append(held, c)
	}
	r := tr.Do("POST", "/v2/app/blobs/uploads/?digest="+d.String(), blob)
	tr.Expect(r, 429, "TOOMANYREQUESTS", "a third upload")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	held[0].send(string(blob[10<<10:]))
	if res := held[0].response(); res.StatusCode != 201 {
		t.Fatalf("held upload: %d", res.StatusCode)
	}
	// The count drops when the handler returns, just after the answer.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := tr.Do("POST", "/v2/app/blobs/uploads/?digest="+d.String(), blob)
		if r.Status == 201 {
			break
		}
		if r.Status != 429 || time.Now().After(deadline) {
			t.Fatalf("after one upload ended: %d %s", r.Status, r.Body)
		}
	}
}

// TestShutdownAnswersLongPolls: a long poll of the audit log in flight
// answers (200, no event) as soon as shutdown begins, so it does not hold
// the shutdown until its timeout.
func TestShutdownAnswersLongPolls(t *testing.T) {
	ar, root := servertest.NewAdmin(t)
	ar.API(root, "POST", "/accounts", `{"name":"ci","type":"system"}`, 201, nil)
	var p apiv1.EventPage
	wait.For(t, "the account event", func() bool { // the journal writes behind a queue
		ar.API(root, "GET", "/audit?n=1000", "", 200, &p)
		return len(p.Events) > 0
	})
	cursor := p.Events[len(p.Events)-1].Cursor
	ar.Client.CloseIdleConnections()
	wait.For(t, "every connection to close", func() bool { return server.OpenConns(ar.Srv) == 0 })
	got := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://registry.test"+apiv1.Prefix+"/audit?wait=1m&cursor="+url.QueryEscape(cursor), nil)
		req.Header.Set("Authorization", root)
		res, err := ar.Client.Do(req)
		if err != nil {
			got <- 0
			return
		}
		_ = res.Body.Close()
		got <- res.StatusCode
	}()
	// The poll is in its handler, waiting for a commit, when shutdown
	// begins: it must answer at once.
	wait.For(t, "the long poll to wait", func() bool { return ar.Journal.Stats().Following == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := ar.Srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a long poll in flight: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("shutdown took %s with a long poll in flight", took)
	}
	if st := <-got; st != 200 {
		t.Errorf("the long poll answered %d", st)
	}
}
