package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// maxBody bounds what mcrctl reads of one answer.
const maxBody = 64 << 20

// client calls the admin API of one server with one set of credentials.
type client struct {
	base    string // scheme://host[:port], no trailing slash
	hc      *http.Client
	timeout time.Duration // bound on one call
	token   string        // bearer access token; "" until fetched, or for auth mode none
	refresh *refresher    // exchanges a refresh token for token; nil with --token or no credentials
}

// refresher exchanges a refresh token at the token endpoint.
type refresher struct {
	realm, service, refreshToken string
}

// apiError is an error answer of the server.
type apiError struct {
	Status  int
	Code    string
	Message string
	Detail  map[string]string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// newClient resolves the server and credentials of cmd: flags, then the
// environment, then the config file (whose refresh token is used only for
// the server it was issued by).
func newClient(cmd *cli.Command, s *streams) (*client, error) {
	path, err := configPath(cmd, s)
	if err != nil {
		return nil, err
	}
	cfg, err := loadConfig(path, s.Err)
	if err != nil {
		return nil, err
	}
	server := cmd.String("server")
	if server == "" {
		server = s.Getenv("MCR_SERVER")
	}
	if server == "" {
		server = cfg.Server
	}
	server, err = normalizeServer(server)
	if err != nil {
		return nil, err
	}
	if server == "" {
		return nil, usagef("no server: give --server, set MCR_SERVER or run `mcrctl login URL`")
	}
	c := &client{base: server, hc: &http.Client{}, timeout: cmd.Duration("timeout")}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	token := cmd.String("token")
	if token == "" {
		token = s.Getenv("MCR_TOKEN")
	}
	switch {
	case token != "":
		c.token = token
	case cfg.RefreshToken != "" && strings.TrimRight(cfg.Server, "/") == server:
		c.refresh = &refresher{realm: cfg.Realm, service: cfg.Service, refreshToken: cfg.RefreshToken}
	}
	return c, nil
}

// do calls method path?query with in as the JSON body (nil: none) and
// decodes the answer into out (nil: ignore it), bounded by c.timeout.
func (c *client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	return c.doWithin(ctx, c.timeout, method, path, query, in, out)
}

// doWithin is do bounded by timeout. A 401 to a token got with the
// refresh token (it expired: a tail -f outlives it) fetches a new one and
// tries once more.
func (c *client) doWithin(ctx context.Context, timeout time.Duration, method, path string, query url.Values, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = b
	}
	for attempt := 0; ; attempt++ {
		if err := c.authorize(ctx); err != nil {
			return err
		}
		err := c.once(ctx, timeout, method, path, query, body, out)
		var ae *apiError
		if attempt == 0 && c.refresh != nil && errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			c.token = ""
			continue
		}
		return err
	}
}

// once sends one request.
func (c *client) once(ctx context.Context, timeout time.Duration, method, path string, query url.Values, in []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		body = bytes.NewReader(in)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		return decodeError(resp.StatusCode, b)
	}
	if out == nil || len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the expected JSON: %w", method, path, err)
	}
	return nil
}

// authorize fetches an access token with the refresh token, once per run.
func (c *client) authorize(ctx context.Context) error {
	if c.token != "" || c.refresh == nil {
		return nil
	}
	r := c.refresh
	if r.realm == "" {
		ch, err := c.challenge(ctx)
		if err != nil {
			return err
		}
		if ch == nil {
			c.refresh = nil // the server wants no credentials
			return nil
		}
		r.realm, r.service = ch.realm, ch.service
	}
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {r.refreshToken},
		"service":       {r.service},
		"scope":         {apiScope},
		"client_id":     {clientID},
	}
	tr, err := c.postToken(ctx, r.realm, form)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			ae.Message += " (the saved login is no longer valid: run `mcrctl login` again)"
		}
		return err
	}
	c.token = tr.token()
	return nil
}

// decodeError reads an error answer: the admin API's
// {"error": {...}} or the OCI {"errors": [...]} of /v2 and the token
// endpoint; anything else keeps its status and the start of its body.
func decodeError(status int, b []byte) error {
	e := &apiError{Status: status, Code: fmt.Sprintf("HTTP_%d", status), Message: http.StatusText(status)}
	var admin apiv1.Error
	if json.Unmarshal(b, &admin) == nil && admin.Error.Code != "" {
		e.Code, e.Message, e.Detail = admin.Error.Code, admin.Error.Message, admin.Error.Detail
		return e
	}
	var oci struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &oci) == nil && len(oci.Errors) > 0 {
		e.Code, e.Message = oci.Errors[0].Code, oci.Errors[0].Message
		return e
	}
	if s := strings.TrimSpace(string(b)); s != "" {
		if len(s) > 200 {
			s = s[:200] + "..."
		}
		e.Message = s
	}
	return e
}

// repoPath is the admin API path of repository name and, after the
// separator, its sub-resource parts: each component is path-escaped.
func repoPath(name string, sub ...string) string {
	p := apiv1.Prefix + "/repositories/" + escapeSegments(name)
	if len(sub) > 0 {
		p += apiv1.Sep[:len(apiv1.Sep)-1]
		for _, s := range sub {
			p += "/" + url.PathEscape(s)
		}
	}
	return p
}

// escapeSegments escapes each /-separated component of s.
func escapeSegments(s string) string {
	parts := strings.Split(s, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
