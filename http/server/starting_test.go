package server

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// While the process starts, the bound port answers at once: /readyz 503
// with the reason, /healthz 200, anything else 503 UNAVAILABLE with
// Retry-After; after Handoff the real server answers on the same socket,
// and closing its listener closes the port.
func TestStartingAnswersThenHandsOff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	st := ServeStarting(ln)
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		b, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		return res, string(b)
	}
	if res, body := get(ReadyzPath); res.StatusCode != 503 || !strings.Contains(body, "starting") {
		t.Fatalf("/readyz while starting: %d %s", res.StatusCode, body)
	}
	if res, _ := get(HealthzPath); res.StatusCode != 200 {
		t.Fatalf("/healthz while starting: %d", res.StatusCode)
	}
	res, body := get("/v2/library/app/manifests/latest")
	var oci struct{ Errors []struct{ Code string } }
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || json.Unmarshal([]byte(body), &oci) != nil ||
		len(oci.Errors) != 1 || oci.Errors[0].Code != "UNAVAILABLE" {
		t.Fatalf("a registry request while starting: %d %v %s", res.StatusCode, res.Header, body)
	}

	// A large upload's PUT gets the same answer, not a 400 for a body
	// over the default limit: its body is never read.
	req, err := http.NewRequest(http.MethodPut, base+"/v2/library/app/blobs/uploads/x?digest=sha256:0", io.LimitReader(zeros{}, 16<<20))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 16 << 20
	if res, err := client.Do(req); err != nil {
		t.Fatalf("a large PUT while starting: %v", err)
	} else {
		_ = res.Body.Close()
		if res.StatusCode != 503 {
			t.Fatalf("a large PUT while starting: %d, want 503", res.StatusCode)
		}
	}

	real := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("real") }}
	served := make(chan error, 1)
	go func() { served <- real.Serve(st.Handoff()) }()
	if _, body := get("/v2/"); body != "real" {
		t.Fatalf("after the handoff: %q, want the real server's answer", body)
	}
	if err := real.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		_ = c.Close()
		t.Fatal("the port still accepts after the real server closed its listener")
	}
}

// A start that fails before the handoff closes the port.
func TestStartingClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st := ServeStarting(ln)
	st.Close()
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		_ = c.Close()
		t.Fatal("the port still accepts after Close")
	}
}

// zeros is an endless body.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
