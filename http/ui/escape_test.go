package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/net/html"
)

// hostile strings, as an attacker would put them in labels, annotations
// and history lines.
var hostile = []string{
	`<script>alert("label")</script>`,
	`"><img src=x onerror=alert(1)>`,
	`javascript:alert(document.cookie)`,
	`' onmouseover='alert(2)`,
}

// liveMarkup returns the first piece of markup in page that would run
// or link somewhere else: an event handler attribute, a javascript: URL,
// a script with inline code or from elsewhere, an element the templates
// never write (img, iframe, object, embed). "" when there is none.
func liveMarkup(page string) string {
	z := html.NewTokenizer(strings.NewReader(page))
	inScript := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.TextToken:
			if inScript && strings.TrimSpace(string(z.Text())) != "" {
				return "inline script " + string(z.Text())
			}
		case html.EndTagToken:
			inScript = false
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			switch tok.Data {
			case "img", "iframe", "object", "embed":
				return tok.String()
			case "script":
				inScript = true
			}
			for _, a := range tok.Attr {
				v := strings.ToLower(strings.TrimSpace(a.Val))
				switch {
				case strings.HasPrefix(a.Key, "on"):
					return tok.String()
				case (a.Key == "href" || a.Key == "src" || a.Key == "action") && !strings.HasPrefix(v, "/ui/"):
					return tok.String()
				}
			}
		}
	}
}

func TestHostileContentIsEscaped(t *testing.T) {
	e := newEnv(t)
	labels := map[string]string{}
	annotations := map[string]string{}
	var history []v1.History
	for i, s := range hostile {
		labels["l"+string(rune('a'+i))+s] = s
		annotations["org.example."+string(rune('a'+i))] = s
		history = append(history, v1.History{CreatedBy: "/bin/sh -c " + s})
	}
	cfg := v1.Image{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, History: history,
		Config: v1.ImageConfig{Labels: labels, Env: hostile, Entrypoint: hostile[:2], User: hostile[1], WorkingDir: hostile[2]}}
	d := e.image("evil/app", "v1", cfg, annotations)
	e.blob("evil/app", v1.MediaTypeEmptyJSON, []byte("{}"))
	// A signature-like referrer: the registry validates artifact types, so
	// only its place on the page is checked.
	e.push("evil/app", "", v1.MediaTypeImageManifest, v1.Manifest{
		Versioned: specsVersioned, MediaType: v1.MediaTypeImageManifest, ArtifactType: "application/vnd.example.signature.v1",
		Config: v1.DescriptorEmptyJSON, Layers: []v1.Descriptor{v1.DescriptorEmptyJSON},
		Subject: &v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digestOf(d), Size: 1},
	})

	b := e.signedIn(t, "admin")
	for _, path := range []string{"/ui/r/evil/app/-/manifest/v1", "/ui/r/evil/app", "/ui/?q=" + url.QueryEscape(hostile[0]), "/ui/r/evil/app?q=" + url.QueryEscape(hostile[1])} {
		p := b.get(path)
		if p.status != http.StatusOK {
			t.Fatalf("%s: %d\n%s", path, p.status, p.body)
		}
		if m := liveMarkup(p.body); m != "" {
			t.Errorf("%s: live markup %q in the page", path, m)
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
	p := b.get("/ui/r/evil/app/-/manifest/v1")
	for _, want := range []string{"&lt;script&gt;alert(&#34;label&#34;)&lt;/script&gt;", "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;", "javascript:alert(document.cookie)"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the image page does not show %q as text", want)
		}
	}
	if !strings.Contains(p.body, `id="referrers"`) {
		t.Error("the referrer is not listed")
	}
}

func digestOf(s string) digest.Digest { return digest.Digest(s) }

