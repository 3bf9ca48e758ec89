package ui

import (
	"context"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/manifest"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// pageSize is how many rows a listing shows.
const pageSize = 50

// sep separates a repository name from what of it a path asks for: no
// repository path component can be "-" (the admin API uses the same).
const sep = "/-/"

// reposData is the repository list.
type reposData struct {
	Q     string
	Repos []engine.RepoInfo
	Next  string // the cursor of the next page, "" on the last
}

// repositories lists the repositories whose name contains q that the
// viewer may pull: anonymous viewers see what the policy lets anyone
// pull, and nothing else.
func (u *UI) repositories(ctx *fasthttp.RequestCtx, v *viewer) error {
	args := ctx.QueryArgs()
	q := strings.TrimSpace(string(args.Peek("q")))
	keep := func(name string) bool {
		return strings.Contains(name, q) && v.May(string(policy.Pull), name)
	}
	infos, more, err := u.d.Registry.RepositorySearch(reqctx.Context(ctx), string(args.Peek("after")), pageSize, keep)
	if err != nil {
		return err
	}
	d := reposData{Q: q, Repos: infos}
	if more {
		d.Next = infos[len(infos)-1].Name
	}
	return u.render(ctx, fasthttp.StatusOK, "repos", "Repositories", v, d)
}

// repository serves the pages of one repository: its tags, an image, the
// delete confirmation.
func (u *UI) repository(ctx *fasthttp.RequestCtx, v *viewer) error {
	repo, rest, err := repoPath(ctx)
	if err != nil {
		return err
	}
	// Permission before existence: a viewer who may not pull learns
	// nothing about what the repository holds, or whether it exists.
	if err := v.require(policy.Pull, repo); err != nil {
		return err
	}
	switch what, ref, _ := strings.Cut(rest, "/"); {
	case rest == "":
		return u.tags(ctx, v, repo)
	case what == "manifest" && ref != "":
		return u.image(ctx, v, repo, ref)
	case rest == "delete":
		return u.confirmDelete(ctx, v, repo)
	}
	return errcode.New(errcode.NotFound, "no such page")
}

// repoPath splits the {path} of /ui/r/ into the repository and the rest.
func repoPath(ctx *fasthttp.RequestCtx) (repo, rest string, err error) {
	p, _ := ctx.UserValue("path").(string)
	repo, rest, _ = strings.Cut(p, sep)
	if err := names.Repo(repo); err != nil {
		return "", "", err
	}
	return repo, rest, nil
}

// tagRow is a tag in the repository page.
type tagRow struct {
	Name, Digest, MediaType string
	summary
	Pushed time.Time
}

// repoData is the repository page.
type repoData struct {
	Repo, Host, Q string
	Tags          []tagRow
	Next          string
}

// tags lists a page of the repository's tags starting with the filter q.
func (u *UI) tags(ctx *fasthttp.RequestCtx, v *viewer, repo string) error {
	args := ctx.QueryArgs()
	q := strings.TrimSpace(string(args.Peek("q")))
	tags, more, err := u.d.Registry.TagsWithPrefix(reqctx.Context(ctx), repo, q, string(args.Peek("after")), pageSize)
	if err != nil {
		return err
	}
	digests := make([]string, len(tags))
	for i, t := range tags {
		digests[i] = t.Digest
	}
	ms, err := u.d.Registry.Manifests(reqctx.Context(ctx), repo, digests)
	if err != nil {
		return err
	}
	configs := u.configCache(reqctx.Context(ctx), repo)
	d := repoData{Repo: repo, Host: string(ctx.Host()), Q: q}
	for _, t := range tags {
		m := ms[t.Digest]
		d.Tags = append(d.Tags, tagRow{Name: t.Name, Digest: t.Digest, MediaType: m.MediaType, summary: summarize(m, configs), Pushed: m.Created})
	}
	if more {
		d.Next = tags[len(tags)-1].Name
	}
	return u.render(ctx, fasthttp.StatusOK, "repo", repo, v, d)
}

// configCache reads image configs once per page: many tags of a
// repository share one.
func (u *UI) configCache(ctx context.Context, repo string) func(v1.Descriptor) (*v1.Image, error) {
	seen := map[digest.Digest]*v1.Image{}
	return func(d v1.Descriptor) (*v1.Image, error) {
		if img, ok := seen[d.Digest]; ok {
			return img, nil
		}
		img, err := u.imageConfig(ctx, repo, d)
		if err == nil {
			seen[d.Digest] = img
		}
		return img, err
	}
}

// imageData is the page of one manifest.
type imageData struct {
	Repo, Ref, Host string
	Info            engine.ManifestInfo
	ManifestSize    int64
	summary
	Body        *manifest.Manifest // nil when the manifest does not parse
	Malformed   string
	Config      *v1.Image
	ConfigNote  string
	Labels      []pair
	Annotations []pair
	Referrers   []referrerGroup
	Raw         string
	RawCut      bool
}

// rawMax bounds the manifest text shown on the page: a manifest may be
// 4 MiB.
const rawMax = 64 << 10

// image shows a manifest: an image's layers and config, an index's
// platforms, an artifact's parts, and the referrers and annotations of
// any of them.
func (u *UI) image(ctx *fasthttp.RequestCtx, v *viewer, repo, ref string) error {
	r, err := names.ParseReference(ref)
	if err != nil {
		return err
	}
	// GetManifest resolves a tag without walking the repository's tags
	// (ManifestInfo does, to list them).
	m, err := u.d.Registry.GetManifest(reqctx.Context(ctx), repo, r)
	if err != nil {
		return err
	}
	ms, err := u.d.Registry.Manifests(reqctx.Context(ctx), repo, []string{m.Digest.String()})
	if err != nil {
		return err
	}
	info, ok := ms[m.Digest.String()]
	if !ok { // deleted between the two reads
		return errcode.New(errcode.ManifestUnknown, "manifest %s unknown", m.Digest)
	}
	d := imageData{Repo: repo, Ref: ref, Host: string(ctx.Host()), Info: info, ManifestSize: int64(len(info.Payload))}
	d.summary = summarize(info, nil)
	d.Body = d.parsed
	if d.err != nil {
		d.Malformed = "the manifest does not parse: " + d.err.Error()
		d.Body = &manifest.Manifest{}
	}
	if d.Kind != kindIndex && d.Body.Config != nil {
		img, err := u.imageConfig(reqctx.Context(ctx), repo, *d.Body.Config)
		switch err.(type) {
		case nil:
			d.Config, d.Labels = img, pairs(img.Config.Labels)
			d.Platforms = []string{platform(img.Platform)}
		case *configError:
			d.ConfigNote = err.Error()
		default:
			return err
		}
	}
	d.Annotations = pairs(d.Body.Annotations)
	refs, err := u.d.Registry.Referrers(reqctx.Context(ctx), repo, m.Digest, "")
	if err != nil {
		return err
	}
	d.Referrers = groupReferrers(refs)
	d.Raw = string(info.Payload)
	if len(d.Raw) > rawMax {
		d.Raw, d.RawCut = strings.ToValidUTF8(d.Raw[:rawMax], ""), true
	}
	return u.render(ctx, fasthttp.StatusOK, "image", repo+"@"+shortDigest(info.Digest), v, d)
}
