package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/manifest"
	"git.wntrmute.dev/kyle/mcr/engine/names"
)

// The table tests of the engine's mutations: each row is an input, the
// error kind it must fail with (or success), and what is stored
// afterwards, read back through the engine's read paths.

// success is the "kind" of a row that must not fail.
const success errcode.Kind = -1

// fixture is a registry where "app" holds an image (config, layer,
// manifest tagged v1) and "other" holds one blob of its own.
type fixture struct {
	t       *testing.T
	r       *Registry
	cfg     v1.Descriptor
	layer   v1.Descriptor
	m       []byte
	md      digest.Digest
	foreign v1.Descriptor
	upload  string // a row's upload session
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, r: newTestEngine(t, Options{})}
	f.cfg = putBlob(t, f.r, "app", []byte(`{"architecture":"amd64","os":"linux"}`))
	f.cfg.MediaType = v1.MediaTypeImageConfig
	f.layer = putBlob(t, f.r, "app", []byte("the app's layer"))
	f.m = imageManifest(t, f.cfg, f.layer)
	f.md = digest.FromBytes(f.m)
	if _, err := f.r.PutManifest(context.Background(), "app", names.Reference{Tag: "v1"}, v1.MediaTypeImageManifest, f.m, nil); err != nil {
		t.Fatal(err)
	}
	f.foreign = putBlob(t, f.r, "other", []byte("a layer of another repository"))
	return f
}

func imageManifest(t *testing.T, cfg v1.Descriptor, layers ...v1.Descriptor) []byte {
	t.Helper()
	b, err := json.Marshal(v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, Config: cfg, Layers: layers})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// blob is what a pull of d from repo gets: the bytes, or the error.
func (f *fixture) blob(repo string, d digest.Digest) ([]byte, error) {
	rc, _, err := f.r.OpenBlob(context.Background(), repo, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// manifest is what a pull of ref (a tag or a digest) from repo gets.
func (f *fixture) manifest(repo, ref string) ([]byte, error) {
	r, err := names.ParseReference(ref)
	if err != nil {
		f.t.Fatal(err)
	}
	m, err := f.r.GetManifest(context.Background(), repo, r)
	if err != nil {
		return nil, err
	}
	return m.Payload, nil
}

func (f *fixture) tags(repo string) []string {
	p, err := f.r.Tags(context.Background(), repo, "", 100)
	if err != nil {
		f.t.Fatalf("tags of %s: %v", repo, err)
	}
	return p.Items
}

// serves fails unless a pull of d from repo gets want.
func (f *fixture) serves(repo string, d digest.Digest, want []byte) {
	f.t.Helper()
	if got, err := f.blob(repo, d); err != nil || !bytes.Equal(got, want) {
		f.t.Errorf("%s serves %s: %q, %v; want %q", repo, d, got, err, want)
	}
}

// lacks fails unless a pull of d from repo answers kind k.
func (f *fixture) lacks(repo string, d digest.Digest, k errcode.Kind) {
	f.t.Helper()
	if _, err := f.blob(repo, d); errcode.KindOf(err) != k {
		f.t.Errorf("%s blob %s: %v, want kind %d", repo, d, err, k)
	}
}

// hasManifest fails unless ref in repo resolves to want.
func (f *fixture) hasManifest(repo, ref string, want []byte) {
	f.t.Helper()
	if got, err := f.manifest(repo, ref); err != nil || !bytes.Equal(got, want) {
		f.t.Errorf("%s manifest %s: %.80q, %v", repo, ref, got, err)
	}
}

// noManifest fails unless ref in repo answers MANIFEST_UNKNOWN.
func (f *fixture) noManifest(repo, ref string) {
	f.t.Helper()
	if _, err := f.manifest(repo, ref); errcode.KindOf(err) != errcode.ManifestUnknown {
		f.t.Errorf("%s manifest %s: %v, want MANIFEST_UNKNOWN", repo, ref, err)
	}
}

type row struct {
	name  string
	do    func(f *fixture) error
	want  errcode.Kind
	after func(f *fixture)
}

func runRows(t *testing.T, rows []row) {
	for _, c := range rows {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // each row has its own fixture: the disk waits overlap
			f := newFixture(t)
			err := c.do(f)
			switch {
			case c.want == success && err != nil:
				t.Fatalf("failed: %v", err)
			case c.want != success && (err == nil || errcode.KindOf(err) != c.want):
				t.Fatalf("error %v (kind %d), want kind %d", err, errcode.KindOf(err), c.want)
			}
			c.after(f)
		})
	}
}

