package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const clientTimeout = 2 * time.Minute // one client command

// Artifact types of the pushed artifact and of the referrer attached to the image.
const (
	artifactType = "application/vnd.mcr.e2e.test.v1"
	sigType      = "application/vnd.mcr.e2e.sig.v1"
)

// TestClients pushes, pulls, tags, lists, copies (with a cross-repository
// mount), attaches referrers to and deletes fresh content with each real
// client against one server, and confirms each outcome over plain HTTP.
func TestClients(t *testing.T) {
	requireE2E(t)
	reg := startRegistry(t)
	for _, spec := range clientSpecs {
		t.Run(spec.name, func(t *testing.T) {
			t.Parallel()
			runClient(t, reg, spec)
		})
	}
}

// clientRun is one client's session: its binary, private configuration and
// repositories under e2e/<run>/<client>/.
type clientRun struct {
	spec clientSpec
	reg  *registry
	p    *probe
	fix  *fixture
	dir  string // scratch: pulls, artifact downloads
	bin  string
	env  []string
	ns   string
	ok   map[string]bool // step name -> passed
}

func (c *clientRun) repo(name string) string { return c.ns + "/" + name }

// ref returns host/<ns>/<name><sep><ref>, sep being ":" or "@".
func (c *clientRun) ref(name, sep, ref string) string {
	return c.reg.host + "/" + c.repo(name) + sep + ref
}

// run runs the client and fails the test if it fails.
func (c *clientRun) run(t *testing.T, dir string, args []string) result {
	t.Helper()
	if c.reg.tls != nil {
		args = verifyingTLS(args)
	}
	r := command{t: t, bin: c.bin, env: c.env, dir: dir, timeout: clientTimeout}.run(args...)
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r
}

// step runs fn as a subtest unless a step it needs failed.
func (c *clientRun) step(t *testing.T, name string, needs []string, fn func(t *testing.T)) {
	c.ok[name] = t.Run(name, func(t *testing.T) {
		for _, n := range needs {
			if !c.ok[n] {
				t.Fatalf("not run: needs step %q, which failed", n)
			}
		}
		fn(t)
	})
}

