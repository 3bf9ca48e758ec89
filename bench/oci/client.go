package oci

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// Client talks to one registry at base (http://host:port).
type Client struct {
	base *url.URL
	hc   *http.Client
	fast *fasthttp.HostClient // nil: everything through hc
	user string
	pass string
}

// Options tune a Client.
type Options struct {
	// MaxConns is the number of keep-alive connections kept per host; set
	// it to at least the scenario's concurrency.
	MaxConns int
	// Username and Password, when set, are sent as Basic credentials.
	Username, Password string
	// Timeout bounds one request, body included (0: 5 minutes).
	Timeout time.Duration
	// Fast sends the small hot requests through fasthttp (see fast.go).
	Fast bool
}

// New returns a client for the registry at host:port over plain HTTP.
func New(host string, o Options) (*Client, error) {
	base, err := url.Parse("http://" + host)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("registry address %q: want host:port", host)
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 256
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	tr := &http.Transport{
		Proxy:               nil, // loopback only: never through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        o.MaxConns,
		MaxIdleConnsPerHost: o.MaxConns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     64 << 10,
		ReadBufferSize:      64 << 10,
	}
	c := &Client{
		base: base,
		hc: &http.Client{
			Transport: tr,
			Timeout:   o.Timeout,
			// Redirects are followed (a registry may redirect blob GETs);
			// the final response is what is verified.
		},
		user: o.Username,
		pass: o.Password,
	}
	if o.Fast {
		c.fast = newFast(base.Host, o)
	}
	return c, nil
}

// Host is the registry's host:port.
func (c *Client) Host() string { return c.base.Host }

// Close drops idle connections.
func (c *Client) Close() {
	c.hc.CloseIdleConnections()
	if c.fast != nil {
		c.fast.CloseIdleConnections()
	}
}

// StatusError is an unexpected HTTP status.
type StatusError struct {
	Method, URL string
	Got         int
	Want        []int
	Body        string // first bytes of the body, for the error message
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: status %d, want %v: %s", e.Method, e.URL, e.Got, e.Want, strings.TrimSpace(e.Body))
}

// resolve turns a path (with query) or a Location header into an absolute
// URL on this registry.
func (c *Client) resolve(ref string) (string, error) {
	u, err := c.base.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("bad location %q: %w", ref, err)
	}
	return u.String(), nil
}

// do sends one request and checks the status against want; on a mismatch
// it drains the body into the error. The caller closes resp.Body on success.
func (c *Client) do(ctx context.Context, method, ref string, hdr http.Header, body io.Reader, length int64, want ...int) (*http.Response, error) {
	u, err := c.resolve(ref)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = length
		if length == 0 {
			req.Body = http.NoBody
		}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	for _, w := range want {
		if resp.StatusCode == w {
			return resp, nil
		}
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	drain(resp)
	return nil, &StatusError{Method: method, URL: u, Got: resp.StatusCode, Want: want, Body: string(b)}
}

// drain reads what is left of a body (bounded) and closes it, so the
// connection goes back to the pool.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<20))
	_ = resp.Body.Close()
}

// Ping checks GET /v2/ answers 200.
func (c *Client) Ping(ctx context.Context) error {
	resp, err := c.do(ctx, http.MethodGet, "/v2/", nil, nil, 0, http.StatusOK)
	if err != nil {
		return err
	}
	drain(resp)
	return nil
}
