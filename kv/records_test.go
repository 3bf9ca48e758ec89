package kv

import (
	"errors"
	"reflect"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	b := BlobRecord{Size: 1 << 40, Created: -5, LastLinked: 7}
	if got, err := DecodeBlob(b.Encode()); err != nil || got != b {
		t.Errorf("blob: %+v, %v", got, err)
	}
	r := RepoRecord{Created: 123456789}
	if got, err := DecodeRepo(r.Encode()); err != nil || got != r {
		t.Errorf("repo: %+v, %v", got, err)
	}
	m := ManifestRecord{MediaType: "a", ArtifactType: "b", Subject: "c", Created: 9, Payload: []byte{0, 1, 2}}
	if got, err := DecodeManifest(m.Encode()); err != nil || !reflect.DeepEqual(got, m) {
		t.Errorf("manifest: %+v, %v", got, err)
	}
	u := UploadRecord{Repo: "x/y", Offset: 99, Started: 3, HashState: []byte("state"), Updated: 4}
	if got, err := DecodeUpload(u.Encode()); err != nil || !reflect.DeepEqual(got, u) {
		t.Errorf("upload: %+v, %v", got, err)
	}
}

// An older record without the newest field decodes with its zero value.
func TestRecordForwardCompatible(t *testing.T) {
	full := BlobRecord{Size: 10, Created: 20, LastLinked: 30}.Encode()
	old := encode(&blobV0{Size: 10, Created: 20}, 0)
	got, err := DecodeBlob(old)
	if err != nil || got != (BlobRecord{Size: 10, Created: 20}) {
		t.Errorf("short record: %+v, %v", got, err)
	}
	if len(old) >= len(full) {
		t.Fatal("test is not exercising a shorter record")
	}
}

// blobV0 is a BlobRecord as written before LastLinked was appended.
type blobV0 struct{ Size, Created int64 }

func (r *blobV0) fields(c *codec) {
	c.int(&r.Size)
	c.int(&r.Created)
}

func TestRecordCorrupt(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":         nil,
		"wrong version": {2, 0},
		// The version, the media type's length 3 and two of its bytes.
		"length past end": ManifestRecord{MediaType: "abc"}.Encode()[:4],
	} {
		if _, err := DecodeManifest(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func FuzzDecodeManifest(f *testing.F) {
	f.Add(ManifestRecord{MediaType: "m", Payload: []byte("{}")}.Encode())
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := DecodeManifest(b)
		if err != nil {
			return
		}
		if again, err := DecodeManifest(rec.Encode()); err != nil || !reflect.DeepEqual(again, rec) {
			t.Fatalf("re-encode changed the record: %+v vs %+v (%v)", again, rec, err)
		}
	})
}