func runClient(t *testing.T, reg *registry, spec clientSpec) {
	dir := workDir(t, spec.name)
	c := &clientRun{
		spec: spec,
		reg:  reg,
		bin:  tool(t, spec.name),
		p:    newProbe(reg),
		fix:  newFixture(t, filepath.Join(dir, "fixture"), spec.name),
		dir:  dir,
		env:  isolatedEnv(t, filepath.Join(dir, "config")),
		ns:   fmt.Sprintf("e2e/%s/%s", runID, spec.name),
		ok:   map[string]bool{},
	}
	if reg.caFile != "" {
		c.env = append(c.env, "SSL_CERT_FILE="+reg.caFile) // Go's system roots: every client here is Go
	}
	if spec.setup != nil {
		for _, args := range spec.setup(reg.host) {
			c.run(t, "", args)
		}
	}
	img := c.fix.image

	c.step(t, "push-image", nil, func(t *testing.T) {
		c.run(t, "", spec.push(c.fix.imageDir, "v1", c.ref("img", ":", "v1"), false))
		c.verifyRemote(t, "img", "v1", img)
	})
	c.step(t, "push-index", nil, func(t *testing.T) {
		c.run(t, "", spec.push(c.fix.indexDir, "multi", c.ref("multi", ":", "multi"), true))
		c.verifyRemote(t, "multi", "multi", c.fix.index)
	})
	c.step(t, "pull-image", []string{"push-image"}, func(t *testing.T) {
		c.pullAndVerify(t, "img", "v1", img, false)
	})
	c.step(t, "pull-index", []string{"push-index"}, func(t *testing.T) {
		c.pullAndVerify(t, "multi", "multi", c.fix.index, true)
	})
	c.step(t, "tag-list", []string{"push-image"}, func(t *testing.T) {
		c.run(t, "", spec.tag(c.ref("img", ":", "v1"), c.reg.host+"/"+c.repo("img"), "v2"))
		out := c.run(t, "", spec.listTags(c.reg.host+"/"+c.repo("img")))
		tags, err := spec.parseTags(out.stdout)
		if err != nil {
			t.Fatal(err)
		}
		expectTags(t, spec.name+" lists", tags)
		apiTags, err := c.p.tags(c.repo("img"))
		if err != nil {
			t.Fatal(err)
		}
		expectTags(t, "GET tags/list", apiTags)
		if d, err := c.p.manifestDigest(c.repo("img"), "v2"); err != nil || d != img.Digest {
			t.Fatalf("img:v2 resolves to %s, %v; want %s", d, err, img.Digest)
		}
		t.Logf("verified: tags [v1 v2] listed by %s and by the API; v2 resolves to %s", spec.name, img.Digest)
	})
	if spec.catalog != nil {
		c.step(t, "catalog", []string{"push-image", "push-index"}, func(t *testing.T) {
			out := c.run(t, "", spec.catalog(c.reg.host))
			listed, _ := parseLines(out.stdout)
			apiListed, err := c.p.catalog()
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{c.repo("img"), c.repo("multi")} {
				if !slices.Contains(listed, name) {
					t.Errorf("%s catalog (%d repositories) lacks %s", spec.name, len(listed), name)
				}
				if !slices.Contains(apiListed, name) {
					t.Errorf("GET /v2/_catalog (%d repositories) lacks %s", len(apiListed), name)
				}
			}
			t.Logf("verified: %s and GET /v2/_catalog list %s and %s", spec.name, c.repo("img"), c.repo("multi"))
		})
	}

	var copyLog string
	c.step(t, "copy", []string{"push-image"}, func(t *testing.T) {
		out := c.run(t, "", spec.copy(c.ref("img", ":", "v1"), c.ref("copy", ":", "v1")))
		copyLog = out.stdout + out.stderr
		if err := os.WriteFile(filepath.Join(c.dir, "copy.log"), []byte(copyLog), 0o644); err != nil {
			t.Fatal(err)
		}
		c.verifyRemote(t, "copy", "v1", img)
	})
	// skopeo mounts only blobs its blob-info cache saw in a source
	// repository, which pull-image recorded.
	c.step(t, "mount", []string{"copy", "pull-image"}, func(t *testing.T) {
		c.verifyMounts(t, copyLog)
	})
	if spec.artifact != nil {
		c.step(t, "artifact", nil, func(t *testing.T) { c.artifactRoundTrip(t) })
	}
	c.step(t, "referrers", []string{"push-image"}, func(t *testing.T) { c.referrers(t) })
	c.step(t, "delete", []string{"copy"}, func(t *testing.T) {
		c.run(t, "", spec.del(c.ref("copy", "@", img.Digest)))
		if code, err := c.p.manifestStatus(c.repo("copy"), img.Digest); err != nil || code != http.StatusNotFound {
			t.Fatalf("HEAD copy@%s after delete: %d, %v; want 404", img.Digest, code, err)
		}
		// The copy shared (mounted) the original's blobs: they must survive.
		if code, err := c.p.manifestStatus(c.repo("img"), "v1"); err != nil || code != http.StatusOK {
			t.Fatalf("HEAD img:v1 after deleting the copy: %d, %v; want 200", code, err)
		}
		n, err := verifyTree(c.p.fetcher(c.repo("img")), img)
		if err != nil {
			t.Fatalf("original after deleting the copy: %v", err)
		}
		t.Logf("verified: copy@digest gone (404); original img:v1 intact, %d blobs re-downloaded and verified", n)
	})
}

// verifyRemote checks that repo:tag serves want's exact bytes and that every
// blob and child manifest of it downloads and matches its digest.
func (c *clientRun) verifyRemote(t *testing.T, name, tag string, want descriptor) {
	t.Helper()
	got, err := c.p.manifestDigest(c.repo(name), tag)
	if err != nil {
		t.Fatal(err)
	}
	if got != want.Digest {
		t.Fatalf("%s:%s is %s, want the pushed %s", name, tag, got, want.Digest)
	}
	n, err := verifyTree(c.p.fetcher(c.repo(name)), want)
	if err != nil {
		t.Fatalf("%s:%s: %v", name, tag, err)
	}
	t.Logf("verified: %s:%s = %s; %d manifests and blobs downloaded over HTTP, all match their digests", name, tag, got, n)
}

func (c *clientRun) pullAndVerify(t *testing.T, name, tag string, want descriptor, index bool) {
	t.Helper()
	out := filepath.Join(c.dir, "pull-"+name)
	c.run(t, "", c.spec.pull(c.ref(name, ":", tag), out, tag, index))
	n, err := verifyLayout(out, want.Digest)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("verified: pulled layout has root %s and all %d blobs, re-hashed", want.Digest, n)
}

