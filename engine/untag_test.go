package engine

import (
	"context"
	"fmt"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine/names"
)

// Deleting a manifest by digest removes every tag that points at it,
// however many: 10 000 tag deletes are more than Badger commits in one
// transaction (kv.ErrTooLarge), so untagInSteps removes them in steps
// before the transaction that deletes the manifest.
func TestDeleteManifestWithManyTags(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	const tags, perPut = 10_000, 1_000
	for i := 0; i < tags; i += perPut {
		batch := make([]string, 0, perPut)
		for j := i; j < i+perPut; j++ {
			batch = append(batch, fmt.Sprintf("t%05d", j))
		}
		if _, err := f.r.PutManifest(ctx, "app", names.Reference{Digest: f.md}, v1.MediaTypeImageManifest, f.m, batch); err != nil {
			t.Fatalf("tagging %d..%d: %v", i, i+perPut, err)
		}
	}
	if p, err := f.r.Tags(ctx, "app", "", tags+10); err != nil || len(p.Items) != tags+1 {
		t.Fatalf("before the delete: %d tags, %v; want %d", len(p.Items), err, tags+1)
	}
	if err := f.r.DeleteManifest(ctx, "app", names.Reference{Digest: f.md}); err != nil {
		t.Fatalf("delete a manifest with %d tags: %v", tags+1, err)
	}
	p, err := f.r.Tags(ctx, "app", "", tags+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 0 {
		t.Fatalf("after the delete %d tags remain (first %q)", len(p.Items), p.Items[0])
	}
	if _, err := f.manifest("app", f.md.String()); err == nil {
		t.Fatal("the manifest is still there")
	}
}
