package distapi

import (
	"mime"
	"strings"
	"testing"
)

func FuzzAcceptedType(f *testing.F) {
	for _, s := range []string{
		"application/vnd.oci.image.manifest.v1+json", " Application/JSON ", "*/*", "text", "a/", "/b", "a/b/c",
		"a/b;q=0.9", "a/b; charset=utf-8", "a b/c", "a/b\x7f", "\u212a/x", "a/\u00a0", "", " ", "a/b ;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, part string) {
		got, ok := acceptedType(part)
		want, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if ok != (err == nil) || ok && got != want {
			t.Fatalf("acceptedType(%q) = %q, %v; mime.ParseMediaType says %q, %v", part, got, ok, want, err)
		}
	})
}
