package distapi

import "testing"

func TestParseRoute(t *testing.T) {
	cases := []struct {
		path string
		want route
		ok   bool
	}{
		{"a/manifests/latest", route{kindManifest, "a", "latest"}, true},
		{"a/b/c/manifests/sha256:abc", route{kindManifest, "a/b/c", "sha256:abc"}, true},
		{"a/manifests/x/manifests/v1", route{kindManifest, "a/manifests/x", "v1"}, true},
		{"a/blobs/sha256:abc", route{kindBlob, "a", "sha256:abc"}, true},
		{"a/blobs/uploads/", route{kindUploads, "a", ""}, true},
		{"a/blobs/uploads", route{kindUploads, "a", ""}, true},
		{"a/b/blobs/uploads/0123", route{kindUpload, "a/b", "0123"}, true},
		{"blobs/blobs/uploads/x", route{kindUpload, "blobs", "x"}, true},
		{"a/tags/list", route{kindTags, "a", ""}, true},
		{"x/y/tags/list", route{kindTags, "x/y", ""}, true},
		{"a/referrers/sha256:abc", route{kindReferrers, "a", "sha256:abc"}, true},
		{"a/manifests/", route{}, false},
		{"manifests/latest", route{}, false},
		{"a/unknown/x", route{}, false},
		{"a", route{}, false},
		{"", route{}, false},
	}
	for _, c := range cases {
		got, ok := parseRoute(c.path)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseRoute(%q) = %+v, %v; want %+v, %v", c.path, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"a/manifests/v", "a/blobs/uploads/", "a/tags/list", "/blobs/uploads/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rt, ok := parseRoute(p)
		if ok && rt.repo == "" {
			t.Fatalf("%q parsed with an empty repository: %+v", p, rt)
		}
	})
}
