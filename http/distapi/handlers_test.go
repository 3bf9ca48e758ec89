package server

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
)

func TestBase(t *testing.T) {
	tr := newTestRegistry(t, engine.Options{})
	r := tr.do("GET", "/v2/", nil)
	tr.expect(r, 200, "", "GET /v2/")
	if r.header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Errorf("API version header = %q", r.header.Get("Docker-Distribution-API-Version"))
	}
	tr.expect(tr.do("GET", "/nope", nil), 404, "NOT_FOUND", "unknown path")
	tr.expect(tr.do("GET", "/v2/a/unknown/x", nil), 404, "NOT_FOUND", "unknown endpoint")
	tr.expect(tr.do("POST", "/v2/a/tags/list", nil), 405, "UNSUPPORTED", "wrong method")
}

// A bad name is refused without echoing it whole: the error repeats at
// most errcode.MaxEcho bytes of it.
func TestNameInvalidClipped(t *testing.T) {
	tr := newTestRegistry(t, engine.Options{})
	name := strings.Repeat("A", 10_000)
	r := tr.do("GET", "/v2/"+name+"/tags/list", nil)
	tr.expect(r, 400, "NAME_INVALID", "10 KB name")
	if len(r.body) > 1024 || !strings.Contains(string(r.body), "…") {
		t.Errorf("NAME_INVALID answer of %d bytes: %.120s", len(r.body), r.body)
	}
}

func TestBlobPushPull(t *testing.T) {
	tr := newTestRegistry(t, engine.Options{})
	data := randomBytes(200_000)
	d := tr.pushBlob("team/app", data)

	r := tr.do("HEAD", "/v2/team/app/blobs/"+d.String(), nil)
	tr.expect(r, 200, "", "HEAD blob")
	if r.header.Get("Content-Length") != strconv.Itoa(len(data)) || len(r.body) != 0 || r.header.Get("Docker-Content-Digest") != d.String() {
		t.Errorf("HEAD headers %v, body %d bytes", r.header, len(r.body))
	}
	r = tr.do("GET", "/v2/team/app/blobs/"+d.String(), nil)
	if r.status != 200 || !bytes.Equal(r.body, data) {
		t.Fatalf("GET blob: %d, %d bytes", r.status, len(r.body))
	}
	r = tr.do("GET", "/v2/team/app/blobs/"+d.String(), nil, "Range", "bytes=100-199")
	if r.status != 206 || !bytes.Equal(r.body, data[100:200]) || r.header.Get("Content-Range") != fmt.Sprintf("bytes 100-199/%d", len(data)) {
		t.Errorf("range GET: %d %q, %d bytes", r.status, r.header.Get("Content-Range"), len(r.body))
	}
	r = tr.do("GET", "/v2/team/app/blobs/"+d.String(), nil, "Range", "bytes=-10")
	if r.status != 206 || !bytes.Equal(r.body, data[len(data)-10:]) {
		t.Errorf("suffix range: %d, %d bytes", r.status, len(r.body))
	}
	tr.expect(tr.do("GET", "/v2/team/app/blobs/"+d.String(), nil, "Range", "bytes=999999-"), 416, "", "range past end")

	// Not linked into another repository, even though the bytes exist.
	tr.expect(tr.do("GET", "/v2/other/blobs/"+d.String(), nil), 404, "NAME_UNKNOWN", "blob of unknown repo")
	tr.pushBlob("other", []byte("x"))
	tr.expect(tr.do("GET", "/v2/other/blobs/"+d.String(), nil), 404, "BLOB_UNKNOWN", "blob not linked")
	tr.expect(tr.do("GET", "/v2/team/app/blobs/sha256:nothex", nil), 400, "DIGEST_INVALID", "bad digest")
	tr.expect(tr.do("GET", "/v2/Team/blobs/"+d.String(), nil), 400, "NAME_INVALID", "bad name")

	// Delete unlinks; the repository no longer serves it.
	tr.expect(tr.do("DELETE", "/v2/team/app/blobs/"+d.String(), nil), 202, "", "delete blob")
	tr.expect(tr.do("GET", "/v2/team/app/blobs/"+d.String(), nil), 404, "BLOB_UNKNOWN", "deleted blob")
	tr.expect(tr.do("DELETE", "/v2/team/app/blobs/"+d.String(), nil), 404, "BLOB_UNKNOWN", "delete again")
}