// verifyMounts requires that the copy used cross-repository mounts, all
// answered 201 Created, covering every layer: a 202 means the registry fell
// back to an upload (allowed by the spec, but we require real mounts).
func (c *clientRun) verifyMounts(t *testing.T, log string) {
	attempts := c.spec.mounts(log)
	m := c.readManifest(t, c.fix.image)
	if len(attempts) == 0 {
		// Clients mount only blobs that HEAD says are missing in the target.
		code, err := c.p.blobStatus(c.repo("never-pushed"), m.Layers[0].Digest)
		t.Fatalf("%s attempted no cross-repository mount (POST /v2/<name>/blobs/uploads/?mount=&from=) while copying.\n"+
			"HEAD of one of its layers in a repository that never received it answers %d (%v): "+
			"200 there means the registry serves blobs regardless of repository, so clients skip the mount.\nend of the copy log:\n%s",
			c.spec.name, code, err, tail(log, 2000))
	}
	mounted := map[string]bool{}
	created := 0
	var bad []string
	for _, a := range attempts {
		if a.status == http.StatusCreated {
			created++
			mounted[a.digest] = true
			continue
		}
		what := fmt.Sprintf("%d", a.status)
		if a.status == 0 {
			what = "an error"
		}
		bad = append(bad, fmt.Sprintf("mount of %s answered %s", orRedacted(a.digest), what))
	}
	if len(bad) > 0 {
		t.Fatalf("%d of %d mount requests were not 201 Created (202 = upload fallback): %s", len(bad), len(attempts), strings.Join(bad, "; "))
	}
	if created < len(m.Layers) {
		t.Fatalf("only %d blobs mounted, the image has %d layers", created, len(m.Layers))
	}
	for _, l := range m.Layers {
		if !mounted[l.Digest] && !mounted[""] { // "" = client redacts digests
			t.Fatalf("layer %s was not mounted (mounted: %v)", l.Digest, mounted)
		}
	}
	t.Logf("verified: %d cross-repository mounts, all 201 Created, covering the %d layers", created, len(m.Layers))
}

func orRedacted(d string) string {
	if d == "" {
		return "(redacted digest)"
	}
	return d
}