func TestPutManifestTable(t *testing.T) {
	ctx := context.Background()
	put := func(f *fixture, ref names.Reference, payload []byte, tags ...string) error {
		_, err := f.r.PutManifest(ctx, "app", ref, v1.MediaTypeImageManifest, payload, tags)
		return err
	}
	// second is an image over the fixture's blobs that differs from m.
	second := func(f *fixture) []byte { return imageManifest(f.t, f.cfg, f.layer, f.layer) }
	untouched := func(f *fixture) {
		f.t.Helper()
		if got := f.tags("app"); !slices.Equal(got, []string{"v1"}) {
			f.t.Errorf("tags %v, want [v1]", got)
		}
		f.hasManifest("app", "v1", f.m)
	}
	runRows(t, []row{
		{"by tag", func(f *fixture) error { return put(f, names.Reference{Tag: "v2"}, second(f)) }, success, func(f *fixture) {
			f.hasManifest("app", "v2", second(f))
			f.hasManifest("app", digest.FromBytes(second(f)).String(), second(f))
			f.hasManifest("app", "v1", f.m)
		}},
		{"retag", func(f *fixture) error { return put(f, names.Reference{Tag: "v1"}, second(f)) }, success, func(f *fixture) {
			f.hasManifest("app", "v1", second(f))
			f.hasManifest("app", f.md.String(), f.m) // the old manifest stays, untagged
		}},
		{"by digest with tags", func(f *fixture) error {
			return put(f, names.Reference{Digest: digest.FromBytes(second(f))}, second(f), "a", "b")
		}, success, func(f *fixture) {
			if got := f.tags("app"); !slices.Equal(got, []string{"a", "b", "v1"}) {
				f.t.Errorf("tags %v", got)
			}
			f.hasManifest("app", "a", second(f))
		}},
		{"broken JSON", func(f *fixture) error { return put(f, names.Reference{Tag: "x"}, []byte("{not json")) }, errcode.ManifestInvalid, untouched},
		{"digest mismatch", func(f *fixture) error {
			return put(f, names.Reference{Digest: digest.FromString("other")}, second(f))
		}, errcode.DigestInvalid, func(f *fixture) {
			untouched(f)
			f.noManifest("app", digest.FromBytes(second(f)).String())
		}},
		{"invalid extra tag", func(f *fixture) error {
			return put(f, names.Reference{Digest: digest.FromBytes(second(f))}, second(f), "-bad")
		}, errcode.ManifestInvalid, func(f *fixture) {
			untouched(f)
			f.noManifest("app", digest.FromBytes(second(f)).String())
		}},
		{"layer never pushed", func(f *fixture) error {
			return put(f, names.Reference{Tag: "x"}, imageManifest(f.t, f.cfg, v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: digest.FromString("missing"), Size: 7}))
		}, errcode.ManifestBlobUnknown, func(f *fixture) { untouched(f); f.noManifest("app", "x") }},
		{"layer of another repository", func(f *fixture) error {
			return put(f, names.Reference{Tag: "x"}, imageManifest(f.t, f.cfg, f.foreign))
		}, errcode.ManifestBlobUnknown, func(f *fixture) { untouched(f); f.noManifest("app", "x") }},
		{"over the size limit", func(f *fixture) error {
			return put(f, names.Reference{Tag: "x"}, bytes.Repeat([]byte(" "), manifest.MaxSize+1))
		}, errcode.TooLarge, func(f *fixture) { untouched(f); f.noManifest("app", "x") }},
	})
}

