package e2e

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"git.wntrmute.dev/kyle/mcr/http/tlsconf/tlstest"
)

// plainTransportFlags are what the client specs pass to reach a plain-HTTP
// registry: allow http://, skip certificate checks. Over TLS they are
// dropped, so every client must verify the server against the test CA.
var plainTransportFlags = map[string]bool{
	"--insecure": true, "--plain-http": true, "--from-plain-http": true, "--to-plain-http": true,
	"--tls-verify=false": true, "--src-tls-verify=false": true, "--dest-tls-verify=false": true,
}

// verifyingTLS rewrites a client's arguments for a TLS registry.
func verifyingTLS(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		switch {
		case plainTransportFlags[args[i]]:
		case args[i] == "--tls" && i+1 < len(args) && args[i+1] == "disabled": // regctl registry set
			out = append(out, "--tls", "enabled")
			i++
		default:
			out = append(out, args[i])
		}
	}
	return out
}

// serverPKI is a test CA and the server certificate mcrsrv serves, for
// 127.0.0.1 and localhost.
type serverPKI struct {
	dir               string
	ca                *tlstest.CA
	certFile, keyFile string
}

func newServerPKI(t *testing.T) *serverPKI {
	t.Helper()
	dir := workDir(t, "pki")
	ca := tlstest.NewCA(t, dir, "mcr-e2e")
	p := &serverPKI{dir: dir, ca: ca}
	p.certFile, p.keyFile = ca.Server(t, 1).Write(t, dir, "server")
	return p
}

// env turns TLS on in the server.
func (p *serverPKI) env(extra ...string) []string {
	return append([]string{"MCR_TLS_CERT_FILE=" + p.certFile, "MCR_TLS_KEY_FILE=" + p.keyFile}, extra...)
}

// trust is a Go client's configuration trusting the CA only.
func (p *serverPKI) trust() *tls.Config { return &tls.Config{RootCAs: p.ca.Pool()} }

// rotate replaces the server's files (by rename, as certbot does) with a
// new certificate of this serial.
func (p *serverPKI) rotate(t *testing.T, serial int64) {
	t.Helper()
	p.ca.Server(t, serial).Write(t, p.dir, "server")
}

// TestTLSClients runs every client's session (TestClients) over HTTPS:
// the clients trust the test CA through SSL_CERT_FILE and run without
// any flag that allows plain HTTP or skips verification.
func TestTLSClients(t *testing.T) {
	requireE2E(t)
	p := newServerPKI(t)
	reg := startTLSRegistry(t, p.trust(), p.ca.File, p.env()...)
	for _, spec := range clientSpecs {
		t.Run(spec.name, func(t *testing.T) {
			t.Parallel()
			runClient(t, reg, spec)
		})
	}
}

// TestTLSConformance runs the 1.1 profile of the conformance suite over
// HTTPS (OCI_TLS=enabled: the suite verifies the certificate).
func TestTLSConformance(t *testing.T) {
	requireE2E(t)
	suite := tool(t, "conformance")
	p := newServerPKI(t)
	reg := startTLSRegistry(t, p.trust(), p.ca.File, p.env()...)
	runConformance(t, suite, reg, "v1.1-tls", []string{"OCI_VERSION=1.1", "OCI_TLS=enabled", "SSL_CERT_FILE=" + p.ca.File})
}

// servedSerial is the serial of the certificate a new connection sees.
func servedSerial(reg *registry) (int64, error) {
	res, err := reg.getV2(5 * time.Second)
	if err != nil {
		return 0, err
	}
	return res.TLS.PeerCertificates[0].SerialNumber.Int64(), nil
}

