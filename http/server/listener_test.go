package server

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/http/tlsconf"
	"git.wntrmute.dev/kyle/mcr/http/tlsconf/tlstest"
)

// serveListener serves a handler that reports ctx.IsTLS() through
// Listener, with the production fasthttp logger, on loopback. stop shuts
// it down and waits for every connection to be done with (so nothing is
// logged after it); it also runs when the test ends.
func serveListener(t *testing.T, cfg *tls.Config, log zerolog.Logger) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("tls=" + strconv.FormatBool(ctx.IsTLS())) },
		Logger:  fasthttpLogger{log},
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(Listener(ln, cfg, log)) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := srv.Shutdown(); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			<-done
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

func getBody(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// requireShortPrintable fails on a log line that is long or carries
// control bytes: the dump of a ClientHello fasthttp used to log.
func requireShortPrintable(t *testing.T, lines []string) {
	t.Helper()
	for _, l := range lines {
		if len(l) > 500 {
			t.Errorf("log line of %d bytes: %.120q...", len(l), l)
		}
		for _, r := range l {
			if !unicode.IsPrint(r) {
				t.Errorf("log line with a non-printable character %U: %.120q", r, l)
				break
			}
		}
	}
}

func TestTLSListener(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "test")
	certFile, keyFile := ca.Server(t, 1).Write(t, dir, "server")
	r, err := tlsconf.New(tlsconf.Options{CertFile: certFile, KeyFile: keyFile}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	var sink tlstest.Log
	addr, stop := serveListener(t, r.Config(), zerolog.New(&sink).Level(zerolog.DebugLevel))

	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	defer c.CloseIdleConnections()
	if got := getBody(t, c, "https://"+addr+"/v2/"); got != "tls=true" {
		t.Fatalf("over https the handler saw %q; want tls=true (RequestCtx.IsTLS through the wrapper)", got)
	}

	// A plain-HTTP request: Go's answer, and one short log line.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET /v2/ HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTP request to an HTTPS server") {
		t.Fatalf("plain HTTP on the TLS port: %d %q; want 400 and the reason", res.StatusCode, body)
	}
	sink.Wait(t, "plain HTTP request on the TLS port")
	conn.Close()
	c.CloseIdleConnections()
	stop()
	lines := sink.Lines()
	if len(lines) != 1 {
		t.Fatalf("want exactly one log line, got %d:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	requireShortPrintable(t, lines)
}

func TestPlainListenerClientHello(t *testing.T) {
	var sink tlstest.Log
	addr, stop := serveListener(t, nil, zerolog.New(&sink).Level(zerolog.DebugLevel))
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	if got := getBody(t, c, "http://"+addr+"/v2/"); got != "tls=false" {
		t.Fatalf("over http the handler saw %q; want tls=false", got)
	}

	// A client probing for TLS first (crane --insecure, skopeo, cosign).
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		conn.Close()
		t.Fatal("a TLS handshake with the plain port succeeded")
	}
	sink.Wait(t, "TLS handshake on the plain-HTTP port")
	c.CloseIdleConnections()
	stop()
	lines := sink.Lines()
	if len(lines) != 1 {
		t.Fatalf("want exactly one log line, got %d:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if !strings.Contains(lines[0], `"level":"debug"`) {
		t.Errorf("the probe is logged above debug: %s", lines[0])
	}
	requireShortPrintable(t, lines)
}

// plainPair returns both ends of a loopback connection: the server's as
// the plain listener wraps it, and the client's. Both close when t ends.
func plainPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wrapped := Listener(ln, nil, zerolog.Nop())
	defer wrapped.Close()
	dialed := make(chan net.Conn, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Error(err)
		}
		dialed <- c
	}()
	server, err = wrapped.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	client = <-dialed
	if client == nil {
		t.FailNow()
	}
	t.Cleanup(func() { _ = client.Close() })
	return server, client
}

// TestPlainListenerKeepsSendfile: the wrapped plain connection still
// offers the TCP connection's ReadFrom, through which blob GETs reach
// sendfile.
func TestPlainListenerKeepsSendfile(t *testing.T) {
	c, _ := plainPair(t)
	if _, ok := c.(io.ReaderFrom); !ok {
		t.Fatalf("%T hides the TCP connection's ReadFrom", c)
	}
}

