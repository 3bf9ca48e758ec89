package distapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/http/servertest"
)

func TestBase(t *testing.T) {
	tr := servertest.New(t, engine.Options{})
	r := tr.Do("GET", "/v2/", nil)
	tr.Expect(r, 200, "", "GET /v2/")
	if r.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Errorf("API version header = %q", r.Header.Get("Docker-Distribution-API-Version"))
	}
	tr.Expect(tr.Do("GET", "/nope", nil), 404, "NOT_FOUND", "unknown path")
	tr.Expect(tr.Do("GET", "/v2/a/unknown/x", nil), 404, "NOT_FOUND", "unknown endpoint")
	tr.Expect(tr.Do("POST", "/v2/a/tags/list", nil), 405, "UNSUPPORTED", "wrong method")
}

// A bad name is refused without echoing it whole: the error repeats at
// most errcode.MaxEcho bytes of it.
func TestNameInvalidClipped(t *testing.T) {
	tr := servertest.New(t, engine.Options{})
	name := strings.Repeat("A", 10_000)
	r := tr.Do("GET", "/v2/"+name+"/tags/list", nil)
	tr.Expect(r, 400, "NAME_INVALID", "10 KB name")
	if len(r.Body) > 1024 || !strings.Contains(string(r.Body), "…") {
		t.Errorf("NAME_INVALID answer of %d bytes: %.120s", len(r.Body), r.Body)
	}
}

func TestBlobPushPull(t *testing.T) {
	tr := servertest.New(t, engine.Options{})
	data := servertest.RandomBytes(200_000)
	d := tr.PushBlob("team/app", data)

	r := tr.Do("HEAD", "/v2/team/app/blobs/"+d.String(), nil)
	tr.Expect(r, 200, "", "HEAD blob")
	if r.Header.Get("Content-Length") != strconv.Itoa(len(data)) || len(r.Body) != 0 || r.Header.Get("Docker-Content-Digest") != d.String() {
		t.Errorf("HEAD headers %v, body %d bytes", r.Header, len(r.Body))
	}
	r = tr.Do("GET", "/v2/team/app/blobs/"+d.String(), nil)
	if r.Status != 200 || !bytes.Equal(r.Body, data) {
		t.Fatalf("GET blob: %d, %d bytes", r.Status, len(r.Body))
	}
	r = tr.Do("GET", "/v2/team/app/blobs/"+d.String(), nil, "Range", "bytes=100-199")
	if r.Status != 206 || !bytes.Equal(r.Body, data[100:200]) || r.Header.Get("Content-Range") != fmt.Sprintf("bytes 100-199/%d", len(data)) {
		t.Errorf("range GET: %d %q, %d bytes", r.Status, r.Header.Get("Content-Range"), len(r.Body))
	}
	r = tr.Do("GET", "/v2/team/app/blobs/"+d.String(), nil, "Range", "bytes=-10")
	if r.Status != 206 || !bytes.Equal(r.Body, data[len(data)-10:]) {
		t.Errorf("suffix range: %d, %d bytes", r.Status, len(r.Body))
	}
	tr.Expect(tr.Do("GET", "/v2/team/app/blobs/"+d.String(), nil, "Range", "bytes=999999-"), 416, "", "range past end")

	// Not linked into another repository, even though the bytes exist.
	tr.Expect(tr.Do("GET", "/v2/other/blobs/"+d.String(), nil), 404, "NAME_UNKNOWN", "blob of unknown repo")
	tr.PushBlob("other", []byte("x"))
	tr.Expect(tr.Do("GET", "/v2/other/blobs/"+d.String(), nil), 404, "BLOB_UNKNOWN", "blob not linked")
	tr.Expect(tr.Do("GET", "/v2/team/app/blobs/sha256:nothex", nil), 400, "DIGEST_INVALID", "bad digest")
	tr.Expect(tr.Do("GET", "/v2/Team/blobs/"+d.String(), nil), 400, "NAME_INVALID", "bad name")

	// Delete unlinks; the repository no longer serves it.
	tr.Expect(tr.Do("DELETE", "/v2/team/app/blobs/"+d.String(), nil), 202, "", "delete blob")
	tr.Expect(tr.Do("GET", "/v2/team/app/blobs/"+d.String(), nil), 404, "BLOB_UNKNOWN", "deleted blob")
	tr.Expect(tr.Do("DELETE", "/v2/team/app/blobs/"+d.String(), nil), 404, "BLOB_UNKNOWN", "delete again")
}

