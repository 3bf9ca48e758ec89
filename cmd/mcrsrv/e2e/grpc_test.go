package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestGRPCurl drives the gRPC admin API of a real mcrsrv with TLS and
// builtin auth from grpcurl: the services listed through reflection,
// health, then status, a policy test and an audit query with a bearer
// token from /v2/token, and the audit log followed as a server stream
// while a push happens over HTTP.
func TestGRPCurl(t *testing.T) {
	requireE2E(t)
	grpcurl := tool(t, "grpcurl")
	requireOwnServer(t, "with gRPC on")
	p := newServerPKI(t)
	gaddr := freeAddr(t)
	reg := startTLSRegistry(t, p.trust(), p.ca.File, p.env("MCR_AUTH_MODE=builtin", "MCR_GRPC_ADDR="+gaddr)...)
	pw := adminPassword(t, reg)

	// A token with the admin API's scope, as mcrctl gets one.
	q := url.Values{"service": {"mcr"}, "scope": {"registry:api:*"}}
	req, _ := http.NewRequest(http.MethodGet, reg.base+"/v2/token?"+q.Encode(), nil)
	req.SetBasicAuth("admin", pw)
	resp, err := reg.client(30 * time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.Token == "" {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}

	c := command{t: t, bin: grpcurl, env: os.Environ(), timeout: 2 * time.Minute}
	call := func(args ...string) string {
		t.Helper()
		args = append([]string{"-cacert", p.ca.File, "-H", "authorization: Bearer " + tok.Token}, args...)
		r := c.run(args...)
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.stdout
	}

	// The server is up once health answers (it serves gRPC as soon as
	// the HTTP listener is ready, but poll rather than assume).
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := c.run("-cacert", p.ca.File, gaddr, "grpc.health.v1.Health/Check")
		if r.err == nil && strings.Contains(r.stdout, `"SERVING"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gRPC health never SERVING: %v %s", r.err, r.stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}

	list := call(gaddr, "list")
	for _, svc := range []string{"mcr.v1.RegistryService", "mcr.v1.PolicyService", "mcr.v1.AuditService",
		"mcr.v1.AccountService", "mcr.v1.JobService", "mcr.v1.SnapshotService", "grpc.health.v1.Health"} {
		if !strings.Contains(list, svc) {
			t.Errorf("grpcurl list lacks %s:\n%s", svc, list)
		}
	}

	var st struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal([]byte(call(gaddr, "mcr.v1.RegistryService/GetStatus")), &st); err != nil || st.Version == "" {
		t.Errorf("status: %+v %v", st, err)
	}

	var d struct {
		Allowed bool `json:"allowed"`
		Rule    struct {
			ID string `json:"id"`
		} `json:"rule"`
	}
	out := call("-d", `{"account":"admin","action":"delete","repository":"team/app"}`, gaddr, "mcr.v1.PolicyService/TestPolicy")
	if err := json.Unmarshal([]byte(out), &d); err != nil || !d.Allowed || d.Rule.ID == "" {
		t.Errorf("policy test: %s %v", out, err)
	}

	var a struct {
		Events []struct {
			Type        string `json:"type"`
			AccountName string `json:"accountName"`
		} `json:"events"`
	}
	out = call("-d", `{"filter":{"types":["login"]},"page_size":10}`, gaddr, "mcr.v1.AuditService/QueryAudit")
	if err := json.Unmarshal([]byte(out), &a); err != nil || len(a.Events) == 0 || a.Events[0].AccountName != "admin" {
		t.Errorf("audit query: %s %v", out, err)
	}

	followPush(t, reg, pw, grpcurl, p.ca.File, tok.Token, gaddr)

	// Without credentials: Unauthenticated.
	r := c.run("-cacert", p.ca.File, gaddr, "mcr.v1.RegistryService/GetStatus")
	if r.err == nil || !strings.Contains(r.stderr, "Unauthenticated") {
		t.Errorf("status without a token: %v %s", r.err, r.stderr)
	}
}

// followPush follows the audit log for pushes with grpcurl's server
// stream, pushes an artifact over HTTP meanwhile, and waits for the
// stream to deliver its push event; cancelling the stream ends grpcurl.
// The line reader stops sending once ctx ends (the lines after the one
// awaited have no taker) and followPush returns only after it exited, so
// no goroutine outlives the test.
func followPush(t *testing.T, reg *registry, pw, grpcurl, caFile, token, gaddr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	follow := exec.CommandContext(ctx, grpcurl, "-cacert", caFile, "-H", "authorization: Bearer "+token,
		"-d", `{"filter":{"types":["push"],"repository":"follow/app"}}`, gaddr, "mcr.v1.AuditService/FollowAudit")
	out, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	read := make(chan struct{})
	go func() {
		defer close(read)
		defer close(lines)
		for s := bufio.NewScanner(out); s.Scan(); {
			select {
			case lines <- s.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	// Whatever ends the test, the reader exits before followPush returns
	// and before Wait closes the pipe it reads (os/exec: reads must end
	// first).
	defer func() { cancel(); <-read; _ = follow.Wait() }()
	// The follow starts at the beginning of the log, so the first push is
	// delivered however the stream and the push race; once it arrived the
	// stream is live, and the second push can only arrive as it happens.
	first := pushArtifact(t, reg, pw, "follow/app", "v1")
	awaitLine(t, ctx, lines, first)
	second := pushArtifact(t, reg, pw, "follow/app", "v2")
	awaitLine(t, ctx, lines, second)
	// The deferred cancel kills grpcurl: the stream ends with its client.
}

// awaitLine reads lines until one contains want.
func awaitLine(t *testing.T, ctx context.Context, lines <-chan string, want string) {
	t.Helper()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the follow stream ended before %s arrived", want)
			}
			if strings.Contains(l, want) {
				return
			}
		case <-ctx.Done():
			t.Fatalf("the follow stream never delivered %s", want)
		}
	}
}

// pushArtifact pushes a one-blob artifact to repo:tag over HTTPS with
// Basic credentials and returns the manifest's digest.
func pushArtifact(t *testing.T, reg *registry, pw, repo, tag string) string {
	t.Helper()
	c := reg.client(30 * time.Second)
	send := func(method, path, ctype string, body []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, reg.base+path, bytes.NewReader(body))
		req.SetBasicAuth("admin", pw)
		req.Header.Set("Content-Type", ctype)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
	}
	empty := []byte("{}")
	send("POST", "/v2/"+repo+"/blobs/uploads/?digest="+digestOf(empty), "application/octet-stream", empty)
	m := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"artifactType":"application/vnd.mcr.e2e.follow-%s","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},`+
		`"layers":[{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2}]}`, tag, digestOf(empty), digestOf(empty))
	send("PUT", "/v2/"+repo+"/manifests/"+tag, "application/vnd.oci.image.manifest.v1+json", m)
	return digestOf(m)
}
