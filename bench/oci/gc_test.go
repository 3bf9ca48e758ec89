package oci

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestTriggerGC(t *testing.T) {
	status := http.StatusAccepted
	var method, path, auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, path, auth = r.Method, r.URL.Path, r.Header.Get("Authorization")
		w.WriteHeader(status)
	}))
	defer srv.Close()
	c, err := New(strings.TrimPrefix(srv.URL, "http://"), Options{Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for _, tc := range []struct {
		status  int
		started bool
		noGC    bool
		fails   bool
	}{
		{http.StatusAccepted, true, false, false},
		{http.StatusConflict, false, false, false},
		{http.StatusNotFound, false, true, true},
		{http.StatusMethodNotAllowed, false, true, true},
		{http.StatusInternalServerError, false, false, true},
		{http.StatusUnauthorized, false, false, true},
	} {
		status = tc.status
		started, err := c.TriggerGC(ctx, "/api/v1/gc")
		if started != tc.started || (err != nil) != tc.fails || errors.Is(err, ErrNoGCEndpoint) != tc.noGC {
			t.Errorf("status %d: started %v, err %v", tc.status, started, err)
		}
		if method != http.MethodPost || path != "/api/v1/gc" || !strings.HasPrefix(auth, "Basic ") {
			t.Errorf("status %d: sent %s %s auth %q", tc.status, method, path, auth)
		}
	}
	if _, err := c.TriggerGC(ctx, "http://elsewhere/api/v1/gc"); err == nil {
		t.Error("an absolute URL was accepted")
	}
}