// TestCopiesBody: a body of copyMin bytes or more to a loopback client
// is copied; a smaller one, one to another machine, or a stream of no
// declared length goes to sendfile.
func TestCopiesBody(t *testing.T) {
	lr := func(n int64) io.Reader { return &io.LimitedReader{R: strings.NewReader(""), N: n} }
	for _, tc := range []struct {
		remote string
		body   io.Reader
		want   bool
	}{
		{"127.0.0.1:40000", lr(copyMin), true},
		{"127.0.0.2:40000", lr(256 << 20), true},
		{"[::1]:40000", lr(copyMin), true},
		{"127.0.0.1:40000", lr(copyMin - 1), false},
		{"192.0.2.7:40000", lr(256 << 20), false},
		{"[2001:db8::1]:40000", lr(256 << 20), false},
		{"127.0.0.1:40000", strings.NewReader("no declared length"), false},
	} {
		addr, err := net.ResolveTCPAddr("tcp", tc.remote)
		if err != nil {
			t.Fatal(err)
		}
		if got := copiesBody(addr, tc.body); got != tc.want {
			t.Errorf("copiesBody(%s, %T) = %v, want %v", tc.remote, tc.body, got, tc.want)
		}
	}
}

// TestLoopbackCopySendsBody: a large file body sent through the wrapped
// connection's ReadFrom to a loopback client (the copy) arrives whole and
// in order, stops at the declared length, and is accounted as fasthttp
// expects: the count returned, the LimitedReader used up.
func TestLoopbackCopySendsBody(t *testing.T) {
	body := make([]byte, 3*copyMin+12345)
	for i := range body {
		body[i] = byte(i * 7 / 3)
	}
	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, append(body, "past the declared length"...), 0o600); err != nil {
		t.Fatal(err)
	}
	c, client := plainPair(t)
	received := make(chan []byte, 1)
	go func() {
		got, _ := io.ReadAll(client)
		received <- got
	}()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lr := &io.LimitedReader{R: f, N: int64(len(body))}
	if !copiesBody(c.RemoteAddr(), lr) {
		t.Fatalf("a %d-byte body to %s is not copied", lr.N, c.RemoteAddr())
	}
	n, err := c.(io.ReaderFrom).ReadFrom(lr)
	_ = c.Close()
	if err != nil || n != int64(len(body)) || lr.N != 0 {
		t.Fatalf("ReadFrom = %d, %v; %d left; want %d, nil, 0", n, err, lr.N, len(body))
	}
	if got := <-received; !bytes.Equal(got, body) {
		t.Fatalf("client received %d bytes, not the %d of the body", len(got), len(body))
	}
}

// TestLoopbackCopyKeepsWriteDeadline: a client that stops reading holds
// the copy no longer than the connection's write deadline (fasthttp sets
// it from write_timeout), as it held sendfile: ReadFrom returns the
// deadline's error with the body unsent, instead of blocking for good.
func TestLoopbackCopyKeepsWriteDeadline(t *testing.T) {
	c, client := plainPair(t)
	if err := client.(*net.TCPConn).SetReadBuffer(4 << 10); err != nil {
		t.Fatal(err)
	}
	const size = 256 << 20 // far more than both sockets' buffers hold
	lr := &io.LimitedReader{R: zeros{}, N: size}
	if !copiesBody(c.RemoteAddr(), lr) {
		t.Fatalf("a %d-byte body to %s is not copied", lr.N, c.RemoteAddr())
	}
	if err := c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := c.(io.ReaderFrom).ReadFrom(lr)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		if !errors.Is(r.err, os.ErrDeadlineExceeded) || r.n >= size {
			t.Fatalf("ReadFrom = %d, %v; want fewer than %d bytes and the deadline's error", r.n, r.err, size)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ReadFrom still blocked 20 s after a 200 ms write deadline")
	}
}

// TestFasthttpLoggerCapsMessages: whatever fasthttp quotes from a client
// (a garbage request line) stays a short line.
func TestFasthttpLoggerCapsMessages(t *testing.T) {
	var sink tlstest.Log
	fasthttpLogger{zerolog.New(&sink)}.Printf("error when reading request headers: %q", strings.Repeat("\x16\x03\x01", 2000))
	lines := sink.Lines()
	var ev struct{ Message string }
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &ev) != nil {
		t.Fatalf("want one JSON line, got %q", lines)
	}
	if len(ev.Message) > fasthttpLogMax+len("... (truncated)") || !strings.HasSuffix(ev.Message, "(truncated)") {
		t.Fatalf("message of %d bytes: %.80q", len(ev.Message), ev.Message)
	}
	requireShortPrintable(t, lines)
}
