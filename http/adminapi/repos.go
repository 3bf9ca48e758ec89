package adminapi

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

func (a *API) status(ctx *fasthttp.RequestCtx) error {
	c, err := a.d.Registry.Counts(reqctx.Context(ctx))
	if err != nil {
		return err
	}
	st := apiv1.Status{
		Version: a.d.Version, Started: a.d.Started.UTC(), UptimeSeconds: time.Since(a.d.Started).Seconds(),
		Storage:      apiv1.Storage{BlobBytes: c.BlobBytes},
		Repositories: c.Repositories, Manifests: c.Manifests, Tags: c.Tags, Blobs: c.Blobs, UploadsActive: c.Uploads,
		Jobs: jobList(a.d.Jobs.Statuses()),
	}
	if a.d.MetadataBytes != nil {
		st.Storage.MetadataBytes = a.d.MetadataBytes()
	}
	up, err := a.d.Registry.UploadTotals(reqctx.Context(ctx))
	if err != nil {
		return err
	}
	st.Storage.StagingFiles, st.Storage.StagingBytes = up.StagingFiles, up.StagingBytes
	if a.d.Disk != nil {
		fss, err := a.d.Disk()
		if err != nil {
			return err
		}
		for _, fs := range fss {
			st.Storage.Filesystems = append(st.Storage.Filesystems, apiv1.Filesystem{
				Names: fs.Names, Path: fs.Path,
				SizeBytes: fs.TotalBytes, FreeBytes: fs.FreeBytes, FloorBytes: fs.FloorBytes,
				Inodes: fs.TotalInodes, FreeInodes: fs.FreeInodes, FloorInodes: fs.FloorInodes,
				ReserveBytes: fs.ReserveBytes, ReserveSize: fs.ReserveSize,
				BelowFloor: fs.Below(0), Reason: fs.Reason(),
			})
		}
	}
	return writeJSON(ctx, fasthttp.StatusOK, st)
}

// listRepositories pages through the catalog, leaving out the
// repositories the caller may not pull (as GET /v2/_catalog does). A page
// can come back short for that reason; "next" still says where to go on.
func (a *API) listRepositories(ctx *fasthttp.RequestCtx) error {
	if err := a.authorize(ctx, policy.Catalog, ""); err != nil {
		return err
	}
	n, cursor, err := page(ctx)
	if err != nil {
		return err
	}
	infos, more, err := a.d.Registry.RepositoryInfos(reqctx.Context(ctx), cursor, n)
	if err != nil {
		return err
	}
	out := apiv1.RepositoryPage{Repositories: []apiv1.Repository{}}
	for _, info := range infos {
		if a.allowed(ctx, policy.Pull, info.Name) {
			out.Repositories = append(out.Repositories, repository(info))
		}
	}
	if more {
		out.Next = infos[len(infos)-1].Name
	}
	return writeJSON(ctx, fasthttp.StatusOK, out)
}

func repository(info engine.RepoInfo) apiv1.Repository {
	r := apiv1.Repository{Name: info.Name, Created: info.Created.UTC(), Tags: info.Tags, Manifests: info.Manifests, SizeBytes: info.SizeBytes}
	if !info.LastPush.IsZero() {
		t := info.LastPush.UTC()
		r.LastPush = &t
	}
	return r
}

// repoRoute is a request under /repositories/{name}: the repository, and
// what of it (rest: "", "tags", "tags/<tag>", "manifests",
// "manifests/<digest>").
type repoRoute struct {
	repo, rest string
}

func parseRepoPath(path string) (repoRoute, error) {
	name, rest, _ := strings.Cut(path, apiv1.Sep)
	if err := names.Repo(name); err != nil {
		return repoRoute{}, err
	}
	return repoRoute{repo: name, rest: rest}, nil
}