func (c *clientRun) readManifest(t *testing.T, d descriptor) manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.fix.imageDir, "blobs", "sha256", strings.TrimPrefix(d.Digest, "sha256:")))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// artifactRoundTrip pushes files as an artifact, checks the manifest over
// HTTP, pulls them back and compares the bytes.
func (c *clientRun) artifactRoundTrip(t *testing.T) {
	a := c.spec.artifact
	out := c.run(t, c.fix.artDir, a.push(c.ref("art", ":", "v1"), artifactType, c.fix.files))
	dig := strings.TrimSpace(out.stdout)
	if !strings.HasPrefix(dig, "sha256:") {
		t.Fatalf("%s printed %q, want the artifact's digest", c.spec.name, dig)
	}
	body, err := c.p.get(c.repo("art"), "manifests", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256Digest(body); got != dig {
		t.Fatalf("art:v1 is %s, %s reported %s", got, c.spec.name, dig)
	}
	var m manifest
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m.ArtifactType != artifactType && (m.Config == nil || m.Config.MediaType != artifactType) {
		t.Fatalf("artifact manifest has artifactType %q, config %+v; want %s", m.ArtifactType, m.Config, artifactType)
	}
	if len(m.Layers) != len(c.fix.files) {
		t.Fatalf("artifact has %d layers, want %d", len(m.Layers), len(c.fix.files))
	}
	for i, f := range c.fix.files {
		if m.Layers[i].Digest != f.digest() || m.Layers[i].MediaType != f.mediaType {
			t.Fatalf("layer %d is %s %s, want %s %s", i, m.Layers[i].MediaType, m.Layers[i].Digest, f.mediaType, f.digest())
		}
	}
	if _, err := verifyTree(c.p.fetcher(c.repo("art")), descriptor{MediaType: mtManifest, Digest: dig, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	pulled := filepath.Join(c.dir, "pull-art")
	if err := os.MkdirAll(pulled, 0o755); err != nil {
		t.Fatal(err)
	}
	c.run(t, "", a.pull(c.ref("art", ":", "v1"), pulled))
	for _, f := range c.fix.files {
		got, err := os.ReadFile(filepath.Join(pulled, f.name))
		if err != nil {
			t.Fatalf("pulled artifact: %v", err)
		}
		if !bytes.Equal(got, f.data) {
			t.Fatalf("pulled %s differs from the pushed file (%s vs %s)", f.name, sha256Digest(got), f.digest())
		}
	}
	t.Logf("verified: artifact %s (type %s, %d files) served as pushed and pulled back byte-identical", dig, artifactType, len(c.fix.files))
}

// referrers attaches an artifact with the image as subject (with the client
// when it can, else over plain HTTP) and requires the registry's referrers
// API to list it.
func (c *clientRun) referrers(t *testing.T) {
	img := c.fix.image
	subject := c.ref("img", "@", img.Digest)
	var ref string
	if a := c.spec.artifact; a != nil {
		out := c.run(t, c.fix.artDir, a.attach(subject, sigType, c.fix.sig))
		ref = strings.TrimSpace(out.stdout)
		if !strings.HasPrefix(ref, "sha256:") {
			t.Fatalf("%s printed %q, want the referrer's digest", c.spec.name, ref)
		}
		listed := c.run(t, "", a.list(subject, sigType))
		descs, err := a.parseList(listed.stdout)
		if err != nil {
			t.Fatal(err)
		}
		if !hasReferrer(descs, ref, sigType) {
			t.Fatalf("%s lists referrers %v; want %s of type %s", c.spec.name, descs, ref, sigType)
		}
		t.Logf("%s attached %s and lists it as a referrer of %s", c.spec.name, ref, img.Digest)
	} else {
		ref = c.attachOverHTTP(t, img)
		t.Logf("%s has no referrers command: attached %s over plain HTTP to the image %s pushed", c.spec.name, ref, c.spec.name)
	}
	body, err := c.p.get(c.repo("img"), "manifests", ref)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Subject == nil || m.Subject.Digest != img.Digest {
		t.Fatalf("referrer %s has subject %+v, want %s", ref, m.Subject, img.Digest)
	}
	descs, err := c.p.referrers(c.repo("img"), img.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !hasReferrer(descs, ref, sigType) {
		t.Fatalf("GET /v2/%s/referrers/%s lists %v; want %s with artifactType %s", c.repo("img"), img.Digest, descs, ref, sigType)
	}
	t.Logf("verified: GET referrers API lists %s (artifactType %s) for %s", ref, sigType, img.Digest)
}

// attachOverHTTP pushes a one-file artifact whose subject is img and returns
// its digest; the registry must answer with OCI-Subject (distribution-spec
// "Pushing Manifests with Subject").
func (c *clientRun) attachOverHTTP(t *testing.T, img descriptor) string {
	empty := []byte("{}")
	for _, b := range [][]byte{empty, c.fix.sig.data} {
		if err := c.p.pushBlob(c.repo("img"), b); err != nil {
			t.Fatal(err)
		}
	}
	body, err := json.Marshal(manifest{
		SchemaVersion: 2,
		MediaType:     mtManifest,
		ArtifactType:  sigType,
		Config:        &descriptor{MediaType: mtEmpty, Digest: sha256Digest(empty), Size: int64(len(empty))},
		Layers:        []descriptor{{MediaType: c.fix.sig.mediaType, Digest: c.fix.sig.digest(), Size: int64(len(c.fix.sig.data))}},
		Subject:       &descriptor{MediaType: mtManifest, Digest: img.Digest, Size: img.Size},
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.p.pushManifest(c.repo("img"), mtManifest, body)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get("OCI-Subject"); got != img.Digest {
		t.Fatalf("manifest push with a subject answered OCI-Subject %q, want %s", got, img.Digest)
	}
	return sha256Digest(body)
}

func hasReferrer(descs []descriptor, digest, artifactType string) bool {
	for _, d := range descs {
		if d.Digest == digest && d.ArtifactType == artifactType {
			return true
		}
	}
	return false
}

func expectTags(t *testing.T, what string, tags []string) {
	t.Helper()
	got := slices.Sorted(slices.Values(tags))
	if !slices.Equal(got, []string{"v1", "v2"}) {
		t.Fatalf("%s tags %v, want [v1 v2]", what, got)
	}
}
