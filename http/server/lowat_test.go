package server_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/http/server"
	"git.wntrmute.dev/kyle/mcr/http/servertest"
)

// largePut opens a session and sends on c the headers of a monolithic
// PUT of all into it; the caller sends the body.
func largePut(tr *servertest.Registry, c *rawConn, all []byte) {
	tr.T.Helper()
	r := tr.Do("POST", "/v2/app/blobs/uploads/", nil)
	tr.Expect(r, 202, "", "open a session")
	c.send(fmt.Sprintf("PUT %s?digest=%s HTTP/1.1\r\nHost: registry.test\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n",
		r.Header.Get("Location"), digest.FromBytes(all), len(all)))
}

// TestLowWaterMarkKeepAlive: a large body is read with a receive
// low-water mark (reqctx, lowat.go), which must be back at 1 when the
// next request on the connection is read: a mark left at 256 KiB would
// hide the 40 bytes of the GET below, and the response would never come.
func TestLowWaterMarkKeepAlive(t *testing.T) {
	tr := newTCPRegistry(t, servertest.Config{Engine: engine.Options{Streamer: newRecordingStreamer(t, 4)}})
	all := servertest.RandomBytes(6 << 20)
	c := raw(tr)
	largePut(tr, c, all)
	c.send(string(all))
	res := c.response()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("large PUT: %d", res.StatusCode)
	}
	c.send("GET /v2/ HTTP/1.1\r\nHost: registry.test\r\n\r\n")
	if res := c.response(); res.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/ on the same connection: %d", res.StatusCode)
	}
}

// TestLowWaterMarkSlowClient: a large body that arrives slower than the
// low-water mark per half idle timeout is still read and not cut off as
// idle: the watch drops the mark once the body has been quiet for half the
// timeout, and the bytes queued below it wake the reader. The client
// sends 1 MiB, trickles 1 KiB every 10 ms (100 KiB/s, under the 256 KiB
// mark per 150 ms) for twice the idle timeout, then the rest.
func TestLowWaterMarkSlowClient(t *testing.T) {
	const idle = 300 * time.Millisecond
	tr := newTCPRegistry(t, servertest.Config{
		Engine: engine.Options{Streamer: newRecordingStreamer(t, 4)},
		Server: func(_ *servertest.Registry, o *server.Options) { o.BodyIdleTimeout = idle },
	})
	all := servertest.RandomBytes(6 << 20)
	c := raw(tr)
	largePut(tr, c, all)
	sent := 1 << 20
	c.send(string(all[:sent]))
	tick := time.NewTicker(10 * time.Millisecond)
	for end := time.Now().Add(2 * idle); time.Now().Before(end); sent += 1 << 10 {
		<-tick.C
		c.send(string(all[sent : sent+1<<10]))
	}
	tick.Stop()
	c.send(string(all[sent:]))
	res := c.response()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("slow large PUT: %d", res.StatusCode)
	}
}
