package engine

import (
	"context"
	"slices"
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine/names"
)

// pushTags pushes one image to repo under every tag of tags.
func pushTags(t *testing.T, r *Registry, repo string, tags ...string) {
	t.Helper()
	m := pushImage(t, r, repo, []byte("shared"))
	if _, err := r.PutManifest(context.Background(), repo, names.Reference{Tag: tags[0]}, v1.MediaTypeImageManifest, m, tags[1:]); err != nil {
		t.Fatal(err)
	}
}

func tagNames(tags []TagInfo) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = t.Name
	}
	return out
}

func TestTagsWithPrefix(t *testing.T) {
	ctx := context.Background()
	r := newTestEngine(t, Options{})
	pushTags(t, r, "app", "v1", "v1.1", "v1.2", "v2", "latest")
	cases := []struct {
		prefix, after string
		n             int
		want          []string
		more          bool
	}{
		{"v1", "", 10, []string{"v1", "v1.1", "v1.2"}, false},
		{"v1", "", 2, []string{"v1", "v1.1"}, true},
		{"v1", "v1", 10, []string{"v1.1", "v1.2"}, false},
		{"v1", "v1.1", 10, []string{"v1.2"}, false},
		{"v1", "a", 10, []string{"v1", "v1.1", "v1.2"}, false},
		{"v1", "v2", 10, nil, false},
		{"", "v1.2", 10, []string{"v2"}, false},
		{"x", "", 10, nil, false},
	}
	for _, c := range cases {
		got, more, err := r.TagsWithPrefix(ctx, "app", c.prefix, c.after, c.n)
		if err != nil || !slices.Equal(tagNames(got), c.want) || more != c.more {
			t.Errorf("TagsWithPrefix(%q, after %q, %d) = %v more=%v, %v; want %v more=%v", c.prefix, c.after, c.n, tagNames(got), more, err, c.want, c.more)
		}
	}
	if _, _, err := r.TagsWithPrefix(ctx, "nope", "v", "", 10); err == nil {
		t.Error("unknown repository listed")
	}
}

func TestRepositorySearch(t *testing.T) {
	ctx := context.Background()
	r := newTestEngine(t, Options{})
	for _, repo := range []string{"a/web", "b/db", "c/web", "d/webhook"} {
		pushTags(t, r, repo, "v1")
	}
	web := func(name string) bool { return strings.Contains(name, "web") && name != "c/web" }
	got, more, err := r.RepositorySearch(ctx, "", 1, web)
	if err != nil || len(got) != 1 || got[0].Name != "a/web" || !more || got[0].Tags != 1 {
		t.Fatalf("first page: %+v more=%v, %v", got, more, err)
	}
	got, more, err = r.RepositorySearch(ctx, got[0].Name, 5, web)
	if err != nil || len(got) != 1 || got[0].Name != "d/webhook" || more {
		t.Fatalf("second page: %+v more=%v, %v", got, more, err)
	}
}

func TestManifestsByDigest(t *testing.T) {
	ctx := context.Background()
	r := newTestEngine(t, Options{})
	pushTags(t, r, "app", "v1")
	tags, _, err := r.TagInfos(ctx, "app", "", 10)
	if err != nil || len(tags) != 1 {
		t.Fatal(tags, err)
	}
	d := tags[0].Digest
	ms, err := r.Manifests(ctx, "app", []string{d, d, "sha256:" + strings.Repeat("0", 64)})
	if err != nil || len(ms) != 1 || ms[d].MediaType == "" || len(ms[d].Payload) == 0 || ms[d].Created.IsZero() {
		t.Fatalf("Manifests: %+v, %v", ms, err)
	}
}