func TestMonolithicDigestMismatch(t *testing.T) {
	tr := servertest.New(t, engine.Options{})
	wrong := digest.FromString("something else")
	r := tr.Do("POST", "/v2/a/blobs/uploads/?digest="+wrong.String(), []byte("payload"))
	tr.Expect(r, 400, "DIGEST_INVALID", "monolithic mismatch")
	tr.Expect(tr.Do("HEAD", "/v2/a/blobs/"+wrong.String(), nil), 404, "", "nothing stored")
	entries := tr.StagingFiles()
	if len(entries) != 0 {
		t.Errorf("staging files left behind: %v", entries)
	}
}

func TestChunkedUpload(t *testing.T) {
	tr := servertest.New(t, engine.Options{})
	data := servertest.RandomBytes(3_000_000)
	d := digest.FromBytes(data)
	r := tr.Do("POST", "/v2/a/blobs/uploads/", nil)
	tr.Expect(r, 202, "", "start upload")
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, "/v2/a/blobs/uploads/") || r.Header.Get("Range") != "0-0" || r.Header.Get("Docker-Upload-UUID") == "" {
		t.Fatalf("start headers: %v", r.Header)
	}
	// Out-of-order chunk: 416 with the session's location and range.
	r = tr.Do("PATCH", loc, data[10:20], "Content-Range", "10-19", "Content-Type", "application/octet-stream")
	tr.Expect(r, 416, "BLOB_UPLOAD_INVALID", "out-of-order chunk")
	if r.Header.Get("Location") != loc || r.Header.Get("Range") != "0-0" {
		t.Errorf("416 headers: %v", r.Header)
	}
	// Content-Range that disagrees with Content-Length.
	tr.Expect(tr.Do("PATCH", loc, data[:10], "Content-Range", "0-19"), 416, "", "range/length mismatch")

	chunks := [][2]int{{0, 1_000_000}, {1_000_000, 2_000_000}}
	for _, c := range chunks {
		r = tr.Do("PATCH", loc, data[c[0]:c[1]], "Content-Range", fmt.Sprintf("%d-%d", c[0], c[1]-1))
		tr.Expect(r, 202, "", "chunk")
		if r.Header.Get("Range") != fmt.Sprintf("0-%d", c[1]-1) {
			t.Errorf("after chunk: Range %q", r.Header.Get("Range"))
		}
		loc = r.Header.Get("Location")
	}
	r = tr.Do("GET", loc, nil)
	tr.Expect(r, 204, "", "upload status")
	if r.Header.Get("Range") != "0-1999999" {
		t.Errorf("status Range %q", r.Header.Get("Range"))
	}
	// A streamed PATCH (no Content-Range) appends.
	r = tr.Do("PATCH", loc, data[2_000_000:2_500_000])
	tr.Expect(r, 202, "", "streamed chunk")
	// Wrong digest at finalize: nothing stored, session intact.
	wrong := digest.FromString("nope")
	tr.Expect(tr.Do("PUT", loc+"?digest="+wrong.String(), data[2_500_000:]), 400, "DIGEST_INVALID", "finalize mismatch")
	tr.Expect(tr.Do("HEAD", "/v2/a/blobs/"+wrong.String(), nil), 404, "", "mismatch stored nothing")
	r = tr.Do("GET", loc, nil)
	if r.Header.Get("Range") != "0-2499999" {
		t.Errorf("session changed by a failed finalize: Range %q", r.Header.Get("Range"))
	}
	// Finalize with the last chunk in the PUT.
	r = tr.Do("PUT", loc+"?digest="+d.String(), data[2_500_000:], "Content-Range", "2500000-2999999")
	tr.Expect(r, 201, "", "finalize")
	if r.Header.Get("Location") != "/v2/a/blobs/"+d.String() || r.Header.Get("Docker-Content-Digest") != d.String() {
		t.Errorf("finalize headers %v", r.Header)
	}
	r = tr.Do("GET", "/v2/a/blobs/"+d.String(), nil)
	if !bytes.Equal(r.Body, data) {
		t.Fatal("chunked blob differs from what was sent")
	}
	tr.Expect(tr.Do("GET", loc, nil), 404, "BLOB_UPLOAD_UNKNOWN", "finished session is gone")
}

