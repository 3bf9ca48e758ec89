package reqctx

import (
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// Limits of the read after an answer to a request whose body was not read.
const (
	lingerMax   = time.Second
	lingerBytes = 64 << 20
)

// CloseUnread makes the connection close once the answer is written, for a
// request refused without reading its body (413, 429): the client may
// still be sending it. Closing a socket with unread input resets it, and
// the reset can destroy the answer before the client reads it; so the
// write side is shut first and what still arrives is dropped for a short,
// bounded while.
//
// It hijacks the connection rather than setting Connection: close, which
// would make fasthttp close it at once.
func CloseUnread(ctx *fasthttp.RequestCtx) {
	ctx.Hijack(lingerClose)
}

func lingerClose(c net.Conn) {
	raw := c
	if u, ok := c.(interface{ UnsafeConn() net.Conn }); ok { // fasthttp's hijacked connection
		raw = u.UnsafeConn()
	}
	if cw, ok := raw.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(lingerMax))
	buf := make([]byte, 32<<10)
	for n := 0; n < lingerBytes; {
		k, err := c.Read(buf)
		n += k
		if err != nil {
			return
		}
	}
}