func TestPutBlobTable(t *testing.T) {
	ctx := context.Background()
	data := []byte("a blob pushed in one request")
	d := digest.FromBytes(data)
	runRows(t, []row{
		{"sha256", func(f *fixture) error { return f.r.PutBlob(ctx, "app", d, bytes.NewReader(data), int64(len(data))) }, success,
			func(f *fixture) { f.serves("app", d, data) }},
		{"sha512", func(f *fixture) error {
			return f.r.PutBlob(ctx, "app", digest.SHA512.FromBytes(data), bytes.NewReader(data), int64(len(data)))
		}, success, func(f *fixture) { f.serves("app", digest.SHA512.FromBytes(data), data) }},
		{"length unknown", func(f *fixture) error { return f.r.PutBlob(ctx, "app", d, bytes.NewReader(data), -1) }, success,
			func(f *fixture) { f.serves("app", d, data) }},
		{"new repository", func(f *fixture) error { return f.r.PutBlob(ctx, "fresh", d, bytes.NewReader(data), int64(len(data))) }, success,
			func(f *fixture) { f.serves("fresh", d, data); f.lacks("app", d, errcode.BlobUnknown) }},
		{"digest mismatch", func(f *fixture) error {
			return f.r.PutBlob(ctx, "app", digest.FromString("else"), bytes.NewReader(data), int64(len(data)))
		}, errcode.DigestInvalid, func(f *fixture) {
			f.lacks("app", digest.FromString("else"), errcode.BlobUnknown)
			f.lacks("app", d, errcode.BlobUnknown)
		}},
		{"shorter than declared", func(f *fixture) error {
			return f.r.PutBlob(ctx, "app", d, bytes.NewReader(data), int64(len(data))+10)
		}, errcode.SizeInvalid, func(f *fixture) { f.lacks("app", d, errcode.BlobUnknown) }},
	})
}

func TestFinishUploadTable(t *testing.T) {
	ctx := context.Background()
	data := []byte("the first half|and the second half")
	d := digest.FromBytes(data)
	const cut = 15
	// open starts a session holding data[:cut] and returns its id.
	open := func(f *fixture) string {
		f.t.Helper()
		u, err := f.r.StartUpload(ctx, "app")
		if err != nil {
			f.t.Fatal(err)
		}
		if _, err := f.r.AppendUpload(ctx, "app", u.ID, 0, bytes.NewReader(data[:cut]), cut); err != nil {
			f.t.Fatal(err)
		}
		return u.ID
	}
	// intact fails unless the session is still there with the first part.
	intact := func(f *fixture) {
		f.t.Helper()
		if u, err := f.r.UploadStatus(ctx, "app", f.upload); err != nil || u.Offset != cut {
			f.t.Errorf("session after a failed finish: %+v, %v", u, err)
		}
		f.lacks("app", d, errcode.BlobUnknown)
	}
	runRows(t, []row{
		{"rest and digest", func(f *fixture) error {
			f.upload = open(f)
			return f.r.FinishUpload(ctx, "app", f.upload, d, cut, bytes.NewReader(data[cut:]), int64(len(data)-cut))
		}, success, func(f *fixture) {
			f.serves("app", d, data)
			if _, err := f.r.UploadStatus(ctx, "app", f.upload); errcode.KindOf(err) != errcode.BlobUploadUnknown {
				f.t.Errorf("finished session: %v", err)
			}
		}},
		{"sha512 through a session", func(f *fixture) error {
			f.upload = open(f)
			return f.r.FinishUpload(ctx, "app", f.upload, digest.SHA512.FromBytes(data), cut, bytes.NewReader(data[cut:]), int64(len(data)-cut))
		}, success, func(f *fixture) { f.serves("app", digest.SHA512.FromBytes(data), data) }},
		{"wrong digest", func(f *fixture) error {
			f.upload = open(f)
			return f.r.FinishUpload(ctx, "app", f.upload, digest.FromString("else"), cut, bytes.NewReader(data[cut:]), int64(len(data)-cut))
		}, errcode.DigestInvalid, func(f *fixture) { f.lacks("app", digest.FromString("else"), errcode.BlobUnknown) }},
		{"wrong offset", func(f *fixture) error {
			f.upload = open(f)
			return f.r.FinishUpload(ctx, "app", f.upload, d, cut+1, bytes.NewReader(data[cut:]), int64(len(data)-cut))
		}, errcode.RangeInvalid, intact},
		{"another repository's session", func(f *fixture) error {
			f.upload = open(f)
			return f.r.FinishUpload(ctx, "other", f.upload, d, cut, bytes.NewReader(data[cut:]), int64(len(data)-cut))
		}, errcode.BlobUploadUnknown, func(f *fixture) { intact(f); f.lacks("other", d, errcode.BlobUnknown) }},
		{"unknown session", func(f *fixture) error {
			f.upload = open(f)
			return f.r.FinishUpload(ctx, "app", strings.Repeat("0", 32), d, 0, bytes.NewReader(data), int64(len(data)))
		}, errcode.BlobUploadUnknown, intact},
	})
}