func TestUploadErrors(t *testing.T) {
	tr := servertest.New(t, engine.Options{})
	unknown := "/v2/a/blobs/uploads/0123456789abcdef0123456789abcdef"
	tr.Expect(tr.Do("GET", unknown, nil), 404, "BLOB_UPLOAD_UNKNOWN", "unknown upload status")
	tr.Expect(tr.Do("PATCH", unknown, []byte("x")), 404, "BLOB_UPLOAD_UNKNOWN", "unknown upload patch")
	tr.Expect(tr.Do("PUT", unknown+"?digest="+digest.FromString("x").String(), []byte("x")), 404, "BLOB_UPLOAD_UNKNOWN", "unknown upload put")
	tr.Expect(tr.Do("DELETE", unknown, nil), 404, "BLOB_UPLOAD_UNKNOWN", "unknown upload delete")
	tr.Expect(tr.Do("PATCH", "/v2/a/blobs/uploads/..%2F..%2Fetc", []byte("x")), 404, "BLOB_UPLOAD_UNKNOWN", "path trick in upload id")

	r := tr.Do("POST", "/v2/a/blobs/uploads/", nil)
	loc := r.Header.Get("Location")
	// A session belongs to its repository.
	other := strings.Replace(loc, "/v2/a/", "/v2/b/", 1)
	tr.Expect(tr.Do("GET", other, nil), 404, "BLOB_UPLOAD_UNKNOWN", "session of another repo")
	tr.Expect(tr.Do("PUT", loc+"?digest=bogus", nil), 400, "DIGEST_INVALID", "finalize with bad digest")
	tr.Expect(tr.Do("PUT", loc, nil), 400, "DIGEST_INVALID", "finalize without digest")
	tr.Expect(tr.Do("PATCH", loc, []byte("abc"), "Content-Range", "garbage"), 416, "", "malformed Content-Range")
	tr.Expect(tr.Do("DELETE", loc, nil), 204, "", "cancel")
	tr.Expect(tr.Do("GET", loc, nil), 404, "BLOB_UPLOAD_UNKNOWN", "cancelled session")
	if files := tr.StagingFiles(); len(files) != 0 {
		t.Errorf("cancel left staging files %v", files)
	}
}

func TestEmptyBlob(t *testing.T) {
	tr := servertest.New(t, engine.Options{})
	d := tr.PushBlob("a", []byte{})
	r := tr.Do("GET", "/v2/a/blobs/"+d.String(), nil)
	if r.Status != 200 || len(r.Body) != 0 || r.Header.Get("Content-Length") != "0" {
		t.Errorf("empty blob: %d %v", r.Status, r.Header)
	}
}

func TestSHA512Blob(t *testing.T) {
	tr := servertest.New(t, engine.Options{})
	data := servertest.RandomBytes(5000)
	d := digest.SHA512.FromBytes(data)
	tr.Expect(tr.Do("POST", "/v2/a/blobs/uploads/?digest="+d.String(), data), 201, "", "sha512 monolithic")
	if r := tr.Do("GET", "/v2/a/blobs/"+d.String(), nil); !bytes.Equal(r.Body, data) || r.Header.Get("Docker-Content-Digest") != d.String() {
		t.Errorf("sha512 monolithic blob: %d, %d bytes", r.Status, len(r.Body))
	}
	// Through a session: the running hash is sha256, finalize re-hashes.
	r := tr.Do("POST", "/v2/a/blobs/uploads/", nil)
	loc := r.Header.Get("Location")
	data2 := servertest.RandomBytes(7000)
	d2 := digest.SHA512.FromBytes(data2)
	tr.Do("PATCH", loc, data2[:3000])
	tr.Expect(tr.Do("PUT", loc+"?digest="+d2.String(), data2[3000:]), 201, "", "sha512 session")
	if r := tr.Do("GET", "/v2/a/blobs/"+d2.String(), nil); !bytes.Equal(r.Body, data2) {
		t.Error("sha512 blob content differs")
	}
}

