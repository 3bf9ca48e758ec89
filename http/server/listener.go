package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// handshakeTimeout bounds a TLS handshake: a client sends its ClientHello
// at once, so a connection that has not finished by then is a stuck or
// hostile one, and it must not hold a connection slot for read_timeout.
const handshakeTimeout = 10 * time.Second

// plainHTTPAnswer is what a plain-HTTP request to the TLS port gets, as
// Go's net/http answers it, so that curl and a misconfigured client show
// the operator the reason instead of a reset connection.
const plainHTTPAnswer = "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" +
	"Client sent an HTTP request to an HTTPS server.\n"

// recordTypeHandshake is the first byte of every TLS connection (RFC 8446
// §5.1, ContentType handshake(22)); no HTTP method starts with it.
const recordTypeHandshake = 0x16

// Listener wraps ln for Serve. With cfg, connections speak TLS; a plain
// HTTP request on them is answered 400 and logged in one line. Without, a
// TLS ClientHello (a client probing for HTTPS) is closed with one debug
// line, instead of fasthttp logging its bytes as a malformed request.
func Listener(ln net.Listener, cfg *tls.Config, log zerolog.Logger) net.Listener {
	if cfg != nil {
		return &tlsListener{Listener: ln, cfg: cfg, log: log}
	}
	return &plainListener{Listener: ln, log: log}
}

type tlsListener struct {
	net.Listener
	cfg *tls.Config
	log zerolog.Logger
}

func (l *tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tlsConn{Conn: tls.Server(c, l.cfg), log: l.log}, nil
}

// tlsConn runs the handshake on the first Read, on the serving goroutine,
// so that a slow client never stalls Accept. Embedding *tls.Conn keeps
// Handshake and ConnectionState visible: fasthttp's RequestCtx.IsTLS looks
// for them, and the auth challenge's realm follows it.
type tlsConn struct {
	*tls.Conn
	log       zerolog.Logger
	handshook bool // only the serving goroutine reads
}

func (c *tlsConn) Read(p []byte) (int, error) {
	if !c.handshook {
		c.handshook = true
		ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
		err := c.HandshakeContext(ctx)
		cancel()
		if err != nil {
			c.refuse(err)
			// io.EOF on a connection's first read is a client that went
			// away: fasthttp closes it without a log line of its own.
			return 0, io.EOF
		}
	}
	return c.Conn.Read(p)
}

// refuse logs a failed handshake once, and answers a plain-HTTP request.
func (c *tlsConn) refuse(err error) {
	remote := c.RemoteAddr().String()
	var rhe tls.RecordHeaderError
	if errors.As(err, &rhe) && rhe.Conn != nil && looksLikeHTTP(rhe.RecordHeader[:]) {
		_ = rhe.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(rhe.Conn, plainHTTPAnswer)
		c.log.Info().Str("remote", remote).Msg("plain HTTP request on the TLS port: answered 400 (use https://)")
		return
	}
	ev := c.log.Info()
	if errors.Is(err, io.EOF) || errors.Is(err, context.DeadlineExceeded) {
		ev = c.log.Debug() // probes and clients that gave up
	}
	ev.Str("remote", remote).Err(err).Msg("TLS handshake failed")
}

// looksLikeHTTP reports whether a record header is the start of an HTTP
// request line (as net/http's tlsRecordHeaderLooksLikeHTTP).
func looksLikeHTTP(hdr []byte) bool {
	for _, m := range []string{"GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH", "CONNE"} {
		if bytes.HasPrefix(hdr, []byte(m)) {
			return true
		}
	}
	return false
}

type plainListener struct {
	net.Listener
	log zerolog.Logger
}

func (l *plainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &plainConn{Conn: c, log: l.log}, nil
}

// plainConn looks at the first byte a client sends.
type plainConn struct {
	net.Conn
	log     zerolog.Logger
	checked bool // only the serving goroutine reads
}

func (c *plainConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.checked && n > 0 {
		c.checked = true
		if p[0] == recordTypeHandshake {
			c.log.Debug().Str("remote", c.RemoteAddr().String()).Msg("TLS handshake on the plain-HTTP port: closed (TLS is off; use http://)")
			_ = c.Conn.Close()
			return 0, io.EOF
		}
	}
	return n, err
}

// ReadFrom sends a large body (a blob GET: fasthttp hands a file body
// through bufio to the connection's ReadFrom, as an io.LimitedReader) with
// the kernel's sendfile to a client on another machine, and through a
// copy to a client on this one.
//
// sendfile spares the server the copy, and a network card reads the
// pages where they are. Over loopback the client's receive runs on the
// same machine, and there the segments sendfile builds out of the file's
// pages cost the receiver more than the copy saves the sender: warm GETs
// of a 256 MiB blob with curl, alternating (docs/benchmarks.md, "Large
// pulls without the client's hash"), 115 ms of client CPU per blob
// against 98 with a 256 KiB copy, 98 ms of server CPU against 103, the
// whole machine 246 against 225 ms, and 5 % fewer MB/s. A client on the
// same host is a reverse proxy in front of mcr (deploy/) or a job on the
// registry's own machine, both of which pay for both ends.
func (c *plainConn) ReadFrom(r io.Reader) (int64, error) {
	if copiesBody(c.RemoteAddr(), r) {
		bp := copyBuffers.Get().(*[]byte)
		defer copyBuffers.Put(bp)
		// The wrappers hide *os.File's WriteTo and the connection's
		// ReadFrom, which would take sendfile again.
		return io.CopyBuffer(struct{ io.Writer }{c.Conn}, struct{ io.Reader }{r}, *bp)
	}
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// copyMin is the smallest body copiesBody copies: a smaller one leaves
// in one sendfile call, never waits for the socket to drain, and its
// receive costs the client little either way.
const copyMin = 1 << 20

// copiesBody says whether a body read from r goes to the client at remote
// through a copy rather than sendfile: a body of at least copyMin bytes
// (fasthttp bounds every body with an io.LimitedReader) to a client on a
// loopback address.
func copiesBody(remote net.Addr, r io.Reader) bool {
	lr, ok := r.(*io.LimitedReader)
	if !ok || lr.N < copyMin {
		return false
	}
	tcp, ok := remote.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// copyBuffers hold the copy's buffers: 256 KiB, of the sizes measured the
// one with the least CPU on both ends (128 KiB cost more, 1 MiB no less).
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// NetConn is the socket, for reqctx's receive low-water mark, as
// tls.Conn's NetConn is for tlsConn.
func (c *plainConn) NetConn() net.Conn { return c.Conn }