func TestMonolithicDigestMismatch(t *testing.T) {
	tr := newTestRegistry(t, engine.Options{})
	wrong := digest.FromString("something else")
	r := tr.do("POST", "/v2/a/blobs/uploads/?digest="+wrong.String(), []byte("payload"))
	tr.expect(r, 400, "DIGEST_INVALID", "monolithic mismatch")
	tr.expect(tr.do("HEAD", "/v2/a/blobs/"+wrong.String(), nil), 404, "", "nothing stored")
	entries := stagingFiles(t, tr.dir)
	if len(entries) != 0 {
		t.Errorf("staging files left behind: %v", entries)
	}
}

func TestChunkedUpload(t *testing.T) {
	tr := newTestRegistry(t, engine.Options{})
	data := randomBytes(3_000_000)
	d := digest.FromBytes(data)
	r := tr.do("POST", "/v2/a/blobs/uploads/", nil)
	tr.expect(r, 202, "", "start upload")
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, "/v2/a/blobs/uploads/") || r.header.Get("Range") != "0-0" || r.header.Get("Docker-Upload-UUID") == "" {
		t.Fatalf("start headers: %v", r.header)
	}
	// Out-of-order chunk: 416 with the session's location and range.
	r = tr.do("PATCH", loc, data[10:20], "Content-Range", "10-19", "Content-Type", "application/octet-stream")
	tr.expect(r, 416, "BLOB_UPLOAD_INVALID", "out-of-order chunk")
	if r.header.Get("Location") != loc || r.header.Get("Range") != "0-0" {
		t.Errorf("416 headers: %v", r.header)
	}
	// Content-Range that disagrees with Content-Length.
	tr.expect(tr.do("PATCH", loc, data[:10], "Content-Range", "0-19"), 416, "", "range/length mismatch")

	chunks := [][2]int{{0, 1_000_000}, {1_000_000, 2_000_000}}
	for _, c := range chunks {
		r = tr.do("PATCH", loc, data[c[0]:c[1]], "Content-Range", fmt.Sprintf("%d-%d", c[0], c[1]-1))
		tr.expect(r, 202, "", "chunk")
		if r.header.Get("Range") != fmt.Sprintf("0-%d", c[1]-1) {
			t.Errorf("after chunk: Range %q", r.header.Get("Range"))
		}
		loc = r.header.Get("Location")
	}
	r = tr.do("GET", loc, nil)
	tr.expect(r, 204, "", "upload status")
	if r.header.Get("Range") != "0-1999999" {
		t.Errorf("status Range %q", r.header.Get("Range"))
	}
	// A streamed PATCH (no Content-Range) appends.
	r = tr.do("PATCH", loc, data[2_000_000:2_500_000])
	tr.expect(r, 202, "", "streamed chunk")
	// Wrong digest at finalize: nothing stored, session intact.
	wrong := digest.FromString("nope")
	tr.expect(tr.do("PUT", loc+"?digest="+wrong.String(), data[2_500_000:]), 400, "DIGEST_INVALID", "finalize mismatch")
	tr.expect(tr.do("HEAD", "/v2/a/blobs/"+wrong.String(), nil), 404, "", "mismatch stored nothing")
	r = tr.do("GET", loc, nil)
	if r.header.Get("Range") != "0-2499999" {
		t.Errorf("session changed by a failed finalize: Range %q", r.header.Get("Range"))
	}
	// Finalize with the last chunk in the PUT.
	r = tr.do("PUT", loc+"?digest="+d.String(), data[2_500_000:], "Content-Range", "2500000-2999999")
	tr.expect(r, 201, "", "finalize")
	if r.header.Get("Location") != "/v2/a/blobs/"+d.String() || r.header.Get("Docker-Content-Digest") != d.String() {
		t.Errorf("finalize headers %v", r.header)
	}
	r = tr.do("GET", "/v2/a/blobs/"+d.String(), nil)
	if !bytes.Equal(r.body, data) {
		t.Fatal("chunked blob differs from what was sent")
	}
	tr.expect(tr.do("GET", loc, nil), 404, "BLOB_UPLOAD_UNKNOWN", "finished session is gone")
}

