package distapi

import "strings"

// RouteName names the endpoint a request path reaches, for metrics and
// logs: "base", "catalog", "manifest", "blob", "upload", "tags",
// "referrers", or "" for a path that is not a distribution endpoint. The
// set is fixed, so it is safe as a metric label where the raw path (which
// carries repository names and digests) is not.
func RouteName(path string) string {
	switch path {
	case "/v2", "/v2/":
		return "base"
	case "/v2/_catalog":
		return "catalog"
	}
	p, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return ""
	}
	rt, ok := parseRoute(p)
	if !ok {
		return ""
	}
	switch rt.kind {
	case kindManifest:
		return "manifest"
	case kindBlob:
		return "blob"
	case kindUploads, kindUpload:
		return "upload"
	case kindTags:
		return "tags"
	case kindReferrers:
		return "referrers"
	}
	return ""
}
