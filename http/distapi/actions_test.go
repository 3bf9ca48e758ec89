package distapi

import (
	"testing"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/policy"
)

// Every route declares the action the policy checks, and reads are pulls,
// writes pushes, deletes deletes.
func TestEveryRouteDeclaresAction(t *testing.T) {
	a := &API{}
	want := map[kind]map[string]policy.Action{
		kindManifest:  {"GET": policy.Pull, "HEAD": policy.Pull, "PUT": policy.Push, "DELETE": policy.Delete},
		kindBlob:      {"GET": policy.Pull, "HEAD": policy.Pull, "DELETE": policy.Delete},
		kindUploads:   {"POST": policy.Push},
		kindUpload:    {"GET": policy.Push, "PATCH": policy.Push, "PUT": policy.Push, "DELETE": policy.Push}, // cancelling is part of pushing
		kindTags:      {"GET": policy.Pull},
		kindReferrers: {"GET": policy.Pull},
	}
	methods := []string{fasthttp.MethodGet, fasthttp.MethodHead, fasthttp.MethodPut, fasthttp.MethodPost,
		fasthttp.MethodPatch, fasthttp.MethodDelete, fasthttp.MethodOptions}
	for k, byMethod := range want {
		for _, m := range methods {
			h, act := a.methods(k, m)
			w, ok := byMethod[m]
			switch {
			case ok && (h == nil || act != w):
				t.Errorf("kind %d %s: action %q, want %q", k, m, act, w)
			case !ok && (h != nil || act != ""):
				t.Errorf("kind %d %s: unexpected handler with action %q", k, m, act)
			}
		}
	}
}
