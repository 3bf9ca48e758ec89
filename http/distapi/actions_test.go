package distapi_test

import (
	"testing"

	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/servertest"
)

// Every route is checked against its action through the real middleware:
// three robots may each do one action on "app" and nothing else, and each
// route answers 403 DENIED to exactly the two whose action is not its own.
// Reads are pulls, writes pushes (cancelling an upload is part of
// pushing), deletes deletes.
func TestEveryRouteChecksItsAction(t *testing.T) {
	tr, root := servertest.NewAdmin(t)
	m := servertest.Image(t, tr.Reg, "app", "v1", map[string]string{"os": "linux"}, nil)
	layer := servertest.Blob(t, tr.Reg, "app", "application/octet-stream", []byte("a layer")).Digest.String()
	open := tr.Do("POST", "/v2/app/blobs/uploads/", nil, "Authorization", root)
	tr.Expect(open, 202, "", "open an upload")
	upload := open.Header.Get("Location")

	robots := map[policy.Action]string{}
	for _, act := range []policy.Action{policy.Pull, policy.Push, policy.Delete} {
		name := "robot-" + string(act)
		a := tr.Account(name, identity.System)
		tr.Rule(policy.Rule{ID: name, Priority: 10, Subject: policy.Subject{AccountID: a.ID}, Actions: []policy.Action{act}, Repositories: []string{"app"}})
		robots[act] = servertest.Basic(name, servertest.Password(name))
	}
	routes := []struct {
		method, path string
		act          policy.Action
	}{
		{"GET", "/v2/app/manifests/v1", policy.Pull},
		{"HEAD", "/v2/app/manifests/v1", policy.Pull},
		{"GET", "/v2/app/blobs/" + layer, policy.Pull},
		{"HEAD", "/v2/app/blobs/" + layer, policy.Pull},
		{"GET", "/v2/app/tags/list", policy.Pull},
		{"GET", "/v2/app/referrers/" + m, policy.Pull},
		{"PUT", "/v2/app/manifests/v2", policy.Push},
		{"POST", "/v2/app/blobs/uploads/", policy.Push},
		{"GET", upload, policy.Push},
		{"PATCH", upload, policy.Push},
		{"PUT", upload, policy.Push},
		{"DELETE", upload, policy.Push},
		{"DELETE", "/v2/app/blobs/" + layer, policy.Delete},
		{"DELETE", "/v2/app/manifests/" + m, policy.Delete},
	}
	for _, rt := range routes {
		for act, cred := range robots {
			r := tr.Do(rt.method, rt.path, nil, "Authorization", cred)
			denied := r.Status == 403 && (rt.method == "HEAD" || r.Code() == "DENIED")
			if want := act != rt.act; denied != want {
				t.Errorf("%s %s by a robot allowed only %s: %d %q, want denied=%v", rt.method, rt.path, act, r.Status, r.Code(), want)
			}
		}
	}
}
