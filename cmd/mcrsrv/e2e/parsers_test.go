package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// These tests pin the parsing of tool output the e2e tests rely on, on
// excerpts of real logs of the pinned versions. They need no tools and run
// in every `go test`.

const (
	dA = "sha256:486c4cea9d4f981d0a95f21b17d81560e7fa0e2c2e535f95911b4434087deea9"
	dB = "sha256:183d2275401cb1fde152da6aaa581a12714e441f892a2f1975f6578b0c1b302f"
)

func TestMountParsers(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) []mountAttempt
		log   string
		want  []mountAttempt
	}{
		{
			name:  "crane",
			parse: craneMounts,
			log: `2026/11/26 20:13:02 --> POST http://127.0.0.1:5055/v2/play/copy2/blobs/uploads/?from=play%2Fimg&mount=sha256%3A486c4cea9d4f981d0a95f21b17d81560e7fa0e2c2e535f95911b4434087deea9&origin=127.0.0.1%3A5055
2026/11/26 20:13:00 <-- 404 http://127.0.0.1:5055/v2/play/copy/blobs/sha256:486c4cea9d4f981d0a95f21b17d81560e7fa0e2c2e535f95911b4434087deea9 (408.737µs)
2026/11/26 20:13:02 <-- 201 http://127.0.0.1:5055/v2/play/copy2/blobs/uploads/?from=play%2Fimg&mount=sha256%3A183d2275401cb1fde152da6aaa581a12714e441f892a2f1975f6578b0c1b302f&origin=127.0.0.1%3A5055 (3.097434ms)
2026/11/26 20:13:02 <-- 202 http://127.0.0.1:5055/v2/play/copy2/blobs/uploads/?from=play%2Fimg&mount=sha256%3A486c4cea9d4f981d0a95f21b17d81560e7fa0e2c2e535f95911b4434087deea9&origin=127.0.0.1%3A5055 (3.588295ms)`,
			want: []mountAttempt{{dB, 201}, {dA, 202}},
		},
		{
			name:  "oras",
			parse: orasMounts,
			log: `[DEBUG]: --> Request #3
> Request URL: "http://127.0.0.1:5055/v2/play/copy3/blobs/sha256:486c4cea9d4f981d0a95f21b17d81560e7fa0e2c2e535f95911b4434087deea9"
[DEBUG]: --> Request #4
> Request URL: "http://127.0.0.1:5055/v2/play/copy3/blobs/uploads/?from=REDACTED&mount=REDACTED"
[DEBUG]: <-- Response #3
< Response Status: "404 Not Found"
[DEBUG]: --> Request #5
> Request URL: "http://127.0.0.1:5055/v2/play/copy3/blobs/uploads/?from=REDACTED&mount=REDACTED"
[DEBUG]: <-- Response #5
< Response Status: "202 Accepted"
[DEBUG]: <-- Response #4
< Response Status: "201 Created"`,
			want: []mountAttempt{{"", 201}, {"", 202}},
		},
		{
			name:  "regctl",
			parse: regctlMounts,
			log: `time=2026-11-26T20:13:08.506Z level=DEBUG-4 msg="reg http request" req-method=HEAD req-url="http://127.0.0.1:5055/v2/play/copy5/blobs/sha256:486c" resp-status="404 Not Found"
time=2026-11-26T20:13:08.506Z level=DEBUG-4 msg="reg http request" req-method=POST req-url="http://127.0.0.1:5055/v2/play/copy5/blobs/uploads/?from=play%2Fimg&mount=sha256%3A486c4cea9d4f981d0a95f21b17d81560e7fa0e2c2e535f95911b4434087deea9" req-headers="map[User-Agent:[regclient/regctl (v0.11.7)]]" resp-status="201 Created" resp-headers="map[Content-Length:[0]]"
time=2026-11-26T20:13:08.506Z level=DEBUG-4 msg="reg http request" req-method=POST req-url="http://127.0.0.1:5055/v2/play/copy5/blobs/uploads/?from=play%2Fimg&mount=sha256%3A183d2275401cb1fde152da6aaa581a12714e441f892a2f1975f6578b0c1b302f" req-headers="map[]" resp-status="202 Accepted" resp-headers="map[]"`,
			want: []mountAttempt{{dA, 201}, {dB, 202}},
		},
		{
			name:  "skopeo all mounted",
			parse: skopeoMounts,
			log: `time="2026-11-26T20:22:55Z" level=debug msg="Trying to mount /v2/e2e/skopeo/copy/blobs/uploads/?from=e2e%2Fskopeo%2Fimg&mount=sha256%3A486c4cea9d4f981d0a95f21b17d81560e7fa0e2c2e535f95911b4434087deea9"
time="2026-11-26T20:22:55Z" level=debug msg="Trying to mount /v2/e2e/skopeo/copy/blobs/uploads/?from=e2e%2Fskopeo%2Fimg&mount=sha256%3A183d2275401cb1fde152da6aaa581a12714e441f892a2f1975f6578b0c1b302f"
time="2026-11-26T20:22:55Z" level=debug msg="... mount OK"
time="2026-11-26T20:22:55Z" level=debug msg="... mount OK"`,
			want: []mountAttempt{{dA, 201}, {dB, 201}},
		},
		{
			name:  "skopeo fallback",
			parse: skopeoMounts,
			log: `time="2026-11-26T20:22:55Z" level=debug msg="Trying to mount /v2/e2e/skopeo/copy/blobs/uploads/?from=e2e%2Fskopeo%2Fimg&mount=sha256%3A486c4cea9d4f981d0a95f21b17d81560e7fa0e2c2e535f95911b4434087deea9"
time="2026-11-26T20:22:55Z" level=debug msg="Trying to mount /v2/e2e/skopeo/copy/blobs/uploads/?from=e2e%2Fskopeo%2Fimg&mount=sha256%3A183d2275401cb1fde152da6aaa581a12714e441f892a2f1975f6578b0c1b302f"
time="2026-11-26T20:22:55Z" level=debug msg="... mount OK"
time="2026-11-26T20:22:55Z" level=debug msg="... started an upload instead of mounting, trying to cancel at http://x/v2/e2e/skopeo/copy/blobs/uploads/1"`,
			want: []mountAttempt{{"", 201}, {"", 202}},
		},
		{name: "no mounts", parse: craneMounts, log: "2026/11/26 <-- 200 http://h/v2/\n", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.parse(tt.log); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReadJunit(t *testing.T) {
	const doc = `<testsuites tests="4" failures="1">
  <testsuite name="OCI Conformance Test" tests="4" failures="1" errors="1" skipped="1">
    <testcase name="OCI Conformance Test/ping" classname="" status="passed"></testcase>
    <testcase name="OCI Conformance Test/sha256 blobs/blob-head" classname="" status="failure">
      <system-out>unexpected status code, expected one of [200], received 404</system-out>
      <system-err>~~~ REQUEST ~~~&#xA;Method: HEAD&#xA;~~~ RESPONSE ~~~&#xA;Status: 404&#xA;======</system-err>
    </testcase>
    <testcase name="OCI Conformance Test/referrers" classname="" status="error"></testcase>
    <testcase name="OCI Conformance Test/sparse" classname="" status="skipped"></testcase>
  </testsuite>
</testsuites>`
	path := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := readJunit(path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.total != 4 || rep.passed != 1 || rep.skipped != 1 || len(rep.failed) != 2 {
		t.Fatalf("got %+v", rep)
	}
	f := rep.failed[0]
	if f.name != "sha256 blobs/blob-head" || !strings.Contains(f.errText, "received 404") {
		t.Errorf("first failure %+v", f)
	}
	if last := lastExchange(f.output); !strings.HasPrefix(last, "~~~ REQUEST ~~~") || !strings.Contains(last, "Status: 404") || strings.HasSuffix(last, "=") {
		t.Errorf("lastExchange = %q", last)
	}
	if rep.failed[1].name != "referrers" || !strings.Contains(rep.failed[1].errText, "error") {
		t.Errorf("second failure %+v", rep.failed[1])
	}
	if _, err := readJunit(filepath.Join(t.TempDir(), "missing.xml")); err == nil {
		t.Error("missing report: no error")
	}
}

func TestNotPassing(t *testing.T) {
	console := "Test results\n  x: Pass\nAPI conformance:\n  Tag listing...................:       FAIL\n  Blob push.....................:       Pass\n" +
		"  Blob upload cancel............:   Disabled\n\nData conformance:\n  Image.........................:       Pass\n  Sparse Manifests..............:       Skip\n"
	if got, want := notPassing(console), "Tag listing=FAIL, Blob upload cancel=Disabled, Sparse Manifests=Skip"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestVerifyTree checks that layout verification catches a missing root, a
// corrupted blob and a missing blob.
func TestVerifyTree(t *testing.T) {
	dir := t.TempDir()
	l := newLayout(t, dir)
	img := l.image("amd64", "unit", 100, 200)
	img.Platform = nil
	l.tag(img, "v1")
	if n, err := verifyLayout(dir, img.Digest); err != nil || n != 4 {
		t.Fatalf("intact layout: %d blobs, %v; want 4, nil", n, err)
	}
	if _, err := verifyLayout(dir, sha256Digest([]byte("other"))); err == nil {
		t.Error("unlisted root: no error")
	}
	var m manifest
	b, _ := os.ReadFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(img.Digest, "sha256:")))
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	layer := filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(m.Layers[1].Digest, "sha256:"))
	if err := os.WriteFile(layer, []byte("corrupt"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyLayout(dir, img.Digest); err == nil || !strings.Contains(err.Error(), "hashes to") {
		t.Errorf("corrupted layer: %v", err)
	}
	if err := os.Remove(layer); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyLayout(dir, img.Digest); err == nil {
		t.Error("missing layer: no error")
	}
}
