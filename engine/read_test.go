package engine

import (
	"context"
	"testing"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// TestGetManifestAnswers checks GetManifest's reads (one snapshot per
// step, kv.ReadKeys) on both stores: a tag and a digest resolve; a tag
// whose manifest is gone by the second read (here: a tag left pointing at
// nothing) is read again from one snapshot and answers MANIFEST_UNKNOWN
// naming the digest; missing tags and digests are MANIFEST_UNKNOWN in a
// repository that exists and NAME_UNKNOWN in one that does not.
func TestGetManifestAnswers(t *testing.T) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "badger", true: "postgres"}[pg], func(t *testing.T) {
			r := newTestEngineOn(t, Options{}, pg)
			ctx := context.Background()
			const repo = "read/answers"
			m := pushImage(t, r, repo, []byte("shared"))
			res, err := r.PutManifest(ctx, repo, names.Reference{Tag: "v1"}, "application/vnd.oci.image.manifest.v1+json", m, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, ref := range []names.Reference{{Tag: "v1"}, {Digest: res.Digest}} {
				got, err := r.GetManifest(ctx, repo, ref)
				if err != nil || got.Digest != res.Digest || string(got.Payload) != string(m) {
					t.Fatalf("GetManifest(%v) = %+v, %v", ref, got, err)
				}
			}
			dangling := digest.FromString("no such manifest")
			if err := r.kv.Update(ctx, func(t kv.Txn) error { return t.Set(kv.TagKey(repo, "dangling"), []byte(dangling)) }); err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				repo string
				ref  names.Reference
				want errcode.Kind
			}{
				{repo, names.Reference{Tag: "dangling"}, errcode.ManifestUnknown},
				{repo, names.Reference{Tag: "v2"}, errcode.ManifestUnknown},
				{repo, names.Reference{Digest: dangling}, errcode.ManifestUnknown},
				{"read/none", names.Reference{Tag: "v1"}, errcode.NameUnknown},
				{"read/none", names.Reference{Digest: res.Digest}, errcode.NameUnknown},
			}
			for _, c := range cases {
				if _, err := r.GetManifest(ctx, c.repo, c.ref); errcode.KindOf(err) != c.want {
					t.Errorf("GetManifest(%s, %v) = %v, want %v", c.repo, c.ref, err, c.want)
				}
			}
		})
	}
}
