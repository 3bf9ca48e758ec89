package adminapi_test

import (
	"strings"
	"testing"

	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/servertest"
)

// openUpload starts a session in repo as cred and sends it data; it
// returns the session's location.
func openUpload(ar *servertest.Registry, cred, repo string, data []byte) string {
	ar.T.Helper()
	r := ar.Do("POST", "/v2/"+repo+"/blobs/uploads/", nil, "Authorization", cred)
	ar.Expect(r, 202, "", "start upload")
	loc := r.Header.Get("Location")
	if len(data) > 0 {
		r = ar.Do("PATCH", loc, data, "Authorization", cred, "Content-Type", "application/octet-stream")
		ar.Expect(r, 202, "", "patch upload")
	}
	return loc
}

// The operator lists sessions (all, or one repository's, in pages), sees
// their bytes in the status document, and removes one: record and staging
// file go, and the client's next request on it is BLOB_UPLOAD_UNKNOWN.
func TestAdminAPIUploads(t *testing.T) {
	ar, root := servertest.NewAdmin(t)
	ar.Account("dev", identity.Human)
	data := servertest.RandomBytes(1234)
	a1 := openUpload(ar, root, "team/a", data)
	openUpload(ar, root, "team/a", nil)
	openUpload(ar, root, "team/b", data[:10])

	var all apiv1.UploadPage
	ar.API(root, "GET", "/uploads", "", 200, &all)
	if len(all.Uploads) != 3 || all.Next != "" {
		t.Fatalf("uploads %+v", all)
	}
	var ids []string
	cursor := ""
	for range 5 {
		var p apiv1.UploadPage
		ar.API(root, "GET", "/uploads?repository=team/a&n=1&cursor="+cursor, "", 200, &p)
		for _, u := range p.Uploads {
			if u.Repository != "team/a" || u.Started.IsZero() {
				t.Errorf("upload %+v", u)
			}
			ids = append(ids, u.ID)
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if len(ids) != 2 {
		t.Fatalf("team/a sessions %v", ids)
	}
	id1 := a1[strings.LastIndex(a1, "/")+1:]
	found := false
	for _, u := range all.Uploads {
		if u.ID == id1 {
			found = true
			if u.Bytes != int64(len(data)) || u.LastWrite == nil {
				t.Errorf("written session %+v", u)
			}
		}
	}
	if !found {
		t.Fatalf("session %s not listed in %+v", id1, all)
	}
	var st apiv1.Status
	ar.API(root, "GET", "/status", "", 200, &st)
	if st.UploadsActive != 3 || st.Storage.StagingFiles != 2 || st.Storage.StagingBytes != int64(len(data))+10 {
		t.Errorf("status uploads %d, storage %+v", st.UploadsActive, st.Storage)
	}

	ar.APIError(servertest.Basic("dev", "dev-password"), "GET", "/uploads", "", 403, apiv1.CodeDenied)
	ar.APIError(servertest.Basic("dev", "dev-password"), "DELETE", "/uploads/"+id1, "", 403, apiv1.CodeDenied)
	ar.APIError(root, "GET", "/uploads?repository=Bad..Name", "", 422, apiv1.CodeInvalid)

	ar.API(root, "DELETE", "/uploads/"+id1, "", 204, nil)
	for _, f := range ar.StagingFiles() {
		if f == id1 {
			t.Error("staging file of the removed session is still there")
		}
	}
	r := ar.Do("PATCH", a1, []byte("more"), "Authorization", root, "Content-Type", "application/octet-stream")
	ar.Expect(r, 404, "BLOB_UPLOAD_UNKNOWN", "PATCH on a removed session")
	r = ar.Do("GET", a1, nil, "Authorization", root)
	ar.Expect(r, 404, "BLOB_UPLOAD_UNKNOWN", "GET on a removed session")
	ar.APIError(root, "DELETE", "/uploads/"+id1, "", 404, apiv1.CodeNotFound)
	ar.APIError(root, "DELETE", "/uploads/not-an-id", "", 404, apiv1.CodeNotFound)
	if ar.Events.Count("delete", "success") == 0 {
		t.Error("removal not audited")
	}
}