// waitServed polls new connections until they see serial.
func waitServed(t *testing.T, reg *registry, serial int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := servedSerial(reg)
		if err == nil && got == serial {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("new connections still see serial %d (%v); want %d", got, err, serial)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTLSRotation replaces the certificate files while a large blob is
// being pulled: new connections get the new certificate, and the pull on
// the old connection completes intact. Then the same with the poll
// interval out of the way: SIGHUP reloads, and a bad pair keeps the old.
func TestTLSRotation(t *testing.T) {
	requireE2E(t)
	t.Run("files", func(t *testing.T) {
		p := newServerPKI(t)
		reg := startTLSRegistry(t, p.trust(), p.ca.File, p.env("MCR_TLS_RELOAD_INTERVAL=100ms")...)
		repo := "e2e/" + runID + "/rotation"
		blob := randomBytes(t, 64<<20)
		if err := newProbe(reg).pushBlob(repo, blob); err != nil {
			t.Fatal(err)
		}
		old := reg.client(0)
		defer old.CloseIdleConnections()
		res, err := old.Get(reg.base + "/v2/" + repo + "/blobs/" + sha256Digest(blob))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK || res.TLS.PeerCertificates[0].SerialNumber.Int64() != 1 {
			t.Fatalf("blob GET: %d over serial %d; want 200 over serial 1", res.StatusCode, res.TLS.PeerCertificates[0].SerialNumber)
		}
		h := sha256.New()
		if _, err := io.CopyN(h, res.Body, 1<<20); err != nil {
			t.Fatal(err)
		}
		p.rotate(t, 2)
		waitServed(t, reg, 2)
		rest, err := io.Copy(h, res.Body)
		if err != nil {
			t.Fatalf("the pull on the old connection broke after the rotation: %v", err)
		}
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != sha256Digest(blob) || rest+1<<20 != int64(len(blob)) {
			t.Fatalf("pulled %d bytes, %s; want %d, %s", rest+1<<20, got, len(blob), sha256Digest(blob))
		}
		t.Logf("verified: new connections see serial 2; the 64 MiB pull begun over serial 1 finished intact")
	})
	t.Run("sighup", func(t *testing.T) {
		p := newServerPKI(t)
		reg := startTLSRegistry(t, p.trust(), p.ca.File, p.env("MCR_TLS_RELOAD_INTERVAL=1h", "MCR_LOG_FORMAT=json")...)
		p.rotate(t, 2)
		if got, err := servedSerial(reg); err != nil || got != 1 {
			t.Fatalf("before SIGHUP: serial %d, %v; want 1 (the poll is an hour away)", got, err)
		}
		if err := reg.proc.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitServed(t, reg, 2)
		// A key that is not the certificate's: refused, serial 2 stays.
		if err := os.WriteFile(p.keyFile, p.ca.Server(t, 3).KeyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := reg.proc.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitLogLine(t, reg, "still serving the previous certificate")
		if got, err := servedSerial(reg); err != nil || got != 2 {
			t.Fatalf("after a bad pair: serial %d, %v; want 2", got, err)
		}
	})
}

// TestTLSClientCertificate turns mutual TLS on with builtin auth: without
// a certificate from the client CA no handshake completes; with one, the
// registry's own authentication still applies, and its challenge names an
// https:// realm.
func TestTLSClientCertificate(t *testing.T) {
	requireE2E(t)
	p := newServerPKI(t)
	clients := tlstest.NewCA(t, p.dir, "mcr-e2e-clients")
	withCert := p.trust()
	withCert.Certificates = []tls.Certificate{clients.Client(t, 10, "ci").TLS}
	reg := startTLSRegistry(t, withCert, p.ca.File, p.env("MCR_TLS_CLIENT_CA_FILE="+clients.File, "MCR_AUTH_MODE=builtin")...)

	stranger := p.trust()
	stranger.Certificates = []tls.Certificate{tlstest.NewCA(t, p.dir, "stranger").Client(t, 11, "ci").TLS}
	for name, cfg := range map[string]*tls.Config{"no client certificate": p.trust(), "certificate of another CA": stranger} {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
		if res, err := c.Get(reg.base + "/v2/"); err == nil {
			res.Body.Close()
			t.Errorf("%s: answered %d; want the handshake refused", name, res.StatusCode)
		}
		c.CloseIdleConnections()
	}

	c := reg.client(10 * time.Second)
	defer c.CloseIdleConnections()
	res, err := c.Get(reg.base + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	want := `Bearer realm="https://` + reg.host + `/v2/token"`
	if ch := res.Header.Get("WWW-Authenticate"); res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(ch, want) {
		t.Fatalf("GET /v2/ with a client certificate: %d %q; want 401 with %s", res.StatusCode, ch, want)
	}
	req, err := http.NewRequest(http.MethodGet, reg.base+"/v2/token?service=mcr&scope=registry:catalog:*", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", adminPassword(t, reg))
	res, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	err = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || err != nil || tok.Token == "" {
		t.Fatalf("token over mutual TLS: %d, %v", res.StatusCode, err)
	}
	t.Logf("verified: handshakes without a certificate of the client CA refused; with one, 401 %s, then a token", want)
}

// TestTLSLogLines sends a plain-HTTP request to the TLS port and a TLS
// ClientHello to a plain port: each makes one short, printable log line
// (the second at debug level), and the plain request gets Go's 400.
func TestTLSLogLines(t *testing.T) {
	requireE2E(t)
	p := newServerPKI(t)
	logEnv := []string{"MCR_LOG_FORMAT=json", "MCR_LOG_LEVEL=debug"}
	tlsReg := startTLSRegistry(t, p.trust(), p.ca.File, p.env(logEnv...)...)
	plainReg := startRegistry(t, logEnv...)

	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get("http://" + tlsReg.host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTP request to an HTTPS server") {
		t.Fatalf("plain HTTP to the TLS port: %d %q; want 400 and the reason", res.StatusCode, body)
	}
	if conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", plainReg.host, p.trust()); err == nil {
		conn.Close()
		t.Fatal("TLS handshake with the plain port succeeded")
	}

	for _, tc := range []struct {
		reg         *registry
		msg, level  string
		description string
	}{
		{tlsReg, "plain HTTP request on the TLS port", "info", "plain HTTP on the TLS port"},
		{plainReg, "TLS handshake on the plain-HTTP port", "debug", "ClientHello on the plain port"},
	} {
		lines := waitLogLine(t, tc.reg, tc.msg)
		var hits []string
		for _, l := range lines {
			if strings.Contains(l, tc.msg) {
				hits = append(hits, l)
			}
			if strings.Contains(l, "error when serving connection") {
				t.Errorf("%s: fasthttp logged the connection: %.200q", tc.description, l)
			}
			if len(l) > 1000 || strings.IndexFunc(l, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 || strings.Contains(l, `\u0016`) {
				t.Errorf("%s: a long or binary log line (%d bytes): %.200q", tc.description, len(l), l)
			}
		}
		if len(hits) != 1 || len(hits[0]) > 300 || !strings.Contains(hits[0], `"level":"`+tc.level+`"`) {
			t.Errorf("%s: want one line under 300 bytes at %s, got %q", tc.description, tc.level, hits)
		}
		t.Logf("%s: %s", tc.description, hits)
	}
}

// waitLogLine polls the server's log until a line contains msg and returns
// all its lines.
func waitLogLine(t *testing.T, reg *registry, msg string) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(reg.log)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), msg) {
			return strings.Split(strings.TrimSpace(string(b)), "\n")
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server never logged %q", msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
