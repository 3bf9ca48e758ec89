package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// TestGRPCurl drives the gRPC admin API of a real mcrsrv with TLS and
// builtin auth from grpcurl: the services listed through reflection,
// health, then status, a policy test and an audit query with a bearer
// token from /v2/token.
func TestGRPCurl(t *testing.T) {
	requireE2E(t)
	grpcurl := tool(t, "grpcurl")
	if os.Getenv(envRegistry) != "" {
		t.Skipf("%s is set: this test needs a server of its own with gRPC on", envRegistry)
	}
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

	// Without credentials: Unauthenticated.
	r := c.run("-cacert", p.ca.File, gaddr, "mcr.v1.RegistryService/GetStatus")
	if r.err == nil || !strings.Contains(r.stderr, "Unauthenticated") {
		t.Errorf("status without a token: %v %s", r.err, r.stderr)
	}
}