func TestMountBlobTable(t *testing.T) {
	ctx := context.Background()
	mount := func(want bool, repo, from string, d func(*fixture) digest.Digest, canPull func(string) bool) func(*fixture) error {
		return func(f *fixture) error {
			got, err := f.r.MountBlob(ctx, repo, from, d(f), canPull)
			if err == nil && got != want {
				return errors.New("mounted is not as expected")
			}
			return err
		}
	}
	layer := func(f *fixture) digest.Digest { return f.layer.Digest }
	runRows(t, []row{
		{"from a repository", mount(true, "dst", "app", layer, nil), success, func(f *fixture) {
			f.serves("dst", f.layer.Digest, []byte("the app's layer"))
			f.serves("app", f.layer.Digest, []byte("the app's layer"))
		}},
		{"automatic", mount(true, "dst", "", layer, nil), success, func(f *fixture) {
			f.serves("dst", f.layer.Digest, []byte("the app's layer"))
		}},
		{"source lacks it", mount(false, "dst", "other", layer, nil), success, func(f *fixture) {
			f.lacks("dst", f.layer.Digest, errcode.NameUnknown)
		}},
		{"source may not be pulled", mount(false, "dst", "app", layer, func(string) bool { return false }), success, func(f *fixture) {
			f.lacks("dst", f.layer.Digest, errcode.NameUnknown)
		}},
		{"automatic, no permitted source", mount(false, "other", "", layer, func(r string) bool { return r != "app" }), success, func(f *fixture) {
			f.lacks("other", f.layer.Digest, errcode.BlobUnknown)
		}},
		{"unknown blob", mount(false, "dst", "", func(*fixture) digest.Digest { return digest.FromString("none") }, nil), success, func(f *fixture) {
			f.lacks("dst", digest.FromString("none"), errcode.NameUnknown)
		}},
	})
}

func TestDeleteTable(t *testing.T) {
	ctx := context.Background()
	del := func(repo, ref string) func(*fixture) error {
		return func(f *fixture) error {
			if ref == "" {
				ref = f.md.String()
			}
			r, err := names.ParseReference(ref)
			if err != nil {
				return err
			}
			return f.r.DeleteManifest(ctx, repo, r)
		}
	}
	image := func(f *fixture) {
		f.t.Helper()
		f.hasManifest("app", "v1", f.m)
		f.serves("app", f.layer.Digest, []byte("the app's layer"))
	}
	runRows(t, []row{
		{"manifest by digest", del("app", ""), success, func(f *fixture) {
			f.noManifest("app", f.md.String())
			f.noManifest("app", "v1") // its tags go with it
			if got := f.tags("app"); len(got) != 0 {
				f.t.Errorf("tags left: %v", got)
			}
			f.serves("app", f.layer.Digest, []byte("the app's layer")) // blobs stay until GC
		}},
		{"tag", del("app", "v1"), success, func(f *fixture) {
			f.noManifest("app", "v1")
			f.hasManifest("app", f.md.String(), f.m)
		}},
		{"unknown tag", del("app", "v9"), errcode.ManifestUnknown, image},
		{"unknown manifest", del("app", digest.FromString("none").String()), errcode.ManifestUnknown, image},
		{"unknown repository", del("nowhere", "v1"), errcode.NameUnknown, image},
		{"blob", func(f *fixture) error { return f.r.DeleteBlob(ctx, "app", f.layer.Digest) }, success, func(f *fixture) {
			f.lacks("app", f.layer.Digest, errcode.BlobUnknown)
			f.hasManifest("app", "v1", f.m)
		}},
		{"blob of another repository", func(f *fixture) error { return f.r.DeleteBlob(ctx, "app", f.foreign.Digest) }, errcode.BlobUnknown, func(f *fixture) {
			f.serves("other", f.foreign.Digest, []byte("a layer of another repository"))
			image(f)
		}},
		{"blob stays where mounted", func(f *fixture) error {
			if _, err := f.r.MountBlob(ctx, "other", "app", f.layer.Digest, nil); err != nil {
				return err
			}
			return f.r.DeleteBlob(ctx, "app", f.layer.Digest)
		}, success, func(f *fixture) {
			f.lacks("app", f.layer.Digest, errcode.BlobUnknown)
			f.serves("other", f.layer.Digest, []byte("the app's layer"))
		}},
	})
}
