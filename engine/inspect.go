package engine

import (
	"context"
	"errors"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// The operator's view of the registry (the admin API): what a repository
// holds and weighs, its tags with their targets, its manifests with their
// tags. Each call reads one snapshot, like the distribution reads, and
// writes nothing.

// RepoInfo summarizes a repository.
type RepoInfo struct {
	Name      string
	Created   time.Time
	Tags      int64
	Manifests int64
	// SizeBytes adds up the blobs the repository links, each once.
	SizeBytes int64
	// LastPush is the newest manifest's time; zero when it has none.
	LastPush time.Time
}

// TagInfo is a tag and the manifest it points at.
type TagInfo struct {
	Name   string
	Digest string
}

// ManifestInfo is a stored manifest with its metadata and tags.
type ManifestInfo struct {
	Digest       string
	MediaType    string
	ArtifactType string
	Subject      string
	Created      time.Time
	Payload      []byte
	Tags         []string
}

// Counts are the registry's totals.
type Counts struct {
	Repositories, Manifests, Tags, Blobs int64
	BlobBytes                            int64
	// Uploads are the open upload sessions.
	Uploads int64
}

// RepositoryInfo summarizes repo.
func (r *Registry) RepositoryInfo(ctx context.Context, repo string) (RepoInfo, error) {
	return kv.Read(ctx, r.kv, func(t kv.Reader) (RepoInfo, error) { return repoInfo(t, repo, countKeys) })
}

// RepositoryInfos summarizes a page of repositories in catalog order.
func (r *Registry) RepositoryInfos(ctx context.Context, after string, n int) ([]RepoInfo, bool, error) {
	var infos []RepoInfo
	var more bool
	err := r.kv.View(ctx, func(t kv.Reader) error {
		p, err := list(t, kv.RepoPrefix(), after, n)
		if err != nil {
			return err
		}
		more = p.More
		for _, name := range p.Items {
			info, err := repoInfo(t, name, countKeys)
			if err != nil {
				return err
			}
			infos = append(infos, info)
		}
		return nil
	})
	return infos, more, err
}

// repoInfo summarizes repo from t; countTags counts the keys under its
// tag prefix (a walk, or a cached list: see RepositorySearch).
func repoInfo(t kv.Reader, repo string, countTags func(t kv.Reader, prefix []byte) (int64, error)) (RepoInfo, error) {
	rec, err := kv.GetRecord(t, kv.RepoKey(repo), kv.DecodeRepo)
	if errors.Is(err, kv.ErrNotFound) {
		return RepoInfo{}, nameUnknown(repo)
	}
	if err != nil {
		return RepoInfo{}, err
	}
	info := RepoInfo{Name: repo, Created: time.Unix(0, rec.Created)}
	if info.Tags, err = countTags(t, kv.TagPrefix(repo)); err != nil {
		return info, err
	}
	var last int64
	err = t.Scan(kv.ManifestPrefix(repo), nil, func(_, v []byte) error {
		m, err := kv.DecodeManifest(v)
		if err != nil {
			return err
		}
		info.Manifests++
		last = max(last, m.Created)
		return nil
	})
	if err != nil {
		return info, err
	}
	if last > 0 {
		info.LastPush = time.Unix(0, last)
	}
	prefix := kv.LinkPrefix(repo)
	err = t.ScanKeys(prefix, nil, func(k []byte) error {
		b, err := kv.GetRecord(t, kv.BlobKey(kv.Suffix(k, prefix)), kv.DecodeBlob)
		if errors.Is(err, kv.ErrNotFound) {
			return nil // a dangling link GC has yet to clean
		}
		info.SizeBytes += b.Size
		return err
	})
	return info, err
}

func countKeys(t kv.Reader, prefix []byte) (int64, error) {
	var n int64
	err := t.ScanKeys(prefix, nil, func([]byte) error { n++; return nil })
	return n, err
}

// TagInfos lists a page of repo's tags with their digests.
func (r *Registry) TagInfos(ctx context.Context, repo, after string, n int) ([]TagInfo, bool, error) {
	var tags []TagInfo
	var more bool
	err := r.kv.View(ctx, func(t kv.Reader) error {
		prefix := kv.TagPrefix(repo)
		var err error
		tags, more, err = scanPage(t, repo, prefix, after, n, func(k, v []byte) (TagInfo, error) {
			return TagInfo{Name: kv.Suffix(k, prefix), Digest: string(v)}, nil
		})
		return err
	})
	return tags, more, err
}

// ManifestInfos lists a page of repo's manifests in digest order, each
// with the tags that point at it.
func (r *Registry) ManifestInfos(ctx context.Context, repo, after string, n int) ([]ManifestInfo, bool, error) {
	var ms []ManifestInfo
	var more bool
	err := r.kv.View(ctx, func(t kv.Reader) error {
		prefix := kv.ManifestPrefix(repo)
		var err error
		ms, more, err = scanPage(t, repo, prefix, after, n, func(k, v []byte) (ManifestInfo, error) {
			return manifestInfo(kv.Suffix(k, prefix), v)
		})
		if err != nil || len(ms) == 0 {
			return err
		}
		return addTags(t, repo, ms)
	})
	return ms, more, err
}

// scanPage reads up to n entries of repo under prefix after the key
// suffix after, and whether more follow; NAME_UNKNOWN when repo does not
// exist.
func scanPage[T any](t kv.Reader, repo string, prefix []byte, after string, n int, item func(k, v []byte) (T, error)) ([]T, bool, error) {
	if err := mustExist(t, repo); err != nil {
		return nil, false, err
	}
	var out []T
	more := false
	err := t.Scan(prefix, []byte(after), func(k, v []byte) error {
		if len(out) == n {
			more = true
			return kv.ErrStop
		}
		x, err := item(k, v)
		out = append(out, x)
		return err
	})
	return out, more, err
}

// ManifestInfo resolves ref (a tag or a digest) in repo.
func (r *Registry) ManifestInfo(ctx context.Context, repo string, ref names.Reference) (ManifestInfo, error) {
	var m ManifestInfo
	err := r.kv.View(ctx, func(t kv.Reader) error {
		d := ref.Digest.String()
		if !ref.IsDigest() {
			v, err := t.Get(kv.TagKey(repo, ref.Tag))
			if err != nil {
				return r.unknown(t, repo, err, errcode.New(errcode.ManifestUnknown, "tag %s unknown", ref.Tag).WithDetail(map[string]string{"tag": ref.Tag}))
			}
			d = string(v)
		}
		v, err := t.Get(kv.ManifestKey(repo, d))
		if err != nil {
			return r.unknown(t, repo, err, errcode.New(errcode.ManifestUnknown, "manifest %s unknown", d).WithDetail(map[string]string{"digest": d}))
		}
		if m, err = manifestInfo(d, v); err != nil {
			return err
		}
		ms := []ManifestInfo{m}
		err = addTags(t, repo, ms)
		m = ms[0]
		return err
	})
	return m, err
}

func manifestInfo(d string, v []byte) (ManifestInfo, error) {
	rec, err := kv.DecodeManifest(v)
	return ManifestInfo{
		Digest: d, MediaType: rec.MediaType, ArtifactType: rec.ArtifactType, Subject: rec.Subject,
		Created: time.Unix(0, rec.Created), Payload: rec.Payload, Tags: []string{},
	}, err
}

// addTags fills in the tags of ms, walking the repository's tags once (no
// reverse index is kept: see untag).
func addTags(t kv.Reader, repo string, ms []ManifestInfo) error {
	at := make(map[string]int, len(ms))
	for i, m := range ms {
		at[m.Digest] = i
	}
	prefix := kv.TagPrefix(repo)
	return t.Scan(prefix, nil, func(k, v []byte) error {
		if i, ok := at[string(v)]; ok {
			ms[i].Tags = append(ms[i].Tags, kv.Suffix(k, prefix))
		}
		return nil
	})
}

// Counts totals the registry's contents from one snapshot. It walks every
// key of the counted namespaces: meant for an operator's status call, not
// for a hot path.
func (r *Registry) Counts(ctx context.Context) (Counts, error) {
	return r.counts(ctx, true)
}

// counts reads the totals; the manifests and tags, the expensive part on
// a large registry, only when all.
func (r *Registry) counts(ctx context.Context, all bool) (Counts, error) {
	var c Counts
	err := r.kv.View(ctx, func(t kv.Reader) error {
		var err error
		if c.Repositories, err = countKeys(t, kv.RepoPrefix()); err != nil {
			return err
		}
		if all {
			if c.Manifests, err = countKeys(t, kv.ManifestNamespace()); err != nil {
				return err
			}
			if c.Tags, err = countKeys(t, kv.TagNamespace()); err != nil {
				return err
			}
		}
		if c.Uploads, err = countKeys(t, kv.UploadPrefix()); err != nil {
			return err
		}
		return t.Scan(kv.BlobPrefix(), nil, func(_, v []byte) error {
			b, err := kv.DecodeBlob(v)
			c.Blobs++
			c.BlobBytes += b.Size
			return err
		})
	})
	return c, err
}
