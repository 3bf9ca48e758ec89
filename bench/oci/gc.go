package oci

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// ErrNoGCEndpoint is what TriggerGC returns when the registry has no such
// endpoint (404 or 405): a registry without online GC, or an mcr built
// before its admin API.
var ErrNoGCEndpoint = errors.New("the registry has no GC endpoint there")

// TriggerGC asks the registry to start a garbage collection by POSTing to
// path (mcr's admin API: /api/v1/gc), with the client's credentials. It
// reports true when a run was started (202 Accepted) and false when one
// was already going (409 Conflict); both are success.
func (c *Client) TriggerGC(ctx context.Context, path string) (started bool, err error) {
	if !strings.HasPrefix(path, "/") {
		return false, errors.New("GC path must start with /: it is a path on the registry under test")
	}
	resp, err := c.do(ctx, http.MethodPost, path, http.Header{"Content-Type": {"application/json"}}, strings.NewReader("{}"), 2,
		http.StatusAccepted, http.StatusConflict)
	var se *StatusError
	if errors.As(err, &se) && (se.Got == http.StatusNotFound || se.Got == http.StatusMethodNotAllowed) {
		return false, errors.Join(ErrNoGCEndpoint, err)
	}
	if err != nil {
		return false, err
	}
	drain(resp)
	return resp.StatusCode == http.StatusAccepted, nil
}
