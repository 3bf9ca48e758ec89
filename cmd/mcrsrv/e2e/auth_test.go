package e2e

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// adminPassword reads the first admin's password that the first serve on
// an empty data directory wrote (auth mode builtin).
func adminPassword(t *testing.T, reg *registry) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(reg.data, "initial-admin-password"))
	if err != nil {
		t.Fatalf("first admin's password: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// startAuthRegistry starts a fresh server with builtin auth on, and the
// extra settings of env (KEY=VALUE).
func startAuthRegistry(t *testing.T, env ...string) (*registry, string) {
	t.Helper()
	requireOwnServer(t, "with auth on")
	reg := startRegistry(t, append([]string{"MCR_AUTH_MODE=builtin"}, env...)...)
	return reg, adminPassword(t, reg)
}

// TestConformanceWithCredentials runs the 1.1 profile once more against a
// server with builtin auth: the suite logs in as the first admin and
// follows the 401 challenge and token flow on every request.
func TestConformanceWithCredentials(t *testing.T) {
	requireE2E(t)
	suite := tool(t, "conformance")
	reg, pw := startAuthRegistry(t)
	runConformance(t, suite, reg, "v1.1-auth", []string{"OCI_VERSION=1.1", "OCI_USERNAME=admin", "OCI_PASSWORD=" + pw})
}

// TestCraneLogin drives crane against a server with auth on: anonymous is
// refused, crane auth login stores the credentials, and push, pull and
// catalog then go through the token flow.
func TestCraneLogin(t *testing.T) {
	requireE2E(t)
	crane := tool(t, "crane")
	reg, pw := startAuthRegistry(t)
	dir := workDir(t, "crane-auth")
	c := command{t: t, bin: crane, env: isolatedEnv(t, dir), timeout: 2 * time.Minute}
	ref := reg.host + "/e2e/auth:v1"

	if r := c.run("catalog", reg.host, "--insecure"); r.err == nil || !strings.Contains(r.stderr, "UNAUTHORIZED") {
		t.Errorf("anonymous catalog: want UNAUTHORIZED, got %v\n%s", r.err, r.stderr)
	}
	layer := filepath.Join(dir, "layer.tar")
	if err := os.WriteFile(layer, tarOf(t, "hello.txt", "hello, auth\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := c.run("append", "-f", layer, "-t", ref, "--insecure"); r.err == nil {
		t.Error("anonymous push succeeded")
	}
	if r := c.run("auth", "login", reg.host, "-u", "admin", "-p", pw); r.err != nil {
		t.Fatal(r.err)
	}
	if r := c.run("append", "-f", layer, "-t", ref, "--insecure"); r.err != nil {
		t.Fatalf("push as admin: %v", r.err)
	}
	if r := c.run("export", ref, filepath.Join(dir, "out.tar"), "--insecure"); r.err != nil {
		t.Errorf("pull as admin: %v", r.err)
	}
	if r := c.run("catalog", reg.host, "--insecure"); r.err != nil || !strings.Contains(r.stdout, "e2e/auth") {
		t.Errorf("catalog as admin: %v %q", r.err, r.stdout)
	}
	if r := c.run("auth", "logout", reg.host); r.err != nil {
		t.Fatal(r.err)
	}
	if r := c.run("manifest", ref, "--insecure"); r.err == nil || !strings.Contains(r.stderr, "UNAUTHORIZED") {
		t.Errorf("pull after logout: want UNAUTHORIZED, got %v", r.err)
	}
}

func tarOf(t *testing.T, name, content string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write([]byte(content))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