func TestMount(t *testing.T) {
	tr := servertest.New(t, engine.Options{})
	d := tr.PushBlob("src", servertest.RandomBytes(100))
	r := tr.Do("POST", "/v2/dst/blobs/uploads/?mount="+d.String()+"&from=src", nil)
	tr.Expect(r, 201, "", "mount")
	if r.Header.Get("Location") != "/v2/dst/blobs/"+d.String() {
		t.Errorf("mount Location %q", r.Header.Get("Location"))
	}
	// Automatic mount: no from.
	tr.Expect(tr.Do("POST", "/v2/auto/blobs/uploads/?mount="+d.String(), nil), 201, "", "automatic mount")
	// Both repositories serve the source's bytes.
	src := tr.Do("GET", "/v2/src/blobs/"+d.String(), nil)
	for _, repo := range []string{"dst", "auto"} {
		if r := tr.Do("GET", "/v2/"+repo+"/blobs/"+d.String(), nil); r.Status != 200 || !bytes.Equal(r.Body, src.Body) || len(r.Body) != 100 {
			t.Errorf("mounted blob in %s: %d, %d bytes", repo, r.Status, len(r.Body))
		}
	}
	// Not mountable (wrong source, unknown blob): a session instead.
	missing := digest.FromString("missing")
	r = tr.Do("POST", "/v2/dst2/blobs/uploads/?mount="+missing.String()+"&from=src", nil)
	tr.Expect(r, 202, "", "mount fallback")
	if !strings.HasPrefix(r.Header.Get("Location"), "/v2/dst2/blobs/uploads/") {
		t.Errorf("fallback Location %q", r.Header.Get("Location"))
	}
	tr.Expect(tr.Do("POST", "/v2/dst3/blobs/uploads/?mount="+d.String()+"&from=nowhere", nil), 202, "", "mount from repo without blob")
	tr.Expect(tr.Do("POST", "/v2/dst3/blobs/uploads/?mount="+d.String()+"&from=BAD", nil), 400, "NAME_INVALID", "mount from invalid name")
	// A fallback links nothing.
	tr.Expect(tr.Do("HEAD", "/v2/dst3/blobs/"+d.String(), nil), 404, "", "blob after a refused mount")
}

