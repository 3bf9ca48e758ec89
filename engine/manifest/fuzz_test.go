package manifest

import (
	"errors"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// keeps the package's invariants: a Known media type, and only descriptors
// with allowed digests and non-negative sizes handed to the engine. Without
// -fuzz it runs the seed corpus: every case of TestParse under several
// Content-Types.
func FuzzParse(f *testing.F) {
	cts := []string{"", "application/octet-stream", OCIManifest, OCIIndex, DockerManifest, DockerManifestList}
	for _, tc := range append(validCases(), invalidCases()...) {
		f.Add(tc.ct, tc.payload)
		for _, ct := range cts {
			if ct != tc.ct {
				f.Add(ct, tc.payload)
			}
		}
	}
	f.Add("text/plain", []byte(`{}`))
	f.Add("", []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"sha256:","size":0}]}`))
	f.Add(OCIManifest+";", []byte(`{"schemaVersion":2,"config":{"data":"AA=="}}`))
	f.Fuzz(func(t *testing.T, ct string, payload []byte) {
		m, err := Parse(ct, payload)
		if err != nil {
			var me *Error
			if !errors.As(err, &me) || m != nil {
				t.Fatalf("Parse error %v (%T) with manifest %v", err, err, m)
			}
			if me.Kind < KindInvalid || me.Kind > KindDigest {
				t.Fatalf("unknown Kind %d", me.Kind)
			}
			return
		}
		if !Known(m.MediaType) {
			t.Fatalf("accepted media type %q", m.MediaType)
		}
		if IsIndex(m.MediaType) != (m.Config == nil) {
			t.Fatalf("%s with config %v", m.MediaType, m.Config)
		}
		all := append(append([]v1.Descriptor{}, m.Blobs()...), m.Children()...)
		if m.Subject != nil {
			all = append(all, *m.Subject)
		}
		for _, d := range all {
			if err := checkDigest(d.Digest); err != nil || d.Size < 0 || !validMediaType(d.MediaType) {
				t.Fatalf("accepted descriptor %+v", d)
			}
			if d.Data != nil && d.Digest.Algorithm().FromBytes(d.Data) != d.Digest {
				t.Fatalf("accepted data not matching %s", d.Digest)
			}
		}
		_ = m.Descriptor("sha256:0000000000000000000000000000000000000000000000000000000000000000", int64(len(payload)))
	})
}
