package server_test

import (
	"net/http"
	"strings"
	"testing"

	"git.wntrmute.dev/kyle/mcr/http/server"
	"git.wntrmute.dev/kyle/mcr/http/servertest"
)

// TestMaxHeaderBytes: a request whose line and headers fit in
// MaxHeaderBytes is served, one past it is answered 431 (not a reset or a
// 400), and the option raises the bound.
func TestMaxHeaderBytes(t *testing.T) {
	get := func(t *testing.T, r *servertest.Registry, pad int) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://registry/v2/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Pad", strings.Repeat("a", pad))
		resp, err := r.Client.Do(req)
		if err != nil {
			t.Fatalf("%d bytes of padding: %v", pad, err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name  string
		limit int // server.Options.MaxHeaderBytes
		fits  int // padding that leaves room for the rest of the request
	}{
		{"default", 0, server.DefaultMaxHeaderBytes - 512},
		{"raised", 64 << 10, 64<<10 - 512},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := servertest.Serve(t, servertest.Config{Server: func(_ *servertest.Registry, o *server.Options) { o.MaxHeaderBytes = tc.limit }})
			limit := tc.limit
			if limit == 0 {
				limit = server.DefaultMaxHeaderBytes
			}
			if code := get(t, r, tc.fits); code != http.StatusOK {
				t.Errorf("headers of about %d bytes, the limit %d: status %d, want 200", tc.fits+512, limit, code)
			}
			if code := get(t, r, limit); code != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("headers past the limit %d: status %d, want 431", limit, code)
			}
		})
	}
}