func TestManifestLifecycle(t *testing.T) {
	tr := servertest.New(t, engine.Options{})
	m := tr.Image("app", 2, "")
	d := digest.FromBytes(m)
	r := tr.PutManifest("app", "v1", m, servertest.OCIManifest)
	tr.Expect(r, 201, "", "put by tag")
	if r.Header.Get("Location") != "/v2/app/manifests/"+d.String() || r.Header.Get("Docker-Content-Digest") != d.String() {
		t.Errorf("put headers %v", r.Header)
	}
	for _, ref := range []string{"v1", d.String()} {
		r = tr.Do("GET", "/v2/app/manifests/"+ref, nil, "Accept", servertest.OCIManifest)
		if r.Status != 200 || !bytes.Equal(r.Body, m) || r.Header.Get("Content-Type") != servertest.OCIManifest || r.Header.Get("Docker-Content-Digest") != d.String() {
			t.Errorf("GET %s: %d %v", ref, r.Status, r.Header)
		}
		r = tr.Do("HEAD", "/v2/app/manifests/"+ref, nil)
		if r.Status != 200 || len(r.Body) != 0 || r.Header.Get("Content-Length") != strconv.Itoa(len(m)) {
			t.Errorf("HEAD %s: %d %v", ref, r.Status, r.Header)
		}
	}
	// Accept negotiation: a client that only takes indexes is not handed an image.
	tr.Expect(tr.Do("GET", "/v2/app/manifests/v1", nil, "Accept", servertest.OCIIndex), 404, "MANIFEST_UNKNOWN", "unacceptable media type")
	tr.Expect(tr.Do("GET", "/v2/app/manifests/v1", nil, "Accept", "*/*"), 200, "", "wildcard accept")

	// Push by digest with extra tags.
	r = tr.Do("PUT", "/v2/app/manifests/"+d.String()+"?tag=a&tag=b", m, "Content-Type", servertest.OCIManifest)
	tr.Expect(r, 201, "", "put by digest with tags")
	if r.Header.Get("OCI-Tag") != "a,b" {
		t.Errorf("OCI-Tag %q", r.Header.Get("OCI-Tag"))
	}
	r = tr.Do("GET", "/v2/app/tags/list", nil)
	var tags struct {
		Name string
		Tags []string
	}
	_ = json.Unmarshal(r.Body, &tags)
	if tags.Name != "app" || strings.Join(tags.Tags, ",") != "a,b,v1" {
		t.Errorf("tags %s", r.Body)
	}
	// Delete a tag: the manifest stays.
	tr.Expect(tr.Do("DELETE", "/v2/app/manifests/a", nil), 202, "", "delete tag")
	tr.Expect(tr.Do("GET", "/v2/app/manifests/a", nil), 404, "MANIFEST_UNKNOWN", "deleted tag")
	tr.Expect(tr.Do("GET", "/v2/app/manifests/"+d.String(), nil), 200, "", "manifest after tag delete")
	// Delete by digest: the manifest and its tags go.
	tr.Expect(tr.Do("DELETE", "/v2/app/manifests/"+d.String(), nil), 202, "", "delete manifest")
	tr.Expect(tr.Do("GET", "/v2/app/manifests/"+d.String(), nil), 404, "MANIFEST_UNKNOWN", "deleted manifest")
	tr.Expect(tr.Do("GET", "/v2/app/manifests/v1", nil), 404, "MANIFEST_UNKNOWN", "tag of deleted manifest")
	tr.Expect(tr.Do("DELETE", "/v2/app/manifests/"+d.String(), nil), 404, "MANIFEST_UNKNOWN", "delete again")
	tr.Expect(tr.Do("GET", "/v2/nothere/manifests/v1", nil), 404, "NAME_UNKNOWN", "unknown repo")
}

func TestManifestErrors(t *testing.T) {
	tr := servertest.New(t, engine.Options{})
	m := tr.Image("app", 1, "")
	tr.Expect(tr.PutManifest("app", "x", []byte("{not json"), servertest.OCIManifest), 400, "MANIFEST_INVALID", "broken JSON")
	tr.Expect(tr.PutManifest("app", "x", []byte(`{"schemaVersion":1}`), servertest.OCIManifest), 400, "MANIFEST_INVALID", "schema 1")
	tr.Expect(tr.PutManifest("app", "sha256:baddigeststring", m, servertest.OCIManifest), 400, "DIGEST_INVALID", "bad digest reference")
	tr.Expect(tr.PutManifest("app", digest.FromString("other").String(), m, servertest.OCIManifest), 400, "DIGEST_INVALID", "digest mismatch")
	tr.Expect(tr.PutManifest("app", "-bad-tag", m, servertest.OCIManifest), 400, "", "bad tag")

	// A layer that is not in the repository.
	missing := strings.Replace(string(m), `"layers":[`, `"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"`+digest.FromString("missing").String()+`","size":7},`, 1)
	tr.Expect(tr.PutManifest("app", "x", []byte(missing), servertest.OCIManifest), 400, "MANIFEST_BLOB_UNKNOWN", "missing layer")
	// The blob exists, but in another repository only.
	other := tr.Image("other", 1, "")
	tr.Expect(tr.PutManifest("app", "x", other, servertest.OCIManifest), 400, "MANIFEST_BLOB_UNKNOWN", "blob of another repo")
	// Index naming a missing child.
	idx := `{"schemaVersion":2,"mediaType":"` + servertest.OCIIndex + `","manifests":[{"mediaType":"` + servertest.OCIManifest + `","digest":"` + digest.FromString("nochild").String() + `","size":10}]}`
	tr.Expect(tr.PutManifest("app", "idx", []byte(idx), servertest.OCIIndex), 400, "MANIFEST_BLOB_UNKNOWN", "missing child")
	// Too large: refused with 413 before reading it all.
	big := bytes.Repeat([]byte(" "), 4<<20+1)
	tr.Expect(tr.PutManifest("app", "big", big, servertest.OCIManifest), 413, "SIZE_INVALID", "oversized manifest")
	// Nothing from the failures is visible.
	r := tr.Do("GET", "/v2/app/tags/list", nil)
	if strings.Contains(string(r.Body), `"x"`) || strings.Contains(string(r.Body), "idx") {
		t.Errorf("a refused manifest left a tag: %s", r.Body)
	}
}

