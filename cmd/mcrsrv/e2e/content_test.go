package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// OCI media types used by the fixtures and probes.
const (
	mtManifest     = "application/vnd.oci.image.manifest.v1+json"
	mtIndex        = "application/vnd.oci.image.index.v1+json"
	mtConfig       = "application/vnd.oci.image.config.v1+json"
	mtLayer        = "application/vnd.oci.image.layer.v1.tar+gzip"
	mtEmpty        = "application/vnd.oci.empty.v1+json"
	mtDockerList   = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtDockerImage  = "application/vnd.docker.distribution.manifest.v2+json"
	annotationRef  = "org.opencontainers.image.ref.name"
	manifestAccept = mtIndex + ", " + mtManifest + ", " + mtDockerList + ", " + mtDockerImage
)

// descriptor, platform and manifest are the parts of the OCI image spec the
// tests need; manifest doubles as an index (Manifests set).
type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Platform     *platform         `json:"platform,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        *descriptor       `json:"config,omitempty"`
	Layers        []descriptor      `json:"layers,omitempty"`
	Manifests     []descriptor      `json:"manifests,omitempty"`
	Subject       *descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

func isManifestType(mt string) bool {
	return mt == mtManifest || mt == mtIndex || mt == mtDockerList || mt == mtDockerImage
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// layout writes an OCI image layout (image-spec image-layout.md).
type layout struct {
	t   *testing.T
	dir string
}

func newLayout(t *testing.T, dir string) *layout {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return &layout{t: t, dir: dir}
}

func (l *layout) put(mediaType string, b []byte) descriptor {
	l.t.Helper()
	d := descriptor{MediaType: mediaType, Digest: sha256Digest(b), Size: int64(len(b))}
	if err := os.WriteFile(filepath.Join(l.dir, "blobs", "sha256", strings.TrimPrefix(d.Digest, "sha256:")), b, 0o644); err != nil {
		l.t.Fatal(err)
	}
	return d
}

func (l *layout) putJSON(mediaType string, v any) descriptor {
	l.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		l.t.Fatal(err)
	}
	return l.put(mediaType, b)
}

// tag writes index.json naming d with the given tag.
func (l *layout) tag(d descriptor, tag string) {
	l.t.Helper()
	d.Annotations = map[string]string{annotationRef: tag}
	b, err := json.Marshal(manifest{SchemaVersion: 2, MediaType: mtIndex, Manifests: []descriptor{d}})
	if err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.dir, "index.json"), b, 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// image writes a linux/arch image whose layers are gzip'd tarballs holding
// a marker file and a random file of each given size, and returns the
// image manifest's descriptor (with its platform set).
func (l *layout) image(arch, label string, sizes ...int) descriptor {
	l.t.Helper()
	var layers []descriptor
	var diffIDs []string
	for i, size := range sizes {
		var tarBuf bytes.Buffer
		tw := tar.NewWriter(&tarBuf)
		files := []struct {
			name string
			data []byte
		}{
			{fmt.Sprintf("e2e/layer-%d.txt", i), []byte(fmt.Sprintf("%s %s %s layer %d\n", runID, label, arch, i))},
			{fmt.Sprintf("e2e/random-%d.bin", i), randomBytes(l.t, size)},
		}
		for _, f := range files {
			hdr := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
			if err := tw.WriteHeader(hdr); err != nil {
				l.t.Fatal(err)
			}
			if _, err := tw.Write(f.data); err != nil {
				l.t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			l.t.Fatal(err)
		}
		diffIDs = append(diffIDs, sha256Digest(tarBuf.Bytes()))
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed) // random data: compression is moot
		if _, err := zw.Write(tarBuf.Bytes()); err != nil {
			l.t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			l.t.Fatal(err)
		}
		layers = append(layers, l.put(mtLayer, gz.Bytes()))
	}
	config := map[string]any{
		"architecture": arch,
		"os":           "linux",
		"created":      "1970-01-01T00:00:00Z",
		"config":       map[string]any{"Env": []string{"E2E_RUN=" + runID, "E2E_LABEL=" + label}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
	}
	cfg := l.putJSON(mtConfig, config)
	d := l.putJSON(mtManifest, manifest{SchemaVersion: 2, MediaType: mtManifest, Config: &cfg, Layers: layers})
	d.Platform = &platform{Architecture: arch, OS: "linux"}
	return d
}

// artifactFile is a file pushed as one layer of an artifact.
type artifactFile struct {
	name, mediaType string
	data            []byte
}

func (f artifactFile) digest() string { return sha256Digest(f.data) }

// fixture is one client's fresh content: every client pushes its own random
// bytes, so every push really uploads.
type fixture struct {
	imageDir string     // OCI layout, tag "v1": a 3-layer linux/amd64 image
	image    descriptor // its manifest
	indexDir string     // OCI layout, tag "multi": linux/amd64 + linux/arm64 index
	index    descriptor
	children []descriptor // the index's image manifests
	artDir   string       // artifact files, also as plain files for CLI pushes
	files    []artifactFile
	sig      artifactFile // attached to the image as a referrer
}

// Layer sizes: the 5 MiB layer is larger than fasthttp's default body limit
// (4 MiB), so a server that does not stream uploads fails the push.
var imageLayerSizes = []int{32 << 10, 256 << 10, 5<<20 + 4321}

func newFixture(t *testing.T, dir, label string) *fixture {
	t.Helper()
	f := &fixture{
		imageDir: filepath.Join(dir, "image"),
		indexDir: filepath.Join(dir, "index"),
		artDir:   filepath.Join(dir, "artifact"),
	}
	img := newLayout(t, f.imageDir)
	f.image = img.image("amd64", label, imageLayerSizes...)
	f.image.Platform = nil
	img.tag(f.image, "v1")

	idx := newLayout(t, f.indexDir)
	for _, arch := range []string{"amd64", "arm64"} {
		f.children = append(f.children, idx.image(arch, label, 16<<10, 48<<10, 8<<10))
	}
	f.index = idx.putJSON(mtIndex, manifest{SchemaVersion: 2, MediaType: mtIndex, Manifests: f.children})
	idx.tag(f.index, "multi")

	f.files = []artifactFile{
		{"readme.txt", "text/plain", []byte(fmt.Sprintf("e2e artifact for %s, %s\n", label, runID))},
		{"payload.bin", "application/octet-stream", randomBytes(t, 96<<10)},
	}
	f.sig = artifactFile{"sig.txt", "text/plain", []byte(fmt.Sprintf("signature-ish %s %s\n", label, runID))}
	if err := os.MkdirAll(f.artDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range append(slices.Clone(f.files), f.sig) {
		if err := os.WriteFile(filepath.Join(f.artDir, a.name), a.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// fetchFunc returns the bytes a descriptor points at.
type fetchFunc func(d descriptor) ([]byte, error)

// verifyTree fetches root and everything it references (config, layers,
// child manifests), checks each against its digest and size, and returns
// the number of blobs verified.
func verifyTree(fetch fetchFunc, root descriptor) (int, error) {
	b, err := fetch(root)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", root.Digest, err)
	}
	if got := sha256Digest(b); got != root.Digest {
		return 0, fmt.Errorf("%s: content hashes to %s", root.Digest, got)
	}
	if root.Size > 0 && int64(len(b)) != root.Size {
		return 0, fmt.Errorf("%s: %d bytes, descriptor says %d", root.Digest, len(b), root.Size)
	}
	if !isManifestType(root.MediaType) {
		return 1, nil
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return 0, fmt.Errorf("%s: %w", root.Digest, err)
	}
	var children []descriptor
	if m.Config != nil {
		children = append(children, *m.Config)
	}
	children = append(children, m.Layers...)
	children = append(children, m.Manifests...)
	n := 1
	for _, c := range children {
		k, err := verifyTree(fetch, c)
		if err != nil {
			return 0, err
		}
		n += k
	}
	return n, nil
}

// verifyLayout checks that the OCI layout at dir lists the root digest in
// its index.json and holds every blob of its tree, each matching its digest.
func verifyLayout(dir, root string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return 0, err
	}
	var idx manifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return 0, fmt.Errorf("index.json: %w", err)
	}
	var listed []string
	for _, d := range idx.Manifests {
		listed = append(listed, d.Digest)
		if d.Digest == root {
			return verifyTree(func(d descriptor) ([]byte, error) {
				alg, hexDigest, _ := strings.Cut(d.Digest, ":")
				return os.ReadFile(filepath.Join(dir, "blobs", alg, hexDigest))
			}, d)
		}
	}
	return 0, fmt.Errorf("pulled layout's index.json lists %v, not %s", listed, root)
}

// probe talks HTTP (or HTTPS) to the registry, independently of the client
// under test, to confirm what the client reported.
type probe struct {
	base   string
	client *http.Client
}

func newProbe(reg *registry) *probe {
	return &probe{base: reg.base, client: reg.client(time.Minute)}
}

// response is a complete HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (p *probe) do(method, path string, header map[string]string, body []byte) (response, error) {
	req, err := http.NewRequest(method, p.base+path, bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	if body == nil {
		req.Body = http.NoBody
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading body: %w", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// get fetches a manifest (by tag or digest) or a blob and requires 200 and,
// when the registry sends one, a Docker-Content-Digest equal to the content's.
func (p *probe) get(repo, kind, ref string) ([]byte, error) {
	path := fmt.Sprintf("/v2/%s/%s/%s", repo, kind, ref)
	r, err := p.do(http.MethodGet, path, map[string]string{"Accept": manifestAccept}, nil)
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", path, r.status, tail(string(r.body), 300))
	}
	if h := r.header.Get("Docker-Content-Digest"); h != "" && h != sha256Digest(r.body) {
		return nil, fmt.Errorf("GET %s: Docker-Content-Digest %s, content hashes to %s", path, h, sha256Digest(r.body))
	}
	return r.body, nil
}

// manifestDigest returns the digest of the manifest bytes served for repo:ref.
func (p *probe) manifestDigest(repo, ref string) (string, error) {
	b, err := p.get(repo, "manifests", ref)
	if err != nil {
		return "", err
	}
	return sha256Digest(b), nil
}

// manifestStatus returns the status of HEAD /v2/<repo>/manifests/<ref>.
func (p *probe) manifestStatus(repo, ref string) (int, error) {
	r, err := p.do(http.MethodHead, fmt.Sprintf("/v2/%s/manifests/%s", repo, ref), map[string]string{"Accept": manifestAccept}, nil)
	return r.status, err
}

// blobStatus returns the status of HEAD /v2/<repo>/blobs/<digest>.
func (p *probe) blobStatus(repo, digest string) (int, error) {
	r, err := p.do(http.MethodHead, fmt.Sprintf("/v2/%s/blobs/%s", repo, digest), nil, nil)
	return r.status, err
}

// fetcher returns a fetchFunc reading repo over the API, for verifyTree.
func (p *probe) fetcher(repo string) fetchFunc {
	return func(d descriptor) ([]byte, error) {
		if isManifestType(d.MediaType) {
			return p.get(repo, "manifests", d.Digest)
		}
		return p.get(repo, "blobs", d.Digest)
	}
}

// tags returns GET /v2/<repo>/tags/list.
func (p *probe) tags(repo string) ([]string, error) {
	b, err := p.get(repo, "tags", "list")
	if err != nil {
		return nil, err
	}
	var v struct {
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("tags list: %w", err)
	}
	return v.Tags, nil
}

// catalog returns every repository in GET /v2/_catalog, following Link pages.
func (p *probe) catalog() ([]string, error) {
	var all []string
	path := "/v2/_catalog?n=1000"
	for range 100 {
		r, err := p.do(http.MethodGet, path, nil, nil)
		if err != nil {
			return nil, err
		}
		if r.status != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d %s", path, r.status, tail(string(r.body), 300))
		}
		var v struct {
			Repositories []string `json:"repositories"`
		}
		if err := json.Unmarshal(r.body, &v); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		all = append(all, v.Repositories...)
		link := r.header.Get("Link")
		if link == "" {
			return all, nil
		}
		start, end := strings.Index(link, "<"), strings.Index(link, ">")
		if start < 0 || end < start {
			return nil, fmt.Errorf("catalog: bad Link header %q", link)
		}
		path = link[start+1 : end]
	}
	return nil, fmt.Errorf("catalog: more than 100 pages")
}

// referrers returns GET /v2/<repo>/referrers/<digest>, which must be an
// image index (distribution-spec "Listing Referrers").
func (p *probe) referrers(repo, digest string) ([]descriptor, error) {
	path := fmt.Sprintf("/v2/%s/referrers/%s", repo, digest)
	r, err := p.do(http.MethodGet, path, nil, nil)
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s (want 200 with an image index)", path, r.status, tail(string(r.body), 300))
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, mtIndex) {
		return nil, fmt.Errorf("GET %s: Content-Type %q, want %s", path, ct, mtIndex)
	}
	var idx manifest
	if err := json.Unmarshal(r.body, &idx); err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	return idx.Manifests, nil
}

// pushBlob uploads b to repo with POST + monolithic PUT.
func (p *probe) pushBlob(repo string, b []byte) error {
	r, err := p.do(http.MethodPost, fmt.Sprintf("/v2/%s/blobs/uploads/", repo), nil, nil)
	if err != nil {
		return err
	}
	if r.status != http.StatusAccepted {
		return fmt.Errorf("POST upload to %s: %d %s", repo, r.status, tail(string(r.body), 300))
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		return fmt.Errorf("upload Location: %w", err)
	}
	q := loc.Query()
	q.Set("digest", sha256Digest(b))
	loc.RawQuery = q.Encode()
	target := loc.RequestURI()
	if base, _ := url.Parse(p.base); loc.IsAbs() && loc.Host != base.Host {
		return fmt.Errorf("upload Location %s points to another host", loc)
	}
	r, err = p.do(http.MethodPut, target, map[string]string{"Content-Type": "application/octet-stream"}, b)
	if err != nil {
		return err
	}
	if r.status != http.StatusCreated {
		return fmt.Errorf("PUT upload to %s: %d %s", repo, r.status, tail(string(r.body), 300))
	}
	return nil
}

// pushManifest PUTs a manifest by digest and returns the response headers.
func (p *probe) pushManifest(repo, mediaType string, b []byte) (http.Header, error) {
	path := fmt.Sprintf("/v2/%s/manifests/%s", repo, sha256Digest(b))
	r, err := p.do(http.MethodPut, path, map[string]string{"Content-Type": mediaType}, b)
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusCreated {
		return nil, fmt.Errorf("PUT %s: %d %s", path, r.status, tail(string(r.body), 300))
	}
	return r.header, nil
}
