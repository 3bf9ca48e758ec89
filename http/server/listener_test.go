package server

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
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

// TestPlainListenerKeepsSendfile: the wrapped plain connection still
// offers the TCP connection's ReadFrom, through which blob GETs reach
// sendfile.
func TestPlainListenerKeepsSendfile(t *testing.T) {
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
	c, err := wrapped.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if client := <-dialed; client != nil {
		defer client.Close()
	}
	if _, ok := c.(io.ReaderFrom); !ok {
		t.Fatalf("%T hides the TCP connection's ReadFrom", c)
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
