package ui_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/names"
)

// Registry sizes of the page benchmark (docs/ui.md: every page under
// 50 ms of server time at this scale).
const (
	benchRepos   = 10_000
	benchBigTags = 100_000
	bigRepo      = "team/big"
)

// BenchmarkPages measures each page's server time, through the real
// server handler (middleware, router, session lookup, policy, template),
// on a registry with benchRepos repositories, one of which has
// benchBigTags tags.
func BenchmarkPages(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	first := e.image("base/seed", "v1", v1.Image{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}}, nil)
	seed, err := e.Reg.GetManifest(ctx, "base/seed", names.Reference{Tag: "v1"})
	if err != nil {
		b.Fatal(err)
	}
	var m v1.Manifest
	mustJSON(b, seed.Payload, &m)
	// Every repository links the seed's blobs by mounting them (metadata
	// only) and pushes the same manifest.
	populate := func(repo string, tags []string) {
		for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if ok, err := e.Reg.MountBlob(ctx, repo, "base/seed", d.Digest, nil); err != nil || !ok {
				b.Fatalf("mount into %s: %v %v", repo, ok, err)
			}
		}
		if _, err := e.Reg.PutManifest(ctx, repo, names.Reference{Tag: tags[0]}, v1.MediaTypeImageManifest, seed.Payload, tags[1:]); err != nil {
			b.Fatal(err)
		}
	}
	for i := range benchRepos - 2 {
		populate(fmt.Sprintf("team/app%05d", i), []string{"v1"})
	}
	const batch = 1000
	for i := 0; i < benchBigTags; i += batch {
		tags := make([]string, batch)
		for j := range tags {
			tags[j] = fmt.Sprintf("build-%06d", i+j)
		}
		populate(bigRepo, tags)
	}
	sess, err := e.IDs.CreateSession(ctx, must(e.IDs.AccountByName(ctx, "admin")).Principal(), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	h := e.Srv.Handler()
	for _, path := range []string{
		"/ui/",
		"/ui/?q=app09",
		"/ui/?q=big",
		"/ui/?after=team/app05000",
		"/ui/r/" + bigRepo,
		"/ui/r/" + bigRepo + "?after=build-050000",
		"/ui/r/" + bigRepo + "?q=build-0999",
		"/ui/r/" + bigRepo + "/-/manifest/build-077777",
		"/ui/r/" + bigRepo + "/-/manifest/" + first,
		"/ui/status",
	} {
		b.Run(path, func(b *testing.B) {
			var req fasthttp.Request
			req.SetRequestURI(path)
			req.Header.SetCookie("mcr_session", sess.ID)
			var rc fasthttp.RequestCtx
			for b.Loop() {
				rc.Init(&req, nil, nil)
				h(&rc)
				if rc.Response.StatusCode() != fasthttp.StatusOK {
					b.Fatalf("%s: %d\n%s", path, rc.Response.StatusCode(), rc.Response.Body())
				}
			}
		})
	}
}
