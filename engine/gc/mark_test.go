package gc

import (
	"slices"
	"sort"
	"testing"

	"github.com/opencontainers/go-digest"
)

func dg(s string) string { return digest.FromString(s).String() }

func TestParseRefs(t *testing.T) {
	cfg, l1, l2, foreign, child1, child2, subj := dg("cfg"), dg("l1"), dg("l2"), dg("foreign"), dg("c1"), dg("c2"), dg("subject")
	for _, tc := range []struct {
		name     string
		payload  string
		blobs    []string
		children []string
	}{
		{"oci image", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
			"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + cfg + `","size":1},
			"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + l1 + `","size":1},
			          {"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + l2 + `","size":1}]}`,
			[]string{cfg, l1, l2}, nil},
		{"docker schema2 with a foreign layer", `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
			"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"` + cfg + `","size":1},
			"layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"` + foreign + `","size":1,"urls":["https://x"]},
			          {"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"` + l1 + `","size":1}]}`,
			// A non-distributable layer counts too: if it was pushed, it is used.
			[]string{cfg, foreign, l1}, nil},
		{"artifact with subject and no layers", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
			"artifactType":"application/vnd.example.sbom","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + cfg + `","size":2},
			"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + subj + `","size":1}}`,
			[]string{cfg}, nil},
		{"withdrawn oci artifact manifest", `{"mediaType":"application/vnd.oci.artifact.manifest.v1+json","artifactType":"x/y",
			"blobs":[{"mediaType":"x/y","digest":"` + l2 + `","size":1}]}`,
			[]string{l2}, nil},
		{"oci index", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
			{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + child1 + `","size":1,"platform":{"os":"linux","architecture":"amd64"}},
			{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + child2 + `","size":1}]}`,
			nil, []string{child1, child2}},
		{"docker manifest list", `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[
			{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"` + child1 + `","size":1}]}`,
			nil, []string{child1}},
		{"unknown fields are ignored", `{"schemaVersion":3,"whatever":{"digest":"x"},"config":{"digest":"` + cfg + `"}}`,
			[]string{cfg}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseRefs([]byte(tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			var blobs []string
			r.blobs(func(d string) { blobs = append(blobs, d) })
			if !slices.Equal(blobs, tc.blobs) {
				t.Errorf("blobs %v, want %v", blobs, tc.blobs)
			}
			if got := r.children(); !slices.Equal(got, tc.children) {
				t.Errorf("children %v, want %v", got, tc.children)
			}
		})
	}
	if _, err := parseRefs([]byte(`{"config":`)); err == nil {
		t.Error("a truncated manifest must be an error: GC cannot know what it references")
	}
}

func TestLive(t *testing.T) {
	const old, young, cutoff = 10, 30, 20
	img := func(created int64) node { return node{created: created} }
	ref := func(subject string, created int64) node { return node{created: created, subject: subject} }
	idx := func(created int64, children ...string) node { return node{created: created, children: children} }
	for _, tc := range []struct {
		name           string
		nodes          map[string]node
		tagged         []string
		deleteUntagged bool
		want           []string
	}{
		{"policy off keeps every manifest",
			map[string]node{"a": img(old), "b": img(old), "r": ref("gone", old)}, nil, false,
			[]string{"a", "b", "r"}},
		{"tagged stay, old untagged go, young untagged stay",
			map[string]node{"tagged": img(old), "untagged": img(old), "fresh": img(young)}, []string{"tagged"}, true,
			[]string{"fresh", "tagged"}},
		{"children of a tagged index stay, transitively",
			map[string]node{"top": idx(old, "mid", "img1"), "mid": idx(old, "img2"), "img1": img(old), "img2": img(old), "other": img(old)},
			[]string{"top"}, true,
			[]string{"img1", "img2", "mid", "top"}},
		{"children of a dead index go with it",
			map[string]node{"idx": idx(old, "c1", "c2"), "c1": img(old), "c2": img(old)}, nil, true,
			nil},
		{"a child shared with a live index stays",
			map[string]node{"dead": idx(old, "shared", "own"), "live": idx(old, "shared"), "shared": img(old), "own": img(old)},
			[]string{"live"}, true,
			[]string{"live", "shared"}},
		{"referrers of a live subject stay, and their referrers",
			map[string]node{"app": img(old), "sig": ref("app", old), "sbom": ref("app", old), "sbom-sig": ref("sbom", old)},
			[]string{"app"}, true,
			[]string{"app", "sbom", "sbom-sig", "sig"}},
		{"referrers of a child of a live index stay",
			map[string]node{"idx": idx(old, "c"), "c": img(old), "att": ref("c", old)}, []string{"idx"}, true,
			[]string{"att", "c", "idx"}},
		{"referrers of a dead subject go",
			map[string]node{"app": img(old), "sig": ref("app", old)}, nil, true,
			nil},
		{"a referrer whose subject is absent lives only as a root",
			map[string]node{"orphan-ref": ref("missing", old), "young-ref": ref("missing", young), "tagged-ref": ref("missing", old)},
			[]string{"tagged-ref"}, true,
			[]string{"tagged-ref", "young-ref"}},
		{"a tagged referrer does not keep its subject",
			map[string]node{"app": img(old), "sig": ref("app", old)}, []string{"sig"}, true,
			[]string{"sig"}},
		{"a young index keeps its old children",
			map[string]node{"idx": idx(young, "c"), "c": img(old)}, nil, true,
			[]string{"c", "idx"}},
		{"a tag naming a missing manifest is ignored",
			map[string]node{"a": img(old)}, []string{"missing"}, true,
			nil},
		{"an index naming a missing child is fine",
			map[string]node{"idx": idx(old, "missing")}, []string{"idx"}, true,
			[]string{"idx"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keep := live(tc.nodes, tc.tagged, liveRule{deleteUntagged: tc.deleteUntagged, cutoff: cutoff})
			var got []string
			for d, ok := range keep {
				if ok {
					got = append(got, d)
				}
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("live %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMarkKey(t *testing.T) {
	m := markSet{}
	a, b := dg("a"), digest.SHA512.FromString("a").String()
	m[markKey(a)] = struct{}{}
	if !m.has(a) || m.has(b) || m.has(dg("b")) {
		t.Fatal("mark set membership is wrong")
	}
	m[markKey(b)] = struct{}{}
	if !m.has(b) || len(m) != 2 {
		t.Fatal("sha512 digest not distinct from sha256")
	}
	if k := markKey(a); len(k) != 33 {
		t.Fatalf("compact key of a sha256 digest has %d bytes", len(k))
	}
	if markKey("not-a-digest") != "not-a-digest" || markKey("sha256:zz") != "sha256:zz" {
		t.Fatal("malformed digests must keep a unique key")
	}
}