func TestSparseOption(t *testing.T) {
	tr := servertest.New(t, engine.Options{AllowSparse: true})
	m := tr.Image("app", 1, "")
	sparse := strings.Replace(string(m), `"layers":[`, `"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"`+digest.FromString("missing").String()+`","size":7},`, 1)
	tr.Expect(tr.PutManifest("app", "sparse", []byte(sparse), servertest.OCIManifest), 201, "", "sparse image accepted when allowed")
	// What was stored is the manifest as sent, under its tag and digest;
	// the missing layer is still missing.
	for _, ref := range []string{"sparse", digest.FromString(sparse).String()} {
		if r := tr.Do("GET", "/v2/app/manifests/"+ref, nil, "Accept", servertest.OCIManifest); r.Status != 200 || string(r.Body) != sparse {
			t.Errorf("GET %s: %d %s", ref, r.Status, servertest.Truncate(r.Body))
		}
	}
	tr.Expect(tr.Do("HEAD", "/v2/app/blobs/"+digest.FromString("missing").String(), nil), 404, "", "the absent layer")
	// Without the option the same manifest is refused and nothing stored.
	strict := servertest.New(t, engine.Options{})
	m = strict.Image("app", 1, "")
	sparse = strings.Replace(string(m), `"layers":[`, `"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"`+digest.FromString("missing").String()+`","size":7},`, 1)
	strict.Expect(strict.PutManifest("app", "sparse", []byte(sparse), servertest.OCIManifest), 400, "MANIFEST_BLOB_UNKNOWN", "sparse image refused by default")
	strict.Expect(strict.Do("GET", "/v2/app/manifests/sparse", nil), 404, "MANIFEST_UNKNOWN", "refused sparse image")
}

