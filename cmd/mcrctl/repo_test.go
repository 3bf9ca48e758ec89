package main

import (
	"strings"
	"testing"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

func TestRepoTagManifest(t *testing.T) {
	const repo = "team/app"
	d1, layer1 := pushImage(t, repo, "v1", "first image")
	d2, _ := pushImage(t, repo, "v2", "second image")
	pushImage(t, "team/other", "latest", "another repository")

	// repo ls follows cursors: one entry per page here.
	var repos apiv1.RepositoryPage
	admin(t, "-o", "json", "repo", "ls", "--page-size", "1").ok(t).decode(t, &repos)
	got := map[string]apiv1.Repository{}
	for _, r := range repos.Repositories {
		got[r.Name] = r
	}
	if len(got) < 2 || got[repo].Name == "" || got["team/other"].Name == "" || repos.Next != "" {
		t.Fatalf("repo ls: %+v", repos)
	}
	// --limit caps the total and hands back the cursor to go on from.
	var limited apiv1.RepositoryPage
	admin(t, "-o", "json", "repo", "ls", "--limit", "1").ok(t).decode(t, &limited)
	if len(limited.Repositories) != 1 || limited.Next == "" {
		t.Errorf("repo ls --limit 1: %+v", limited)
	}
	if r := admin(t, "repo", "ls").ok(t); !strings.Contains(r.stdout, "NAME") || !strings.Contains(r.stdout, repo) {
		t.Errorf("repo ls table:\n%s", r.stdout)
	}

	var rp apiv1.Repository
	admin(t, "-o", "json", "repo", "show", repo).ok(t).decode(t, &rp)
	if rp.Name != repo || rp.Tags != 2 || rp.Manifests != 2 || rp.SizeBytes <= 0 || rp.LastPush == nil {
		t.Errorf("repo show: %+v", rp)
	}

	var tags apiv1.TagPage
	admin(t, "-o", "json", "tag", "ls", repo, "--page-size", "1").ok(t).decode(t, &tags)
	if len(tags.Tags) != 2 || tags.Tags[0].Name != "v1" || tags.Tags[0].Digest != d1 || tags.Tags[1].Name != "v2" || tags.Tags[1].Digest != d2 {
		t.Errorf("tag ls: %+v", tags)
	}

	// manifest show by tag and by digest: the same manifest.
	for _, ref := range []string{"v1", d1} {
		var m apiv1.Manifest
		admin(t, "-o", "json", "manifest", "show", repo, ref).ok(t).decode(t, &m)
		if m.Digest != d1 || m.MediaType != "application/vnd.oci.image.manifest.v1+json" || m.Config == nil ||
			len(m.Layers) != 1 || m.Layers[0].Digest != layer1 || len(m.Raw) == 0 || len(m.Tags) != 1 || m.Tags[0] != "v1" {
			t.Errorf("manifest show %s: %+v", ref, m)
		}
	}
	if r := admin(t, "manifest", "show", repo, "v2").ok(t); !strings.Contains(r.stdout, d2) || !strings.Contains(r.stdout, "layer 0") {
		t.Errorf("manifest show table:\n%s", r.stdout)
	}
	admin(t, "manifest", "show", repo, "nope").want(t, exitNotFound, "NOT_FOUND")

	var ms apiv1.ManifestPage
	admin(t, "-o", "json", "manifest", "ls", repo).ok(t).decode(t, &ms)
	if len(ms.Manifests) != 2 {
		t.Errorf("manifest ls: %+v", ms)
	}

	// tag rm, both spellings.
	admin(t, "tag", "rm", repo+":v1").ok(t)
	admin(t, "tag", "rm", repo+":v1").want(t, exitNotFound, "NOT_FOUND")
	admin(t, "tag", "rm", repo, "v2").ok(t)
	admin(t, "-o", "json", "tag", "ls", repo).ok(t).decode(t, &tags)
	if len(tags.Tags) != 0 {
		t.Errorf("tags left after tag rm: %+v", tags)
	}
	// The manifests stay.
	admin(t, "-o", "json", "manifest", "show", repo, d2).ok(t)

	// repo rm --wait: the deletion job ends and the repository is gone.
	var job apiv1.Job
	admin(t, "-o", "json", "repo", "rm", "--wait", "team/other").ok(t).decode(t, &job)
	if job.State != "succeeded" || !strings.HasPrefix(job.Kind, "repo-delete:") {
		t.Errorf("repo rm job: %+v", job)
	}
	admin(t, "repo", "show", "team/other").want(t, exitNotFound, "NOT_FOUND")
}

func TestSplitRepoTag(t *testing.T) {
	for _, c := range []struct{ in, repo, tag string }{
		{"a/b:latest", "a/b", "latest"},
		{"a:1", "a", "1"},
	} {
		r, tg, ok := splitRepoTag(c.in)
		if !ok || r != c.repo || tg != c.tag {
			t.Errorf("splitRepoTag(%q) = %q %q %v", c.in, r, tg, ok)
		}
	}
	for _, bad := range []string{"a/b", ":x", "a:", "host:5000/a"} {
		if _, _, ok := splitRepoTag(bad); ok {
			t.Errorf("splitRepoTag(%q) accepted", bad)
		}
	}
}

func TestParseChallenge(t *testing.T) {
	s, p := parseChallenge(`Bearer realm="http://h:5/v2/token",service="mcr",scope="repository:a,b:pull",error="x\"y"`)
	if s != "Bearer" || p["realm"] != "http://h:5/v2/token" || p["service"] != "mcr" || p["scope"] != "repository:a,b:pull" || p["error"] != `x"y` {
		t.Errorf("%q %q", s, p)
	}
	if _, p := parseChallenge(`Basic realm=unquoted, charset="UTF-8"`); p["realm"] != "unquoted" || p["charset"] != "UTF-8" {
		t.Errorf("%q", p)
	}
}
