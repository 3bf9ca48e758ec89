package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// TestDataDirOwnerOnly starts a real server under umask 022, as a shell
// would, with builtin auth (so it writes the first admin's password),
// pushes an image, leaves an upload half done and takes a snapshot, then
// walks the data directory: nothing in it may be open to the group or to
// other users, Badger's files included.
func TestDataDirOwnerOnly(t *testing.T) {
	requireE2E(t)
	// Not parallel: the umask is the test process's, inherited by the
	// server it starts.
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	reg, pw := startAuthRegistry(t)
	p := authProbe(reg, "admin", pw)

	repo := "e2e/perms"
	config, layer := []byte(`{"architecture":"amd64","os":"linux"}`), randomBytes(t, 64<<10)
	for _, b := range [][]byte{config, layer} {
		if err := p.pushBlob(repo, b); err != nil {
			t.Fatal(err)
		}
	}
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		sha256Digest(config), len(config), sha256Digest(layer), len(layer))
	if _, err := p.pushManifest(repo, "application/vnd.oci.image.manifest.v1+json", []byte(manifest)); err != nil {
		t.Fatal(err)
	}
	r, err := p.do(http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, nil)
	if err != nil || r.status != http.StatusAccepted {
		t.Fatalf("POST upload: %d %v", r.status, err)
	}
	if r, err = p.do(http.MethodPatch, r.header.Get("Location"), map[string]string{"Content-Type": "application/octet-stream"}, randomBytes(t, 4096)); err != nil || r.status != http.StatusAccepted {
		t.Fatalf("PATCH upload: %d %v", r.status, err)
	}
	body, _ := json.Marshal(map[string]string{"dir": "perms"})
	if r, err = p.do(http.MethodPost, "/api/v1/snapshots", map[string]string{"Content-Type": "application/json"}, body); err != nil || r.status/100 != 2 {
		t.Fatalf("snapshot: %d %v %s", r.status, err, r.body)
	}

	seen := map[string]int{}
	err = filepath.WalkDir(reg.data, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(reg.data, path)
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s is mode %04o: open to the group or others", rel, perm)
		}
		seen[strings.SplitN(rel, string(filepath.Separator), 2)[0]]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every part of the tree was there to be checked.
	for _, part := range []string{".", "meta", "blobs", "uploads", "snapshots", "initial-admin-password"} {
		if seen[part] == 0 {
			t.Errorf("nothing under %s in the data directory: the walk checked less than it should (%v)", part, seen)
		}
	}
	t.Logf("checked the data tree: %v", seen)
}

// TestVersionStamped checks that `make build` stamps both binaries with
// the commit they were built from.
func TestVersionStamped(t *testing.T) {
	requireE2E(t)
	bin := os.Getenv(envBin)
	if bin == "" {
		t.Skipf("%s is unset: the binaries are not make build's", envBin)
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("no git checkout to compare with: %v", err)
	}
	commit := strings.TrimSpace(string(head))[:12]
	for _, b := range []string{bin, filepath.Join(filepath.Dir(bin), "mcrctl")} {
		out, err := exec.Command(b, "version").Output()
		if err != nil {
			t.Fatalf("%s version: %v", b, err)
		}
		if s := string(out); !strings.Contains(s, commit) || strings.Contains(s, "(devel)") {
			t.Errorf("%s version printed %q; want commit %s (was bin/ built by make build from this HEAD?)", filepath.Base(b), s, commit)
		}
	}
}

const (
	unitFile     = "../../../deploy/systemd/mcrsrv.service"
	sysusersFile = "../../../deploy/systemd/mcr.sysusers.conf"
	deployConfig = "../../../deploy/mcr.toml"
	unitBinary   = "/usr/local/bin/mcrsrv"
)

// TestSystemdUnit has systemd-analyze verify deploy/systemd/mcrsrv.service
// (with ExecStart pointing at the binary under test: verify wants it to
// exist), systemd-sysusers read its user, and checks the settings the
// deployment relies on, TimeoutStopSec above the configured stop time.
func TestSystemdUnit(t *testing.T) {
	requireE2E(t)
	analyze, sysusers := tool(t, "systemd-analyze"), tool(t, "systemd-sysusers")
	unit, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart="+unitBinary+" ") {
		t.Fatalf("ExecStart does not start %s", unitBinary)
	}
	dir := workDir(t, "systemd")
	copyPath := filepath.Join(dir, "mcrsrv.service")
	if err := os.WriteFile(copyPath, []byte(strings.ReplaceAll(string(unit), unitBinary, serverBinary(t))), 0o600); err != nil {
		t.Fatal(err)
	}
	// verify exits 0 on a mistyped key or value and only prints it: any
	// output fails the test.
	out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(sysusers, "--dry-run", "--root="+dir, mustAbs(t, sysusersFile)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Creating user 'mcr'") {
		t.Errorf("systemd-sysusers --dry-run: %v\n%s", err, out)
	}

	settings := unitSettings(string(unit))
	for key, want := range map[string]string{
		"Type": "notify", "User": "mcr", "StateDirectory": "mcr", "ProtectSystem": "strict", "NoNewPrivileges": "yes",
		"PrivateTmp": "yes", "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE", "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
		"Restart": "on-failure", "LimitNOFILE": "1048576", "UMask": "0077",
	} {
		if got := settings[key]; got != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
	for _, arg := range []string{"--config /etc/mcr/mcr.toml", "--data /var/lib/mcr"} {
		if !strings.Contains(settings["ExecStart"], arg) {
			t.Errorf("ExecStart %q lacks %s", settings["ExecStart"], arg)
		}
	}

	// The stop timeout outlasts a graceful shutdown of the default
	// configuration (deploy/mcr.toml, which a test keeps equal to the
	// code's defaults): drain, shutdown_timeout, and the 2 s of closing.
	var cfg struct {
		HTTP map[string]any `toml:"http"`
	}
	if _, err := toml.DecodeFile(deployConfig, &cfg); err != nil {
		t.Fatal(err)
	}
	need := 2 * time.Second
	for _, key := range []string{"shutdown_timeout", "drain"} {
		if s, ok := cfg.HTTP[key].(string); ok {
			d, err := time.ParseDuration(s)
			if err != nil {
				t.Fatalf("http.%s %q: %v", key, s, err)
			}
			need += d
		}
	}
	stop, err := time.ParseDuration(settings["TimeoutStopSec"])
	if err != nil || stop <= need {
		t.Errorf("TimeoutStopSec=%q (%v): want more than http.drain + http.shutdown_timeout + 2s = %v", settings["TimeoutStopSec"], err, need)
	}
}

// unitSettings reads a unit file's Key=Value lines; a key given twice keeps
// its last value.
func unitSettings(unit string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			m[k] = v
		}
	}
	return m
}

func mustAbs(t *testing.T, path string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
