package adminsvc

import (
	"context"
	"encoding/json"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/gc"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// Repositories pages through the catalog, keeping the repositories allow
// accepts (the surfaces pass "the caller may pull it", as GET
// /v2/_catalog does). A page can come back short for that reason; Next
// still says where to go on.
func (s *Service) Repositories(ctx context.Context, cursor string, n int, allow func(repo string) bool) (apiv1.RepositoryPage, error) {
	infos, more, err := s.d.Registry.RepositoryInfos(ctx, cursor, n)
	if err != nil {
		return apiv1.RepositoryPage{}, err
	}
	out := apiv1.RepositoryPage{Repositories: []apiv1.Repository{}}
	for _, info := range infos {
		if allow(info.Name) {
			out.Repositories = append(out.Repositories, repository(info))
		}
	}
	if more {
		out.Next = infos[len(infos)-1].Name
	}
	return out, nil
}

func repository(info engine.RepoInfo) apiv1.Repository {
	r := apiv1.Repository{Name: info.Name, Created: info.Created.UTC(), Tags: info.Tags, Manifests: info.Manifests, SizeBytes: info.SizeBytes}
	if !info.LastPush.IsZero() {
		t := info.LastPush.UTC()
		r.LastPush = &t
	}
	return r
}

// Repository describes one repository.
func (s *Service) Repository(ctx context.Context, repo string) (apiv1.Repository, error) {
	if err := names.Repo(repo); err != nil {
		return apiv1.Repository{}, err
	}
	info, err := s.d.Registry.RepositoryInfo(ctx, repo)
	if err != nil {
		return apiv1.Repository{}, err
	}
	return repository(info), nil
}

// DeleteRepository starts the job deleting repo and returns its status.
// With several replicas the leader runs it (gc.Collector.RepoDeletions).
func (s *Service) DeleteRepository(ctx context.Context, repo string) (apiv1.Job, error) {
	if _, err := s.Repository(ctx, repo); err != nil {
		return apiv1.Job{}, err
	}
	kind := gc.RepoDeleteJob(repo)
	if err := s.d.Jobs.Trigger(kind); err != nil {
		return apiv1.Job{}, err // jobs.ErrRunning is 409, ErrBusy 429
	}
	s.record(ctx, audit.Delete, string(policy.Admin), repo, "", "repository deletion started (job "+kind+")")
	st, _ := s.d.Jobs.Status(kind)
	return job(st), nil
}

// Tags pages through the tags of repo.
func (s *Service) Tags(ctx context.Context, repo, cursor string, n int) (apiv1.TagPage, error) {
	if err := names.Repo(repo); err != nil {
		return apiv1.TagPage{}, err
	}
	tags, more, err := s.d.Registry.TagInfos(ctx, repo, cursor, n)
	if err != nil {
		return apiv1.TagPage{}, err
	}
	out := apiv1.TagPage{Tags: docs(tags, func(t engine.TagInfo) apiv1.Tag { return apiv1.Tag{Name: t.Name, Digest: t.Digest} })}
	if more {
		out.Next = tags[len(tags)-1].Name
	}
	return out, nil
}

// Tag is one tag with the detail view of its manifest.
func (s *Service) Tag(ctx context.Context, repo, tag string) (apiv1.Tag, error) {
	if err := names.Repo(repo); err != nil {
		return apiv1.Tag{}, err
	}
	if err := names.Tag(tag); err != nil {
		return apiv1.Tag{}, err
	}
	m, err := s.manifest(ctx, repo, names.Reference{Tag: tag})
	if err != nil {
		return apiv1.Tag{}, err
	}
	return apiv1.Tag{Name: tag, Digest: m.Digest, Manifest: m}, nil
}

// Manifests pages through the manifests of repo.
func (s *Service) Manifests(ctx context.Context, repo, cursor string, n int) (apiv1.ManifestPage, error) {
	if err := names.Repo(repo); err != nil {
		return apiv1.ManifestPage{}, err
	}
	ms, more, err := s.d.Registry.ManifestInfos(ctx, repo, cursor, n)
	if err != nil {
		return apiv1.ManifestPage{}, err
	}
	out := apiv1.ManifestPage{Manifests: docs(ms, manifestSummary)}
	if more {
		out.Next = ms[len(ms)-1].Digest
	}
	return out, nil
}

// Manifest is the detail view of the manifest ref (a tag or a digest)
// names in repo.
func (s *Service) Manifest(ctx context.Context, repo, ref string) (*apiv1.Manifest, error) {
	if err := names.Repo(repo); err != nil {
		return nil, err
	}
	r, err := names.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	return s.manifest(ctx, repo, r)
}

// DeleteReference deletes a tag, or (byDigest) a manifest with its tags.
func (s *Service) DeleteReference(ctx context.Context, repo, ref string, byDigest bool) error {
	if err := names.Repo(repo); err != nil {
		return err
	}
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
	if err := s.d.Registry.DeleteManifest(ctx, repo, r); err != nil {
		return err
	}
	s.record(ctx, audit.Delete, string(policy.Delete), repo, r.Digest.String(), "reference "+ref+" (admin API)")
	return nil
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
func (s *Service) manifest(ctx context.Context, repo string, ref names.Reference) (*apiv1.Manifest, error) {
	info, err := s.d.Registry.ManifestInfo(ctx, repo, ref)
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
	refs, err := s.d.Registry.Referrers(ctx, repo, digest.Digest(info.Digest), "")
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
