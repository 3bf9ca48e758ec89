package engine

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/names"
)

func TestInspect(t *testing.T) {
	r := newTestEngine(t, Options{})
	ctx := context.Background()
	shared := []byte("shared base layer")
	m1 := pushImage(t, r, "team/app", shared)
	m2 := pushImage(t, r, "team/app", shared)
	if _, err := r.PutManifest(ctx, "team/app", names.Reference{Tag: "v1"}, v1.MediaTypeImageManifest, m1, []string{"latest"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PutManifest(ctx, "team/app", names.Reference{Tag: "v2"}, v1.MediaTypeImageManifest, m2, nil); err != nil {
		t.Fatal(err)
	}
	pushImage(t, r, "other", shared) // blobs only: a repository without manifests

	info, err := r.RepositoryInfo(ctx, "team/app")
	if err != nil {
		t.Fatal(err)
	}
	// Linked: the shared layer once, and each image's config and own layer.
	var want int64 = int64(len(shared)) + 2*512
	for _, m := range [][]byte{m1, m2} {
		want += configSize(t, m)
	}
	if info.Tags != 3 || info.Manifests != 2 || info.SizeBytes != want || info.LastPush.IsZero() {
		t.Errorf("RepositoryInfo = %+v, want 3 tags, 2 manifests, %d bytes", info, want)
	}
	if _, err := r.RepositoryInfo(ctx, "nope"); errcode.KindOf(err) != errcode.NameUnknown {
		t.Errorf("unknown repository: %v", err)
	}

	infos, more, err := r.RepositoryInfos(ctx, "", 1)
	if err != nil || len(infos) != 1 || !more || infos[0].Name != "other" || infos[0].Manifests != 0 {
		t.Fatalf("first page %+v more=%v err=%v", infos, more, err)
	}
	infos, more, err = r.RepositoryInfos(ctx, "other", 1)
	if err != nil || len(infos) != 1 || more || infos[0].Name != "team/app" {
		t.Fatalf("second page %+v more=%v err=%v", infos, more, err)
	}

	tags, more, err := r.TagInfos(ctx, "team/app", "", 2)
	d1, d2 := digest.FromBytes(m1).String(), digest.FromBytes(m2).String()
	if err != nil || !more || len(tags) != 2 || tags[0] != (TagInfo{"latest", d1}) || tags[1] != (TagInfo{"v1", d1}) {
		t.Fatalf("tags %+v more=%v err=%v", tags, more, err)
	}

	ms, more, err := r.ManifestInfos(ctx, "team/app", "", 10)
	if err != nil || more || len(ms) != 2 {
		t.Fatalf("manifests %+v more=%v err=%v", ms, more, err)
	}
	for _, m := range ms {
		wantTags := map[string]int{d1: 2, d2: 1}[m.Digest]
		if len(m.Tags) != wantTags || m.MediaType != v1.MediaTypeImageManifest {
			t.Errorf("manifest %s: tags %v", m.Digest, m.Tags)
		}
	}
	m, err := r.ManifestInfo(ctx, "team/app", names.Reference{Tag: "v2"})
	if err != nil || m.Digest != d2 || string(m.Payload) != string(m2) || len(m.Tags) != 1 {
		t.Fatalf("ManifestInfo(v2) = %+v, %v", m, err)
	}
	if _, err := r.ManifestInfo(ctx, "team/app", names.Reference{Tag: "gone"}); errcode.KindOf(err) != errcode.ManifestUnknown {
		t.Errorf("unknown tag: %v", err)
	}

	c, err := r.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Repositories != 2 || c.Manifests != 2 || c.Tags != 3 || c.Blobs != 7 {
		t.Errorf("Counts = %+v, want 2 repositories, 2 manifests, 3 tags, 7 blobs", c)
	}
}

func configSize(t *testing.T, manifest []byte) int64 {
	t.Helper()
	var m v1.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatal(err)
	}
	return m.Config.Size
}