func TestIndexAndReferrers(t *testing.T) {
	tr := servertest.New(t, engine.Options{})
	amd := tr.Image("app", 1, "")
	arm := tr.Image("app", 1, "")
	tr.Expect(tr.PutManifest("app", digest.FromBytes(amd).String(), amd, servertest.OCIManifest), 201, "", "child 1")
	tr.Expect(tr.PutManifest("app", digest.FromBytes(arm).String(), arm, servertest.OCIManifest), 201, "", "child 2")
	idx := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"%s","size":%d,"platform":{"os":"linux","architecture":"amd64"}},{"mediaType":"%s","digest":"%s","size":%d,"platform":{"os":"linux","architecture":"arm64"}}]}`,
		servertest.OCIIndex, servertest.OCIManifest, digest.FromBytes(amd), len(amd), servertest.OCIManifest, digest.FromBytes(arm), len(arm)))
	tr.Expect(tr.PutManifest("app", "multi", idx, servertest.OCIIndex), 201, "", "index")
	r := tr.Do("GET", "/v2/app/manifests/multi", nil, "Accept", servertest.OCIIndex+", "+servertest.OCIManifest)
	if r.Status != 200 || r.Header.Get("Content-Type") != servertest.OCIIndex {
		t.Errorf("GET index: %d %q", r.Status, r.Header.Get("Content-Type"))
	}

	subject := digest.FromBytes(amd)
	sig := tr.Image("app", 1, `,"artifactType":"application/vnd.example.sig","subject":{"mediaType":"`+servertest.OCIManifest+`","digest":"`+subject.String()+`","size":`+strconv.Itoa(len(amd))+`}`)
	sigD := digest.FromBytes(sig)
	r = tr.PutManifest("app", sigD.String(), sig, servertest.OCIManifest)
	tr.Expect(r, 201, "", "referrer")
	if r.Header.Get("OCI-Subject") != subject.String() {
		t.Errorf("OCI-Subject %q", r.Header.Get("OCI-Subject"))
	}
	sbom := tr.Image("app", 1, `,"artifactType":"application/vnd.example.sbom","subject":{"mediaType":"`+servertest.OCIManifest+`","digest":"`+subject.String()+`","size":`+strconv.Itoa(len(amd))+`}`)
	tr.Expect(tr.PutManifest("app", digest.FromBytes(sbom).String(), sbom, servertest.OCIManifest), 201, "", "second referrer")

	var index struct {
		MediaType string `json:"mediaType"`
		Manifests []struct {
			Digest       string `json:"digest"`
			ArtifactType string `json:"artifactType"`
		} `json:"manifests"`
	}
	r = tr.Do("GET", "/v2/app/referrers/"+subject.String(), nil)
	_ = json.Unmarshal(r.Body, &index)
	if r.Status != 200 || index.MediaType != servertest.OCIIndex || len(index.Manifests) != 2 {
		t.Fatalf("referrers: %d %s", r.Status, r.Body)
	}
	r = tr.Do("GET", "/v2/app/referrers/"+subject.String()+"?artifactType=application/vnd.example.sig", nil)
	index.Manifests = nil
	_ = json.Unmarshal(r.Body, &index)
	if len(index.Manifests) != 1 || index.Manifests[0].Digest != sigD.String() || r.Header.Get("OCI-Filters-Applied") != "artifactType" {
		t.Errorf("filtered referrers: %s %v", r.Body, r.Header)
	}
	// Deleting the referrer removes it from the list.
	tr.Expect(tr.Do("DELETE", "/v2/app/manifests/"+sigD.String(), nil), 202, "", "delete referrer")
	r = tr.Do("GET", "/v2/app/referrers/"+subject.String(), nil)
	index.Manifests = nil
	_ = json.Unmarshal(r.Body, &index)
	if len(index.Manifests) != 1 {
		t.Errorf("after delete: %s", r.Body)
	}
	r = tr.Do("GET", "/v2/app/referrers/"+digest.FromString("none").String(), nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"manifests":[]`) {
		t.Errorf("no referrers: %d %s", r.Status, r.Body)
	}
	tr.Expect(tr.Do("GET", "/v2/app/referrers/sha256:bad", nil), 400, "DIGEST_INVALID", "referrers bad digest")
}

