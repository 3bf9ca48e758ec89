package server_test

import (
	"fmt"
	"io"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
	"git.wntrmute.dev/kyle/mcr/http/server"
	"git.wntrmute.dev/kyle/mcr/http/servertest"
)

// TestCloseIdle: CloseIdle closes the keep-alive connections waiting for
// their next request and leaves alone a request in progress (an upload
// whose body is still arriving) and a new connection that has sent
// nothing yet; the upload then completes on its connection.
func TestCloseIdle(t *testing.T) {
	rs := newRecordingStreamer(t, 4)
	tr := newTCPRegistry(t, servertest.Config{Engine: engine.Options{Streamer: rs}})
	idle := make([]*rawConn, 3)
	for i := range idle {
		idle[i] = raw(tr)
		idle[i].send("GET /v2/ HTTP/1.1\r\nHost: registry.test\r\n\r\n")
		res := idle[i].response()
		_, _ = io.Copy(io.Discard, res.Body) // what is left unread would look like an answer
	}
	blob := servertest.RandomBytes(64 << 10)
	loc := chunkedUpload(tr, "app", blob[:16<<10])
	<-rs.ctxs // the first chunk's
	tr.Client.CloseIdleConnections()
	wait.For(t, "the client's connection to close", func() bool { return server.OpenConns(tr.Srv) == len(idle) })
	busy := raw(tr)
	busy.send(fmt.Sprintf("PATCH %s HTTP/1.1\r\nHost: registry.test\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", loc, 48<<10))
	busy.send(string(blob[16<<10 : 32<<10]))
	rs.next(t) // the handler is streaming the body
	fresh := raw(tr)
	wait.For(t, "five connections", func() bool { return server.OpenConns(tr.Srv) == 5 })

	if n := tr.Srv.CloseIdle(); n != 3 {
		t.Errorf("CloseIdle closed %d connections, want the 3 idle ones", n)
	}
	for _, c := range idle {
		c.closedWithin(5 * time.Second) // closed already: returns at once
	}
	if n := server.OpenConns(tr.Srv); n != 2 {
		t.Errorf("%d connections open after CloseIdle returned, want 2 (the upload's, the fresh one)", n)
	}
	busy.send(string(blob[32<<10:]))
	if res := busy.response(); res.StatusCode != 202 {
		t.Errorf("the upload in progress: %d, want 202", res.StatusCode)
	}
	fresh.send("GET /v2/ HTTP/1.1\r\nHost: registry.test\r\n\r\n")
	if res := fresh.response(); res.StatusCode != 200 {
		t.Errorf("the fresh connection: %d, want 200", res.StatusCode)
	}
}