// TestLiveMarkupDetects keeps the checker honest: each of these would
// run or link if it reached a page unescaped.
func TestLiveMarkupDetects(t *testing.T) {
	for _, bad := range []string{
		`<script>alert(1)</script>`, `<img src=x onerror=alert(1)>`, `<a href="javascript:alert(1)">x</a>`,
		`<a href=" JavaScript:alert(1)">x</a>`, `<b onmouseover="alert(1)">x</b>`, `<script src="https://evil.example/x.js"></script>`,
	} {
		if liveMarkup(bad) == "" {
			t.Errorf("liveMarkup(%q) found nothing", bad)
		}
	}
	if m := liveMarkup(`<a href="/ui/r/x">&lt;script&gt;</a><script src="/ui/static/app.js"></script>`); m != "" {
		t.Errorf("safe markup flagged: %q", m)
	}
}

// TestUnusualContentShownSafely: an artifact, a config that is not JSON,
// an index and a manifest near the 4 MiB limit all render.
func TestUnusualContentShownSafely(t *testing.T) {
	e := newEnv(t)
	repo := "odd/things"
	cfg := e.blob(repo, "application/vnd.example.config.v1+json", []byte(`{"not":"an image"}`))
	layer := e.blob(repo, "application/vnd.example.data", []byte("data"))
	e.push(repo, "artifact", v1.MediaTypeImageManifest, v1.Manifest{Versioned: specsVersioned, MediaType: v1.MediaTypeImageManifest,
		ArtifactType: "application/vnd.example.thing.v1", Config: cfg, Layers: []v1.Descriptor{layer}})
	broken := e.blob(repo, v1.MediaTypeImageConfig, []byte(`{"os": "linux", "architecture": [`))
	e.push(repo, "broken", v1.MediaTypeImageManifest, v1.Manifest{Versioned: specsVersioned, MediaType: v1.MediaTypeImageManifest,
		Config: broken, Layers: []v1.Descriptor{layer}})
	child := e.image(repo, "", v1.Image{Platform: v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}, nil)
	e.push(repo, "multi", v1.MediaTypeImageIndex, v1.Index{Versioned: specsVersioned, MediaType: v1.MediaTypeImageIndex,
		Manifests: []v1.Descriptor{{MediaType: v1.MediaTypeImageManifest, Digest: digestOf(child), Size: 1,
			Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}}})
	e.push(repo, "huge", v1.MediaTypeImageManifest, v1.Manifest{Versioned: specsVersioned, MediaType: v1.MediaTypeImageManifest,
		Config: cfg, Layers: []v1.Descriptor{layer}, Annotations: map[string]string{"big": strings.Repeat("x", 4<<20-2048)}})

	b := e.signedIn(t, "admin")
	for ref, want := range map[string]string{
		"artifact": "the config is not an image config",
		"broken":   "the config is not valid JSON",
		"multi":    "linux/arm64/v8",
		"huge":     "first 64 KiB",
	} {
		p := b.get("/ui/r/"+repo+"/-/manifest/"+ref).mustStatus(t, http.StatusOK)
		if !strings.Contains(p.body, want) {
			t.Errorf("%s: the page does not say %q", ref, want)
		}
		if len(p.body) > 1<<20 {
			t.Errorf("%s: a %d-byte page", ref, len(p.body))
		}
	}
	if p := b.get("/ui/r/" + repo + "/-/manifest/multi"); !strings.Contains(p.body, `href="/ui/r/`+repo+`/-/manifest/`+child+`"`) {
		t.Error("the index does not link to its child")
	}
	list := b.get("/ui/r/"+repo).mustStatus(t, http.StatusOK)
	for _, want := range []string{">artifact<", ">index<", "linux/arm64/v8"} {
		if !strings.Contains(list.body, want) {
			t.Errorf("the tag list lacks %q", want)
		}
	}
	b.get("/ui/r/"+repo+"/-/manifest/nope").mustStatus(t, http.StatusNotFound)
	b.get("/ui/r/"+repo+"/-/manifest/sha256:zz").mustStatus(t, http.StatusBadRequest)
	b.get("/ui/r/Bad..Name").mustStatus(t, http.StatusBadRequest)
	b.get("/ui/nothing-here").mustStatus(t, http.StatusNotFound)
}
