package e2e

import (
	"crypto/rand"
	"crypto/tls"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/http/tlsconf/tlstest"
)

// nginxConf is the committed example, relative to this package.
const nginxConf = "../../../deploy/nginx/mcr.conf"

// TestNginx puts nginx, configured with deploy/nginx/mcr.conf, in front
// of a server with builtin auth, nginx terminating TLS with a certificate
// of a test CA: the OCI conformance suite (1.1, logged in) and crane
// push and pull through it, trusting that certificate (no --insecure).
// mcr trusts the proxy (http.trusted_proxies), so its challenges must
// announce the https realm on nginx's address, or every client fails.
func TestNginx(t *testing.T) {
	requireE2E(t)
	requireOwnServer(t, "behind nginx")
	nginx := tool(t, "nginx")
	suite := tool(t, "conformance")
	crane := tool(t, "crane")
	reg := startRegistry(t, "MCR_AUTH_MODE=builtin", "MCR_HTTP_TRUSTED_PROXIES=127.0.0.1")
	pw := adminPassword(t, reg)

	dir := workDir(t, "nginx")
	ca := tlstest.NewCA(t, dir, "mcr-e2e-nginx")
	caFile := ca.File
	certFile, keyFile := ca.Server(t, 2).Write(t, dir, "nginx")
	front := startNginx(t, nginx, dir, reg.host, certFile, keyFile, ca)

	resp, err := httpsClient(ca).Get("https://" + front + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.Header.Get("WWW-Authenticate"), `realm="https://`+front+`/v2/token"`; !strings.Contains(got, want) {
		t.Errorf("challenge through nginx: %q; want %s", got, want)
	}

	t.Run("conformance", func(t *testing.T) {
		runConformance(t, suite, &registry{host: front, base: "https://" + front}, "v1.1-nginx",
			[]string{"OCI_VERSION=1.1", "OCI_TLS=enabled", "SSL_CERT_FILE=" + caFile, "OCI_USERNAME=admin", "OCI_PASSWORD=" + pw})
	})
	t.Run("crane", func(t *testing.T) {
		cdir := workDir(t, "crane")
		c := command{t: t, bin: crane, env: append(isolatedEnv(t, cdir), "SSL_CERT_FILE="+caFile), timeout: 3 * time.Minute}
		ref := front + "/e2e/" + runID + "/nginx:v1"
		layer := filepath.Join(cdir, "layer.tar")
		// 24 MiB of random bytes: a body nginx would spool to disk were
		// request buffering on.
		big := make([]byte, 24<<20)
		if _, err := rand.Read(big); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(layer, tarOf(t, "big.bin", string(big)), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := c.run("auth", "login", front, "-u", "admin", "-p", pw); r.err != nil {
			t.Fatal(r.err)
		}
		if r := c.run("append", "-f", layer, "-t", ref); r.err != nil {
			t.Fatalf("push through nginx: %v", r.err)
		}
		out := filepath.Join(cdir, "pulled.tar")
		if r := c.run("export", ref, out); r.err != nil {
			t.Fatalf("pull through nginx: %v", r.err)
		}
		fi, err := os.Stat(out)
		if err != nil || fi.Size() < int64(len(big)) {
			t.Errorf("pulled filesystem: %v, %v; want at least %d bytes", fi, err, len(big))
		}
		// nginx warns whenever it spools a body to a temporary file.
		log, err := os.ReadFile(filepath.Join(dir, "nginx.log"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(log), "buffered to a temporary file") {
			t.Errorf("nginx spooled a body to disk: request or response buffering is on\n%s", tail(string(log), 2000))
		}
	})
}

// startNginx runs nginx in the foreground with the committed server block,
// its placeholders replaced, on a free loopback port; it returns
// host:port and stops nginx when the test ends.
func startNginx(t *testing.T, nginx, dir, upstream, certFile, keyFile string, ca *tlstest.CA) string {
	t.Helper()
	raw, err := os.ReadFile(nginxConf)
	if err != nil {
		t.Fatal(err)
	}
	front := freeAddr(t)
	conf := string(raw)
	for old, new := range map[string]string{
		"server 127.0.0.1:5000;":                          "server " + upstream + ";",
		"listen 443 ssl;":                                 "listen " + front + " ssl;",
		"ssl_certificate     /etc/ssl/mcr/fullchain.pem;": "ssl_certificate " + certFile + ";",
		"ssl_certificate_key /etc/ssl/mcr/privkey.pem;":   "ssl_certificate_key " + keyFile + ";",
	} {
		if !strings.Contains(conf, old) {
			t.Fatalf("%s no longer contains %q: update the test's placeholders", nginxConf, old)
		}
		conf = strings.Replace(conf, old, new, 1)
	}
	server := filepath.Join(dir, "mcr.conf")
	var temps strings.Builder
	for _, k := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		temps.WriteString(k + "_temp_path " + filepath.Join(dir, k+"_temp") + ";\n")
	}
	main := filepath.Join(dir, "nginx.conf")
	files := map[string]string{
		server: conf,
		main: "events { worker_connections 256; }\nhttp {\n" + temps.String() +
			"access_log " + filepath.Join(dir, "access.log") + ";\ninclude " + server + ";\n}\n",
	}
	for p, content := range files {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// One process (master_process off): no switch to an unprivileged
	// worker user that could not read the test's temporary directory.
	cmd := exec.Command(nginx, "-p", dir, "-c", main, "-e", "stderr",
		"-g", "daemon off; master_process off; pid "+filepath.Join(dir, "nginx.pid")+"; error_log stderr warn;")
	c := startChild(t, "nginx", cmd, filepath.Join(dir, "nginx.log"))
	t.Cleanup(func() {
		if _, stopped, _ := c.stop(os.Interrupt); !stopped { // nginx: fast shutdown
			t.Errorf("nginx still running %s after SIGINT: killed", stopTimeout)
		}
		c.logOnFailure(t)
	})

	client := httpsClient(ca)
	c.waitReady(t, func() (bool, string) {
		resp, err := client.Get("https://" + front + "/v2/")
		if err != nil {
			return false, "not proxying: " + err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized, "GET /v2/ through nginx answered " + resp.Status
	})
	return front
}

func httpsClient(ca *tlstest.CA) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
}
