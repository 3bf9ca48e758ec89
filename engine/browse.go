package engine

import (
	"cmp"
	"context"
	"errors"
	"strings"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// The browsing reads of the web UI (http/ui): like inspect.go's, but
// filtered while they scan, so that a page costs what it shows plus the
// keys it skips, never one read per repository or tag of the registry.

// RepositorySearch summarizes up to n repositories after after, in
// catalog order, that keep accepts (a name filter and the viewer's pull
// permission), and whether more may follow. It walks repository keys
// only, and summarizes just the ones it returns.
func (r *Registry) RepositorySearch(ctx context.Context, after string, n int, keep func(name string) bool) ([]RepoInfo, bool, error) {
	var infos []RepoInfo
	more := false
	err := r.kv.View(ctx, func(t kv.Reader) error {
		prefix := kv.RepoPrefix()
		var page []string
		err := t.ScanKeys(prefix, []byte(after), func(k []byte) error {
			name := kv.Suffix(k, prefix)
			if !keep(name) {
				return nil
			}
			if len(page) == n {
				more = true
				return kv.ErrStop
			}
			page = append(page, name)
			return nil
		})
		if err != nil {
			return err
		}
		for _, name := range page {
			info, err := repoInfo(t, name, func(t kv.Reader, prefix []byte) (int64, error) {
				return r.tagCount(ctx, t, name, prefix)
			})
			if err != nil {
				return err
			}
			infos = append(infos, info)
		}
		return nil
	})
	return infos, more, err
}

// tagScanMax is how many tag keys a listing counts before it takes the
// repository's cached tag list instead.
const tagScanMax = 1024

// tagCount counts repo's tags: a walk of the keys for a small repository;
// for a large one the cached tag list (TagList), built once and kept
// coherent with the repository's actor, so that a repository of 100 000
// tags does not make every listing that shows it walk them all.
func (r *Registry) tagCount(ctx context.Context, t kv.Reader, repo string, prefix []byte) (int64, error) {
	if tl := r.cachedTags(ctx, t, repo); tl != nil {
		return int64(len(tl.Tags)), nil
	}
	var n int64
	err := t.ScanKeys(prefix, nil, func([]byte) error {
		if n == tagScanMax {
			return kv.ErrStop
		}
		n++
		return nil
	})
	if err != nil || n < tagScanMax {
		return n, err
	}
	tl, err := r.TagList(ctx, repo)
	if err != nil {
		return 0, err
	}
	return int64(len(tl.Tags)), nil
}

// Storage is the part of Counts that stays cheap on a large registry
// (the status page): repositories, blobs and their bytes, open uploads.
// It does not walk the manifests and tags.
func (r *Registry) Storage(ctx context.Context) (Counts, error) { return r.counts(ctx, false) }

// TagsWithPrefix lists up to n tags of repo that start with prefix, after
// the tag after: a seek, so filtering a repository of 100 000 tags costs
// the page, not the list.
func (r *Registry) TagsWithPrefix(ctx context.Context, repo, prefix, after string, n int) ([]TagInfo, bool, error) {
	var tags []TagInfo
	var more bool
	err := r.kv.View(ctx, func(t kv.Reader) error {
		base := kv.TagPrefix(repo)
		scan := append(base[:len(base):len(base)], prefix...)
		from := ""
		switch {
		case strings.HasPrefix(after, prefix):
			// "\x00" sorts after the tag equal to prefix and before every
			// longer one: tags never contain it.
			from = cmp.Or(after[len(prefix):], "\x00")
		case after > prefix:
			return mustExist(t, repo) // after is past every tag with the prefix
		}
		var err error
		tags, more, err = scanPage(t, repo, scan, from, n, func(k, v []byte) (TagInfo, error) {
			return TagInfo{Name: kv.Suffix(k, base), Digest: string(v)}, nil
		})
		return err
	})
	return tags, more, err
}

// Manifests reads the manifests of repo with the given digests from one
// snapshot, without their tags; a digest repo does not hold is left out.
func (r *Registry) Manifests(ctx context.Context, repo string, digests []string) (map[string]ManifestInfo, error) {
	out := make(map[string]ManifestInfo, len(digests))
	err := r.kv.View(ctx, func(t kv.Reader) error {
		for _, d := range digests {
			if _, ok := out[d]; ok {
				continue
			}
			v, err := t.Get(kv.ManifestKey(repo, d))
			if errors.Is(err, kv.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			m, err := manifestInfo(d, v)
			if err != nil {
				return err
			}
			out[d] = m
		}
		return nil
	})
	return out, err
}