func TestUploadErrors(t *testing.T) {
	tr := newTestRegistry(t, engine.Options{})
	unknown := "/v2/a/blobs/uploads/0123456789abcdef0123456789abcdef"
	tr.expect(tr.do("GET", unknown, nil), 404, "BLOB_UPLOAD_UNKNOWN", "unknown upload status")
	tr.expect(tr.do("PATCH", unknown, []byte("x")), 404, "BLOB_UPLOAD_UNKNOWN", "unknown upload patch")
	tr.expect(tr.do("PUT", unknown+"?digest="+digest.FromString("x").String(), []byte("x")), 404, "BLOB_UPLOAD_UNKNOWN", "unknown upload put")
	tr.expect(tr.do("DELETE", unknown, nil), 404, "BLOB_UPLOAD_UNKNOWN", "unknown upload delete")
	tr.expect(tr.do("PATCH", "/v2/a/blobs/uploads/..%2F..%2Fetc", []byte("x")), 404, "BLOB_UPLOAD_UNKNOWN", "path trick in upload id")

	r := tr.do("POST", "/v2/a/blobs/uploads/", nil)
	loc := r.header.Get("Location")
	// A session belongs to its repository.
	other := strings.Replace(loc, "/v2/a/", "/v2/b/", 1)
	tr.expect(tr.do("GET", other, nil), 404, "BLOB_UPLOAD_UNKNOWN", "session of another repo")
	tr.expect(tr.do("PUT", loc+"?digest=bogus", nil), 400, "DIGEST_INVALID", "finalize with bad digest")
	tr.expect(tr.do("PUT", loc, nil), 400, "DIGEST_INVALID", "finalize without digest")
	tr.expect(tr.do("PATCH", loc, []byte("abc"), "Content-Range", "garbage"), 416, "", "malformed Content-Range")
	tr.expect(tr.do("DELETE", loc, nil), 204, "", "cancel")
	tr.expect(tr.do("GET", loc, nil), 404, "BLOB_UPLOAD_UNKNOWN", "cancelled session")
	if files := stagingFiles(t, tr.dir); len(files) != 0 {
		t.Errorf("cancel left staging files %v", files)
	}
}

func TestEmptyBlob(t *testing.T) {
	tr := newTestRegistry(t, engine.Options{})
	d := tr.pushBlob("a", []byte{})
	r := tr.do("GET", "/v2/a/blobs/"+d.String(), nil)
	if r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Length") != "0" {
		t.Errorf("empty blob: %d %v", r.status, r.header)
	}
}

func TestSHA512Blob(t *testing.T) {
	tr := newTestRegistry(t, engine.Options{})
	data := randomBytes(5000)
	d := digest.SHA512.FromBytes(data)
	tr.expect(tr.do("POST", "/v2/a/blobs/uploads/?digest="+d.String(), data), 201, "", "sha512 monolithic")
	// Through a session: the running hash is sha256, finalize re-hashes.
	r := tr.do("POST", "/v2/a/blobs/uploads/", nil)
	loc := r.header.Get("Location")
	data2 := randomBytes(7000)
	d2 := digest.SHA512.FromBytes(data2)
	tr.do("PATCH", loc, data2[:3000])
	tr.expect(tr.do("PUT", loc+"?digest="+d2.String(), data2[3000:]), 201, "", "sha512 session")
	if r := tr.do("GET", "/v2/a/blobs/"+d2.String(), nil); !bytes.Equal(r.body, data2) {
		t.Error("sha512 blob content differs")
	}
}

