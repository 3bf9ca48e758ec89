package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// startUpload opens a session in repo and sends it data with one PATCH;
// it returns the session's absolute URL.
func startUpload(t *testing.T, repo string, data []byte) string {
	t.Helper()
	u := openSession(t, repo).String()
	resp := basic(t, "admin", adminPW, http.MethodPatch, u, "application/octet-stream", data)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("PATCH upload: %s", resp.Status)
	}
	return u
}

func TestUploadLsRm(t *testing.T) {
	data := []byte(strings.Repeat("staged bytes ", 100))
	u1 := startUpload(t, "uploads/one", data)
	startUpload(t, "uploads/two", data[:7])
	id1 := u1[strings.LastIndex(u1, "/")+1:]

	var p apiv1.UploadPage
	admin(t, "-o", "json", "upload", "ls", "--repo", "uploads/one").ok(t).decode(t, &p)
	if len(p.Uploads) != 1 || p.Uploads[0].ID != id1 || p.Uploads[0].Bytes != int64(len(data)) || p.Uploads[0].Repository != "uploads/one" {
		t.Fatalf("upload ls --repo: %+v", p)
	}
	out := admin(t, "upload", "ls").ok(t).stdout
	for _, want := range []string{"ID", "REPOSITORY", id1, "uploads/one", "uploads/two", "1.3 KiB"} {
		if !strings.Contains(out, want) {
			t.Errorf("upload ls table lacks %q:\n%s", want, out)
		}
	}
	if st := admin(t, "status").ok(t).stdout; !strings.Contains(st, "staging") {
		t.Errorf("status has no staging row:\n%s", st)
	}

	admin(t, "upload", "rm", id1).ok(t)
	admin(t, "-o", "json", "upload", "ls", "--repo", "uploads/one").ok(t).decode(t, &p)
	if len(p.Uploads) != 0 {
		t.Fatalf("removed session still listed: %+v", p)
	}
	resp := basic(t, "admin", adminPW, http.MethodPatch, u1, "application/octet-stream", []byte("more"))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "BLOB_UPLOAD_UNKNOWN") {
		t.Fatalf("PATCH after upload rm: %s %s", resp.Status, body)
	}
	admin(t, "upload", "rm", id1).want(t, exitNotFound, "NOT_FOUND")
	admin(t, "upload", "rm").want(t, exitUsage, "")
}
