package mcias

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/identity"
)

// Options configures the client.
type Options struct {
	URL      string        // base URL, https://...
	CAFile   string        // PEM bundle of the CAs to trust instead of the system's; "" = system roots
	Timeout  time.Duration // per request; default 10 s
	CacheTTL time.Duration // positive cache; default 30 s
	Now      func() time.Time
}

// Client talks to MCIAS.
type Client struct {
	base  string
	http  *http.Client
	ttl   time.Duration
	now   func() time.Time
	cache cache
	calls atomic.Int64 // requests sent, for tests and metrics
}

// New validates o and builds the client.
func New(o Options) (*Client, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("mcias: url %q: want https://host[:port][/path]", o.URL)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS13}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mcias: ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mcias: ca_file %s: no PEM certificate in it", o.CAFile)
		}
		tc.RootCAs = pool
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.Proxy = nil
	return &Client{
		base: strings.TrimRight(u.String(), "/"),
		http: &http.Client{Transport: tr, Timeout: o.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		ttl: o.CacheTTL,
		now: o.Now,
	}, nil
}

// Calls is the number of requests sent to MCIAS so far.
func (c *Client) Calls() int64 { return c.calls.Load() }

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

type loginReply struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

type validateReply struct {
	Valid       bool      `json:"valid"`
	Sub         string    `json:"sub"`
	Username    string    `json:"username"`
	AccountType string    `json:"account_type"`
	Roles       []string  `json:"roles"`
	ExpiresAt   time.Time `json:"expires_at"`
}

var errRefused = errors.New("mcias refused")

// post sends body as JSON and decodes a 200 answer into out; 401 and 403
// are errRefused.
func (c *Client) post(ctx context.Context, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	c.calls.Add(1)
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("mcias %s: %w", path, err)
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		return errRefused
	case res.StatusCode != http.StatusOK:
		return fmt.Errorf("mcias %s: unexpected status %d", path, res.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("mcias %s: %w", path, err)
	}
	return nil
}

// Login checks credentials with MCIAS and returns who they belong to.
func (c *Client) Login(ctx context.Context, user, password string) (identity.Principal, error) {
	key := sum("login", user, password)
	if p, ok := c.cache.get(key, c.now()); ok {
		return p, nil
	}
	var lr loginReply
	if err := c.post(ctx, "/v1/auth/login", map[string]string{"username": user, "password": password}, &lr); err != nil {
		if errors.Is(err, errRefused) {
			return identity.Principal{}, identity.ErrBadPassword
		}
		return identity.Principal{}, err
	}
	if lr.Token == "" {
		return identity.Principal{}, errors.New("mcias login: answer without a token")
	}
	p, exp, err := c.validate(ctx, lr.Token)
	if err != nil {
		return identity.Principal{}, err
	}
	c.cache.put(key, p, c.expiry(exp))
	return p, nil
}

// Validate checks a token MCIAS issued.
func (c *Client) Validate(ctx context.Context, token string) (identity.Principal, error) {
	key := sum("token", token)
	if p, ok := c.cache.get(key, c.now()); ok {
		return p, nil
	}
	p, exp, err := c.validate(ctx, token)
	if err != nil {
		return identity.Principal{}, err
	}
	c.cache.put(key, p, c.expiry(exp))
	return p, nil
}

func (c *Client) validate(ctx context.Context, token string) (identity.Principal, time.Time, error) {
	var vr validateReply
	err := c.post(ctx, "/v1/token/validate", map[string]string{"token": token}, &vr)
	if errors.Is(err, errRefused) || (err == nil && (!vr.Valid || vr.Sub == "")) {
		return identity.Principal{}, time.Time{}, identity.ErrTokenInvalid
	}
	if err != nil {
		return identity.Principal{}, time.Time{}, err
	}
	typ := vr.AccountType
	if typ != identity.System {
		typ = identity.Human
	}
	name := vr.Username
	if name == "" {
		name = vr.Sub
	}
	return identity.Principal{ID: vr.Sub, Name: name, Type: typ, Roles: vr.Roles}, vr.ExpiresAt, nil
}

// expiry is when a positive answer leaves the cache: after the TTL, or
// when the token expires if that is sooner.
func (c *Client) expiry(tokenExp time.Time) time.Time {
	e := c.now().Add(c.ttl)
	if !tokenExp.IsZero() && tokenExp.Before(e) {
		return tokenExp
	}
	return e
}

func sum(parts ...string) [32]byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

type entry struct {
	p       identity.Principal
	expires time.Time
}

// cache is a bounded map of positive answers; reads take no lock.
type cache struct {
	m sync.Map // [32]byte → entry
	n atomic.Int64
}

const maxEntries = 10000

func (c *cache) get(k [32]byte, now time.Time) (identity.Principal, bool) {
	v, ok := c.m.Load(k)
	if !ok {
		return identity.Principal{}, false
	}
	e := v.(entry)
	if !now.Before(e.expires) {
		if _, ok := c.m.LoadAndDelete(k); ok {
			c.n.Add(-1)
		}
		return identity.Principal{}, false
	}
	return e.p, true
}

func (c *cache) put(k [32]byte, p identity.Principal, expires time.Time) {
	if _, loaded := c.m.Swap(k, entry{p: p, expires: expires}); !loaded && c.n.Add(1) > maxEntries {
		c.m.Clear()
		c.n.Store(0)
	}
}