func TestMount(t *testing.T) {
	tr := newTestRegistry(t, engine.Options{})
	d := tr.pushBlob("src", randomBytes(100))
	r := tr.do("POST", "/v2/dst/blobs/uploads/?mount="+d.String()+"&from=src", nil)
	tr.expect(r, 201, "", "mount")
	if r.header.Get("Location") != "/v2/dst/blobs/"+d.String() {
		t.Errorf("mount Location %q", r.header.Get("Location"))
	}
	tr.expect(tr.do("HEAD", "/v2/dst/blobs/"+d.String(), nil), 200, "", "mounted blob")
	// Automatic mount: no from.
	tr.expect(tr.do("POST", "/v2/auto/blobs/uploads/?mount="+d.String(), nil), 201, "", "automatic mount")
	// Not mountable (wrong source, unknown blob): a session instead.
	missing := digest.FromString("missing")
	r = tr.do("POST", "/v2/dst2/blobs/uploads/?mount="+missing.String()+"&from=src", nil)
	tr.expect(r, 202, "", "mount fallback")
	if !strings.HasPrefix(r.header.Get("Location"), "/v2/dst2/blobs/uploads/") {
		t.Errorf("fallback Location %q", r.header.Get("Location"))
	}
	tr.expect(tr.do("POST", "/v2/dst3/blobs/uploads/?mount="+d.String()+"&from=nowhere", nil), 202, "", "mount from repo without blob")
	tr.expect(tr.do("POST", "/v2/dst3/blobs/uploads/?mount="+d.String()+"&from=BAD", nil), 400, "NAME_INVALID", "mount from invalid name")
}

func TestManifestLifecycle(t *testing.T) {
	tr := newTestRegistry(t, engine.Options{})
	m := tr.image("app", 2, "")
	d := digest.FromBytes(m)
	r := tr.putManifest("app", "v1", m, ociManifest)
	tr.expect(r, 201, "", "put by tag")
	if r.header.Get("Location") != "/v2/app/manifests/"+d.String() || r.header.Get("Docker-Content-Digest") != d.String() {
		t.Errorf("put headers %v", r.header)
	}
	for _, ref := range []string{"v1", d.String()} {
		r = tr.do("GET", "/v2/app/manifests/"+ref, nil, "Accept", ociManifest)
		if r.status != 200 || !bytes.Equal(r.body, m) || r.header.Get("Content-Type") != ociManifest || r.header.Get("Docker-Content-Digest") != d.String() {
			t.Errorf("GET %s: %d %v", ref, r.status, r.header)
		}
		r = tr.do("HEAD", "/v2/app/manifests/"+ref, nil)
		if r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Length") != strconv.Itoa(len(m)) {
			t.Errorf("HEAD %s: %d %v", ref, r.status, r.header)
		}
	}
	// Accept negotiation: a client that only takes indexes is not handed an image.
	tr.expect(tr.do("GET", "/v2/app/manifests/v1", nil, "Accept", ociIndex), 404, "MANIFEST_UNKNOWN", "unacceptable media type")
	tr.expect(tr.do("GET", "/v2/app/manifests/v1", nil, "Accept", "*/*"), 200, "", "wildcard accept")

	// Push by digest with extra tags.
	r = tr.do("PUT", "/v2/app/manifests/"+d.String()+"?tag=a&tag=b", m, "Content-Type", ociManifest)
	tr.expect(r, 201, "", "put by digest with tags")
	if r.header.Get("OCI-Tag") != "a,b" {
		t.Errorf("OCI-Tag %q", r.header.Get("OCI-Tag"))
	}
	r = tr.do("GET", "/v2/app/tags/list", nil)
	var tags struct {
		Name string
		Tags []string
	}
	_ = json.Unmarshal(r.body, &tags)
	if tags.Name != "app" || strings.Join(tags.Tags, ",") != "a,b,v1" {
		t.Errorf("tags %s", r.body)
	}
	// Delete a tag: the manifest stays.
	tr.expect(tr.do("DELETE", "/v2/app/manifests/a", nil), 202, "", "delete tag")
	tr.expect(tr.do("GET", "/v2/app/manifests/a", nil), 404, "MANIFEST_UNKNOWN", "deleted tag")
	tr.expect(tr.do("GET", "/v2/app/manifests/"+d.String(), nil), 200, "", "manifest after tag delete")
	// Delete by digest: the manifest and its tags go.
	tr.expect(tr.do("DELETE", "/v2/app/manifests/"+d.String(), nil), 202, "", "delete manifest")
	tr.expect(tr.do("GET", "/v2/app/manifests/"+d.String(), nil), 404, "MANIFEST_UNKNOWN", "deleted manifest")
	tr.expect(tr.do("GET", "/v2/app/manifests/v1", nil), 404, "MANIFEST_UNKNOWN", "tag of deleted manifest")
	tr.expect(tr.do("DELETE", "/v2/app/manifests/"+d.String(), nil), 404, "MANIFEST_UNKNOWN", "delete again")
	tr.expect(tr.do("GET", "/v2/nothere/manifests/v1", nil), 404, "NAME_UNKNOWN", "unknown repo")
}

