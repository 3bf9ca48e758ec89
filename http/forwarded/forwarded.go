package forwarded

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/valyala/fasthttp"
)

// Trust is the set of networks whose forwarded headers are believed. The
// zero value trusts nobody.
type Trust struct {
	nets []netip.Prefix
}

// Parse builds a Trust from CIDRs or single addresses ("10.0.0.0/8",
// "127.0.0.1", "::1"), reporting every entry it cannot read.
func Parse(entries []string) (Trust, error) {
	var t Trust
	var bad []string
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if p, err := netip.ParsePrefix(e); err == nil {
			t.nets = append(t.nets, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(e); err == nil {
			t.nets = append(t.nets, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		bad = append(bad, fmt.Sprintf("%q", e))
	}
	if len(bad) > 0 {
		return Trust{}, fmt.Errorf("not a CIDR or IP address: %s", strings.Join(bad, ", "))
	}
	return t, nil
}

// Empty reports whether nobody is trusted.
func (t Trust) Empty() bool { return len(t.nets) == 0 }

func (t Trust) contains(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = a.Unmap()
	for _, p := range t.nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// trusted reports whether ctx's peer is a trusted proxy.
func (t Trust) trusted(ctx *fasthttp.RequestCtx) bool {
	return len(t.nets) > 0 && t.contains(ctx.RemoteIP())
}

// Scheme is the scheme the client used: https on a TLS connection, else
// X-Forwarded-Proto from a trusted proxy, else http.
func (t Trust) Scheme(ctx *fasthttp.RequestCtx) string {
	if ctx.IsTLS() {
		return "https"
	}
	if t.trusted(ctx) {
		switch p := strings.ToLower(first(ctx.Request.Header.Peek("X-Forwarded-Proto"))); p {
		case "https", "http":
			return p
		}
	}
	return "http"
}

// Host is the host[:port] the client asked for: X-Forwarded-Host from a
// trusted proxy when it is a well-formed host, else the Host header.
func (t Trust) Host(ctx *fasthttp.RequestCtx) string {
	if t.trusted(ctx) {
		if h := first(ctx.Request.Header.Peek("X-Forwarded-Host")); validHost(h) {
			return h
		}
	}
	return string(ctx.Host())
}

// ClientIP is the client's address. Through trusted proxies it is the
// right-most address of X-Forwarded-For that is not itself a trusted
// proxy (each proxy appends the peer it saw; entries left of an untrusted
// one may be forged by the client); otherwise the connection's peer.
func (t Trust) ClientIP(ctx *fasthttp.RequestCtx) net.IP {
	peer := ctx.RemoteIP()
	if !t.trusted(ctx) {
		return peer
	}
	hops := strings.Split(string(ctx.Request.Header.Peek("X-Forwarded-For")), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		ip := net.ParseIP(strings.TrimSpace(hops[i]))
		if ip == nil {
			return peer // malformed: believe nothing past it
		}
		if !t.contains(ip) {
			return ip
		}
		peer = ip
	}
	return peer
}

// first is the first element of a comma-separated header value, trimmed.
func first(v []byte) string {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return string(bytes.TrimSpace(v))
}

// validHost accepts a DNS name or IP literal with an optional port:
// letters, digits, '.', '-', ':' and the brackets of an IPv6 literal.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '-', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}
