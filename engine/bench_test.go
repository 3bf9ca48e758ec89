package engine

import (
	"context"
	"fmt"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine/names"
)

// BenchmarkTags lists 10 000 tags, whole and a page of 100 from the middle:
// the work behind GET /v2/<name>/tags/list without HTTP.
func BenchmarkTags(b *testing.B) {
	r := newTestEngine(b, Options{})
	ctx := context.Background()
	m := pushImage(b, r, "bench/tags", []byte("shared"))
	const n = 10000
	for i := range n {
		if _, err := r.PutManifest(ctx, "bench/tags", names.Reference{Tag: fmt.Sprintf("t%05d", i)}, v1.MediaTypeImageManifest, m, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			p, err := r.Tags(ctx, "bench/tags", "", -1)
			if err != nil || len(p.Items) != n {
				b.Fatalf("%d tags, %v", len(p.Items), err)
			}
		}
	})
	b.Run("page100", func(b *testing.B) {
		for b.Loop() {
			p, err := r.Tags(ctx, "bench/tags", "t05000", 100)
			if err != nil || len(p.Items) != 100 {
				b.Fatalf("%d tags, %v", len(p.Items), err)
			}
		}
	})
}

// BenchmarkGetManifest resolves a tag and reads its manifest.
func BenchmarkGetManifest(b *testing.B) {
	r := newTestEngine(b, Options{})
	ctx := context.Background()
	m := pushImage(b, r, "bench/get", []byte("shared"))
	if _, err := r.PutManifest(ctx, "bench/get", names.Reference{Tag: "v1"}, v1.MediaTypeImageManifest, m, nil); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.GetManifest(ctx, "bench/get", names.Reference{Tag: "v1"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