func TestManifestErrors(t *testing.T) {
	tr := newTestRegistry(t, engine.Options{})
	m := tr.image("app", 1, "")
	tr.expect(tr.putManifest("app", "x", []byte("{not json"), ociManifest), 400, "MANIFEST_INVALID", "broken JSON")
	tr.expect(tr.putManifest("app", "x", []byte(`{"schemaVersion":1}`), ociManifest), 400, "MANIFEST_INVALID", "schema 1")
	tr.expect(tr.putManifest("app", "sha256:baddigeststring", m, ociManifest), 400, "DIGEST_INVALID", "bad digest reference")
	tr.expect(tr.putManifest("app", digest.FromString("other").String(), m, ociManifest), 400, "DIGEST_INVALID", "digest mismatch")
	tr.expect(tr.putManifest("app", "-bad-tag", m, ociManifest), 400, "", "bad tag")

	// A layer that is not in the repository.
	missing := strings.Replace(string(m), `"layers":[`, `"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"`+digest.FromString("missing").String()+`","size":7},`, 1)
	tr.expect(tr.putManifest("app", "x", []byte(missing), ociManifest), 400, "MANIFEST_BLOB_UNKNOWN", "missing layer")
	// The blob exists, but in another repository only.
	other := tr.image("other", 1, "")
	tr.expect(tr.putManifest("app", "x", other, ociManifest), 400, "MANIFEST_BLOB_UNKNOWN", "blob of another repo")
	// Index naming a missing child.
	idx := `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[{"mediaType":"` + ociManifest + `","digest":"` + digest.FromString("nochild").String() + `","size":10}]}`
	tr.expect(tr.putManifest("app", "idx", []byte(idx), ociIndex), 400, "MANIFEST_BLOB_UNKNOWN", "missing child")
	// Too large: refused with 413 before reading it all.
	big := bytes.Repeat([]byte(" "), 4<<20+1)
	tr.expect(tr.putManifest("app", "big", big, ociManifest), 413, "SIZE_INVALID", "oversized manifest")
	// Nothing from the failures is visible.
	r := tr.do("GET", "/v2/app/tags/list", nil)
	if strings.Contains(string(r.body), `"x"`) || strings.Contains(string(r.body), "idx") {
		t.Errorf("a refused manifest left a tag: %s", r.body)
	}
}

