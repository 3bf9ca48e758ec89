package forwarded

import (
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

func request(peer string, hdr ...string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.SetRequestURI("/v2/")
	req.Header.SetHost("registry.internal:5000")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.ParseIP(peer), Port: 40000}, nil)
	return &ctx
}

func TestForwarded(t *testing.T) {
	proxy, err := Parse([]string{"10.0.0.0/8", " 127.0.0.1 ", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	fwd := []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "registry.example.com", "X-Forwarded-For", "203.0.113.7"}
	for _, c := range []struct {
		name               string
		trust              Trust
		peer               string
		hdr                []string
		scheme, host, from string
	}{
		{"no proxies trusted", Trust{}, "10.1.2.3", fwd, "http", "registry.internal:5000", "10.1.2.3"},
		{"untrusted peer", proxy, "192.0.2.1", fwd, "http", "registry.internal:5000", "192.0.2.1"},
		{"trusted proxy", proxy, "10.1.2.3", fwd, "https", "registry.example.com", "203.0.113.7"},
		{"trusted, IPv6 loopback", proxy, "::1", fwd, "https", "registry.example.com", "203.0.113.7"},
		{"no headers", proxy, "127.0.0.1", nil, "http", "registry.internal:5000", "127.0.0.1"},
		{"lists: first proto and host, right-most untrusted address", proxy, "10.0.0.1",
			[]string{"X-Forwarded-Proto", "HTTPS, http", "X-Forwarded-Host", "a.example:8443, b", "X-Forwarded-For", "1.1.1.1, 198.51.100.2, 10.9.9.9"},
			"https", "a.example:8443", "198.51.100.2"},
		{"forged values ignored", proxy, "10.0.0.1",
			[]string{"X-Forwarded-Proto", "gopher", "X-Forwarded-Host", `evil" ,x="y`, "X-Forwarded-For", "not-an-ip, 10.0.0.5"},
			"http", "registry.internal:5000", "10.0.0.5"},
		{"only proxies in the chain", proxy, "10.0.0.1", []string{"X-Forwarded-For", "10.0.0.9, 10.0.0.8"},
			"http", "registry.internal:5000", "10.0.0.9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := request(c.peer, c.hdr...)
			if got := c.trust.Scheme(ctx); got != c.scheme {
				t.Errorf("scheme %q, want %q", got, c.scheme)
			}
			if got := c.trust.Host(ctx); got != c.host {
				t.Errorf("host %q, want %q", got, c.host)
			}
			if got := c.trust.ClientIP(ctx).String(); got != c.from {
				t.Errorf("client %q, want %q", got, c.from)
			}
		})
	}
}

func TestParse(t *testing.T) {
	if _, err := Parse([]string{"10.0.0.0/8", "nope", "300.1.1.1"}); err == nil || err.Error() != `not a CIDR or IP address: "nope", "300.1.1.1"` {
		t.Errorf("bad entries: %v", err)
	}
	if tr, err := Parse(nil); err != nil || !tr.Empty() {
		t.Errorf("no entries: %v %v", tr, err)
	}
}