// repository dispatches the routes of one repository. The action depends
// on what is asked: reading is pull, deleting a tag or manifest is
// delete, deleting the whole repository is admin.
func (a *API) repository(ctx *fasthttp.RequestCtx) error {
	rt, err := parseRepoPath(ctx.UserValue("path").(string))
	if err != nil {
		return err
	}
	del := ctx.IsDelete()
	what, ref, _ := strings.Cut(rt.rest, "/")
	var act policy.Action
	var h handler
	switch {
	case what == "" && del:
		act, h = policy.Admin, func(ctx *fasthttp.RequestCtx) error { return a.deleteRepository(ctx, rt.repo) }
	case what == "":
		act, h = policy.Pull, func(ctx *fasthttp.RequestCtx) error { return a.showRepository(ctx, rt.repo) }
	case what == "tags" && ref == "" && !del:
		act, h = policy.Pull, func(ctx *fasthttp.RequestCtx) error { return a.listTags(ctx, rt.repo) }
	case what == "tags" && ref != "":
		act, h = policy.Pull, func(ctx *fasthttp.RequestCtx) error { return a.showTag(ctx, rt.repo, ref) }
		if del {
			act, h = policy.Delete, func(ctx *fasthttp.RequestCtx) error { return a.deleteRef(ctx, rt.repo, ref, false) }
		}
	case what == "manifests" && ref == "" && !del:
		act, h = policy.Pull, func(ctx *fasthttp.RequestCtx) error { return a.listManifests(ctx, rt.repo) }
	case what == "manifests" && ref != "":
		act, h = policy.Pull, func(ctx *fasthttp.RequestCtx) error { return a.showManifest(ctx, rt.repo, ref) }
		if del {
			act, h = policy.Delete, func(ctx *fasthttp.RequestCtx) error { return a.deleteRef(ctx, rt.repo, ref, true) }
		}
	case what == "tags" || what == "manifests":
		return errcode.New(errcode.Unsupported, "method %s not allowed here", ctx.Method())
	default:
		return errcode.New(errcode.NotFound, "no such endpoint %s", ctx.Path())
	}
	if err := a.authorize(ctx, act, rt.repo); err != nil {
		return err
	}
	return h(ctx)
}

func (a *API) showRepository(ctx *fasthttp.RequestCtx, repo string) error {
	info, err := a.d.Registry.RepositoryInfo(reqctx.Context(ctx), repo)
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusOK, repository(info))
}

// RepoDeleteJob is the job kind deleting repo.
func RepoDeleteJob(repo string) string { return "repo-delete:" + repo }

func (a *API) deleteRepository(ctx *fasthttp.RequestCtx, repo string) error {
	if _, err := a.d.Registry.RepositoryInfo(reqctx.Context(ctx), repo); err != nil {
		return err
	}
	kind := RepoDeleteJob(repo)
	if err := a.d.Jobs.Submit(kind, a.d.GC.DeleteRepositoryJob(repo)); err != nil {
		return jobError(err, kind)
	}
	a.record(ctx, audit.Delete, string(policy.Admin), repo, "", "repository deletion started (job "+kind+")")
	st, _ := a.d.Jobs.Status(kind)
	return writeJSON(ctx, fasthttp.StatusAccepted, job(st))
}

func (a *API) listTags(ctx *fasthttp.RequestCtx, repo string) error {
	n, cursor, err := page(ctx)
	if err != nil {
		return err
	}
	tags, more, err := a.d.Registry.TagInfos(reqctx.Context(ctx), repo, cursor, n)
	if err != nil {
		return err
	}
	out := apiv1.TagPage{Tags: make([]apiv1.Tag, len(tags))}
	for i, t := range tags {
		out.Tags[i] = apiv1.Tag{Name: t.Name, Digest: t.Digest}
	}
	if more {
		out.Next = tags[len(tags)-1].Name
	}
	return writeJSON(ctx, fasthttp.StatusOK, out)
}