func TestSparseOption(t *testing.T) {
	tr := newTestRegistry(t, engine.Options{AllowSparse: true})
	m := tr.image("app", 1, "")
	sparse := strings.Replace(string(m), `"layers":[`, `"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"`+digest.FromString("missing").String()+`","size":7},`, 1)
	tr.expect(tr.putManifest("app", "sparse", []byte(sparse), ociManifest), 201, "", "sparse image accepted when allowed")
}

func TestIndexAndReferrers(t *testing.T) {
	tr := newTestRegistry(t, engine.Options{})
	amd := tr.image("app", 1, "")
	arm := tr.image("app", 1, "")
	tr.expect(tr.putManifest("app", digest.FromBytes(amd).String(), amd, ociManifest), 201, "", "child 1")
	tr.expect(tr.putManifest("app", digest.FromBytes(arm).String(), arm, ociManifest), 201, "", "child 2")
	idx := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"%s","size":%d,"platform":{"os":"linux","architecture":"amd64"}},{"mediaType":"%s","digest":"%s","size":%d,"platform":{"os":"linux","architecture":"arm64"}}]}`,
		ociIndex, ociManifest, digest.FromBytes(amd), len(amd), ociManifest, digest.FromBytes(arm), len(arm)))
	tr.expect(tr.putManifest("app", "multi", idx, ociIndex), 201, "", "index")
	r := tr.do("GET", "/v2/app/manifests/multi", nil, "Accept", ociIndex+", "+ociManifest)
	if r.status != 200 || r.header.Get("Content-Type") != ociIndex {
		t.Errorf("GET index: %d %q", r.status, r.header.Get("Content-Type"))
	}

	subject := digest.FromBytes(amd)
	sig := tr.image("app", 1, `,"artifactType":"application/vnd.example.sig","subject":{"mediaType":"`+ociManifest+`","digest":"`+subject.String()+`","size":`+strconv.Itoa(len(amd))+`}`)
	sigD := digest.FromBytes(sig)
	r = tr.putManifest("app", sigD.String(), sig, ociManifest)
	tr.expect(r, 201, "", "referrer")
	if r.header.Get("OCI-Subject") != subject.String() {
		t.Errorf("OCI-Subject %q", r.header.Get("OCI-Subject"))
	}
	sbom := tr.image("app", 1, `,"artifactType":"application/vnd.example.sbom","subject":{"mediaType":"`+ociManifest+`","digest":"`+subject.String()+`","size":`+strconv.Itoa(len(amd))+`}`)
	tr.expect(tr.putManifest("app", digest.FromBytes(sbom).String(), sbom, ociManifest), 201, "", "second referrer")

	var index struct {
		MediaType string `json:"mediaType"`
		Manifests []struct {
			Digest       string `json:"digest"`
			ArtifactType string `json:"artifactType"`
		} `json:"manifests"`
	}
	r = tr.do("GET", "/v2/app/referrers/"+subject.String(), nil)
	_ = json.Unmarshal(r.body, &index)
	if r.status != 200 || index.MediaType != ociIndex || len(index.Manifests) != 2 {
		t.Fatalf("referrers: %d %s", r.status, r.body)
	}
	r = tr.do("GET", "/v2/app/referrers/"+subject.String()+"?artifactType=application/vnd.example.sig", nil)
	index.Manifests = nil
	_ = json.Unmarshal(r.body, &index)
	if len(index.Manifests) != 1 || index.Manifests[0].Digest != sigD.String() || r.header.Get("OCI-Filters-Applied") != "artifactType" {
		t.Errorf("filtered referrers: %s %v", r.body, r.header)
	}
	// Deleting the referrer removes it from the list.
	tr.expect(tr.do("DELETE", "/v2/app/manifests/"+sigD.String(), nil), 202, "", "delete referrer")
	r = tr.do("GET", "/v2/app/referrers/"+subject.String(), nil)
	index.Manifests = nil
	_ = json.Unmarshal(r.body, &index)
	if len(index.Manifests) != 1 {
		t.Errorf("after delete: %s", r.body)
	}
	r = tr.do("GET", "/v2/app/referrers/"+digest.FromString("none").String(), nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"manifests":[]`) {
		t.Errorf("no referrers: %d %s", r.status, r.body)
	}
	tr.expect(tr.do("GET", "/v2/app/referrers/sha256:bad", nil), 400, "DIGEST_INVALID", "referrers bad digest")
}

