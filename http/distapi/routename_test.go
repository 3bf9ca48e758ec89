package distapi

import "testing"

func TestRouteName(t *testing.T) {
	for path, want := range map[string]string{
		"/v2/":                            "base",
		"/v2":                             "base",
		"/v2/_catalog":                    "catalog",
		"/v2/a/b/manifests/latest":        "manifest",
		"/v2/blobs/manifests/v1":          "manifest",
		"/v2/a/blobs/sha256:00":           "blob",
		"/v2/a/blobs/uploads/":            "upload",
		"/v2/a/blobs/uploads/123":         "upload",
		"/v2/a/manifests/blobs/uploads/x": "upload",
		"/v2/a/b/c/tags/list":             "tags",
		"/v2/a/referrers/sha256:00":       "referrers",
		"/v2/a":                           "",
		"/v2/a/manifests/":                "",
		"/v2/token":                       "",
		"/metrics":                        "",
		"/api/v1/status":                  "",
	} {
		if got := RouteName(path); got != want {
			t.Errorf("RouteName(%q) = %q, want %q", path, got, want)
		}
	}
}
