package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
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

// ReadFrom keeps the kernel's sendfile for blob GETs: fasthttp copies a
// file body through bufio, which hands it to the connection's ReadFrom
// when the connection has one (*net.TCPConn does).
func (c *plainConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// NetConn is the socket, for reqctx's receive low-water mark, as
// tls.Conn's NetConn is for tlsConn.
func (c *plainConn) NetConn() net.Conn { return c.Conn }