func TestPagination(t *testing.T) {
	tr := newTestRegistry(t, engine.Options{})
	m := tr.image("app", 0, "")
	var want []string
	for i := range 25 {
		tag := fmt.Sprintf("t%02d", i)
		want = append(want, tag)
		tr.expect(tr.putManifest("app", tag, m, ociManifest), 201, "", "tag "+tag)
	}
	var got []string
	path := "/v2/app/tags/list?n=10"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		r := tr.do("GET", path, nil)
		var body struct{ Tags []string }
		_ = json.Unmarshal(r.body, &body)
		got = append(got, body.Tags...)
		path = ""
		if link := r.header.Get("Link"); link != "" {
			path = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("paged tags %v", got)
	}
	r := tr.do("GET", "/v2/app/tags/list?n=0", nil)
	if !strings.Contains(string(r.body), `"tags":[]`) {
		t.Errorf("n=0: %s", r.body)
	}
	tr.expect(tr.do("GET", "/v2/app/tags/list?n=-1", nil), 400, "PAGINATION_NUMBER_INVALID", "negative n")
	tr.expect(tr.do("GET", "/v2/app/tags/list?n=abc", nil), 400, "PAGINATION_NUMBER_INVALID", "non-numeric n")
	tr.expect(tr.do("GET", "/v2/none/tags/list", nil), 404, "NAME_UNKNOWN", "tags of unknown repo")

	for _, repo := range []string{"b", "c/d", "e"} {
		tr.pushBlob(repo, []byte(repo))
	}
	r = tr.do("GET", "/v2/_catalog?n=2", nil)
	if !strings.Contains(string(r.body), `"repositories":["app","b"]`) || r.header.Get("Link") != `</v2/_catalog?last=b&n=2>; rel="next"` {
		t.Errorf("catalog page 1: %s %q", r.body, r.header.Get("Link"))
	}
	r = tr.do("GET", "/v2/_catalog?n=2&last=b", nil)
	if !strings.Contains(string(r.body), `"repositories":["c/d","e"]`) || r.header.Get("Link") != "" {
		t.Errorf("catalog page 2: %s %q", r.body, r.header.Get("Link"))
	}
}

// Clients may repeat the Accept header instead of listing types in one.
func TestRepeatedAcceptHeaders(t *testing.T) {
	tr := newTestRegistry(t, engine.Options{})
	m := tr.image("app", 0, "")
	tr.expect(tr.putManifest("app", "v1", m, ociManifest), 201, "", "push")
	req, _ := http.NewRequest("GET", "http://registry.test/v2/app/manifests/v1", nil)
	req.Header.Add("Accept", ociIndex)
	req.Header.Add("Accept", ociManifest)
	res, err := tr.client.Do(req)
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
	tr := newTestRegistry(t, engine.Options{})
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
		res, err := tr.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, chunked := range []bool{false, true} {
		n := allocated(func() {
			loc := tr.do("POST", "/v2/big/blobs/uploads/", nil).header.Get("Location")
			if strings.Contains(loc, "?") {
				loc += "&"
			} else {
				loc += "?"
			}
			if chunked {
				if s := send("PATCH", strings.TrimRight(loc, "?&"), true); s != 202 {
					t.Fatalf("PATCH: %d", s)
				}
				tr.expect(tr.do("PUT", loc+"digest="+d, nil), 201, "", "close upload")
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