func TestPagination(t *testing.T) {
	tr := servertest.New(t, engine.Options{})
	m := tr.Image("app", 0, "")
	var want []string
	for i := range 25 {
		tag := fmt.Sprintf("t%02d", i)
		want = append(want, tag)
		tr.Expect(tr.PutManifest("app", tag, m, servertest.OCIManifest), 201, "", "tag "+tag)
	}
	var got []string
	path := "/v2/app/tags/list?n=10"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		r := tr.Do("GET", path, nil)
		var body struct{ Tags []string }
		_ = json.Unmarshal(r.Body, &body)
		got = append(got, body.Tags...)
		path = ""
		if link := r.Header.Get("Link"); link != "" {
			path = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("paged tags %v", got)
	}
	r := tr.Do("GET", "/v2/app/tags/list?n=0", nil)
	if !strings.Contains(string(r.Body), `"tags":[]`) {
		t.Errorf("n=0: %s", r.Body)
	}
	tr.Expect(tr.Do("GET", "/v2/app/tags/list?n=-1", nil), 400, "PAGINATION_NUMBER_INVALID", "negative n")
	tr.Expect(tr.Do("GET", "/v2/app/tags/list?n=abc", nil), 400, "PAGINATION_NUMBER_INVALID", "non-numeric n")
	tr.Expect(tr.Do("GET", "/v2/none/tags/list", nil), 404, "NAME_UNKNOWN", "tags of unknown repo")

	for _, repo := range []string{"b", "c/d", "e"} {
		tr.PushBlob(repo, []byte(repo))
	}
	r = tr.Do("GET", "/v2/_catalog?n=2", nil)
	if !strings.Contains(string(r.Body), `"repositories":["app","b"]`) || r.Header.Get("Link") != `</v2/_catalog?last=b&n=2>; rel="next"` {
		t.Errorf("catalog page 1: %s %q", r.Body, r.Header.Get("Link"))
	}
	r = tr.Do("GET", "/v2/_catalog?n=2&last=b", nil)
	if !strings.Contains(string(r.Body), `"repositories":["c/d","e"]`) || r.Header.Get("Link") != "" {
		t.Errorf("catalog page 2: %s %q", r.Body, r.Header.Get("Link"))
	}
}

// Clients may repeat the Accept header instead of listing types in one.
func TestRepeatedAcceptHeaders(t *testing.T) {
	tr := servertest.New(t, engine.Options{})
	m := tr.Image("app", 0, "")
	tr.Expect(tr.PutManifest("app", "v1", m, servertest.OCIManifest), 201, "", "push")
	req, _ := http.NewRequest("GET", "http://registry.test/v2/app/manifests/v1", nil)
	req.Header.Add("Accept", servertest.OCIIndex)
	req.Header.Add("Accept", servertest.OCIManifest)
	res, err := tr.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("repeated Accept headers: %d", res.StatusCode)
	}
}

// An upload is streamed to disk, never held whole in memory: pushing a
// 64 MiB blob, monolithic and as one chunked PATCH, allocates less than
// its size in the whole process (client included; 20-30 MiB under -race). Reading the body
// with Request.Body() instead of its stream allocates all of it.
func TestUploadNotBuffered(t *testing.T) {
	tr := servertest.New(t, engine.Options{})
	const size = 64 << 20
	h := sha256.New()
	if _, err := io.Copy(h, zeroes(size)); err != nil {
		t.Fatal(err)
	}
	d := "sha256:" + hex.EncodeToString(h.Sum(nil))
	allocated := func(push func()) uint64 {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		push()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	send := func(method, path string, chunked bool) int {
		req, err := http.NewRequest(method, "http://registry.test"+path, zeroes(size))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = size
		if chunked {
			req.ContentLength = -1
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		res, err := tr.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, chunked := range []bool{false, true} {
		n := allocated(func() {
			loc := tr.Do("POST", "/v2/big/blobs/uploads/", nil).Header.Get("Location")
			if strings.Contains(loc, "?") {
				loc += "&"
			} else {
				loc += "?"
			}
			if chunked {
				if s := send("PATCH", strings.TrimRight(loc, "?&"), true); s != 202 {
					t.Fatalf("PATCH: %d", s)
				}
				tr.Expect(tr.Do("PUT", loc+"digest="+d, nil), 201, "", "close upload")
				return
			}
			if s := send("PUT", loc+"digest="+d, false); s != 201 {
				t.Fatalf("PUT: %d", s)
			}
		})
		// Streaming allocates buffers (more under -race, which defeats
		// sync.Pool at random); buffering allocates the body at least
		// once, and twice over as the buffer grows.
		if n > size {
			t.Errorf("chunked=%v: a %d MiB upload allocated %d MiB", chunked, size>>20, n>>20)
		}
	}
}

// zeroes is a reader of n zero bytes that allocates nothing per read.
func zeroes(n int64) io.Reader { return io.LimitReader(zeroReader{}, n) }

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