func (a *API) showTag(ctx *fasthttp.RequestCtx, repo, tag string) error {
	if err := names.Tag(tag); err != nil {
		return err
	}
	m, err := a.manifest(ctx, repo, names.Reference{Tag: tag})
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusOK, apiv1.Tag{Name: tag, Digest: m.Digest, Manifest: m})
}

func (a *API) listManifests(ctx *fasthttp.RequestCtx, repo string) error {
	n, cursor, err := page(ctx)
	if err != nil {
		return err
	}
	ms, more, err := a.d.Registry.ManifestInfos(reqctx.Context(ctx), repo, cursor, n)
	if err != nil {
		return err
	}
	out := apiv1.ManifestPage{Manifests: make([]apiv1.Manifest, len(ms))}
	for i, m := range ms {
		out.Manifests[i] = manifestSummary(m)
	}
	if more {
		out.Next = ms[len(ms)-1].Digest
	}
	return writeJSON(ctx, fasthttp.StatusOK, out)
}

func (a *API) showManifest(ctx *fasthttp.RequestCtx, repo, ref string) error {
	r, err := names.ParseReference(ref)
	if err != nil {
		return err
	}
	m, err := a.manifest(ctx, repo, r)
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusOK, m)
}

// deleteRef deletes a tag, or (byDigest) a manifest with its tags.
func (a *API) deleteRef(ctx *fasthttp.RequestCtx, repo, ref string, byDigest bool) error {
	var r names.Reference
	if byDigest {
		d, err := names.Digest(ref)
		if err != nil {
			return err
		}
		r.Digest = d
	} else {
		if err := names.Tag(ref); err != nil {
			return err
		}
		r.Tag = ref
	}
	if err := a.d.Registry.DeleteManifest(reqctx.Context(ctx), repo, r); err != nil {
		return err
	}
	a.record(ctx, audit.Delete, string(policy.Delete), repo, r.Digest.String(), "reference "+ref+" (admin API)")
	return noContent(ctx)
}

func manifestSummary(m engine.ManifestInfo) apiv1.Manifest {
	return apiv1.Manifest{
		Digest: m.Digest, MediaType: m.MediaType, ArtifactType: m.ArtifactType,
		Size: int64(len(m.Payload)), Created: m.Created.UTC(), Tags: m.Tags,
	}
}

// manifestBody is what the detail view reads of a stored manifest: the
// fields of an image manifest and of an index (OCI and Docker alike).
type manifestBody struct {
	Config    *apiv1.Descriptor  `json:"config"`
	Layers    []apiv1.Descriptor `json:"layers"`
	Manifests []struct {
		Digest   string          `json:"digest"`
		Platform *apiv1.Platform `json:"platform"`
	} `json:"manifests"`
}

// manifest is the detail view of ref in repo: summary, parsed parts and
// referrers.
func (a *API) manifest(ctx *fasthttp.RequestCtx, repo string, ref names.Reference) (*apiv1.Manifest, error) {
	info, err := a.d.Registry.ManifestInfo(reqctx.Context(ctx), repo, ref)
	if err != nil {
		return nil, err
	}
	m := manifestSummary(info)
	m.Subject, m.Raw = info.Subject, info.Payload
	var body manifestBody
	if err := json.Unmarshal(info.Payload, &body); err == nil { // stored manifests were validated; be lenient anyway
		m.Config, m.Layers = body.Config, body.Layers
		for _, pm := range body.Manifests {
			m.Platforms = append(m.Platforms, apiv1.PlatformManifest{Digest: pm.Digest, Platform: pm.Platform})
		}
	}
	refs, err := a.d.Registry.Referrers(reqctx.Context(ctx), repo, digest.Digest(info.Digest), "")
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		m.Referrers = append(m.Referrers, apiv1.Descriptor{
			MediaType: r.MediaType, ArtifactType: r.ArtifactType, Digest: r.Digest.String(), Size: r.Size, Annotations: r.Annotations,
		})
	}
	return &m, nil
}
