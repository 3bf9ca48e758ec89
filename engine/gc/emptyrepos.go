package gc

import (
	"context"
	"errors"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// repositories removes repositories left with nothing in them (no
// manifest, tag or link) and older than the grace period, and gives a
// record back to a repository that has content but lost its record (an
// upload can link a blob into a repository in the instant it is removed).
func (r *run) repositories() error {
	type verdict struct {
		repo    string
		restore bool
	}
	var todo []verdict
	err := r.c.kv.View(r.ctx, func(t kv.Reader) error {
		_, err := r.eachRepository(t, "repositories", func(repo string) error {
			empty, created, known, err := repoState(t, repo)
			if err != nil {
				return err
			}
			switch {
			case known && empty && created < r.cutoff:
				todo = append(todo, verdict{repo, false})
			case !known && !empty:
				todo = append(todo, verdict{repo, true})
			}
			return nil
		})
		return err
	})
	if err != nil {
		return err
	}
	for i, v := range todo {
		r.report(int64(i), int64(len(todo)), "repositories")
		if r.dry {
			r.count(func(rep *Report) {
				if v.restore {
					rep.RestoredRepos++
				} else {
					rep.EmptyRepositories++
				}
			})
			continue
		}
		changed := false
		_, err := r.exclusive(v.repo, func(ctx context.Context) error {
			return r.c.kv.Update(ctx, func(t kv.Txn) error {
				changed = false
				empty, created, known, err := repoState(t, v.repo)
				if err != nil {
					return err
				}
				switch {
				case !v.restore && known && empty && created < r.cutoff:
					changed = true
					return t.Delete(kv.RepoKey(v.repo))
				case v.restore && !known && !empty:
					changed = true
					return t.Set(kv.RepoKey(v.repo), kv.RepoRecord{Created: r.c.o.Now().UnixNano()}.Encode())
				}
				return nil
			})
		})
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		if changed {
			r.count(func(rep *Report) {
				if v.restore {
					rep.RestoredRepos++
				} else {
					rep.EmptyRepositories++
				}
			})
		}
	}
	return nil
}

// repoState reports whether repo holds no manifest, tag or link, when its
// record was created, and whether it has one. Referrer entries exist only
// alongside their manifest, so manifests stand for them.
func repoState(t kv.Reader, repo string) (empty bool, created int64, known bool, err error) {
	rec, err := kv.GetRecord(t, kv.RepoKey(repo), kv.DecodeRepo)
	switch {
	case errors.Is(err, kv.ErrNotFound):
	case err != nil:
		return false, 0, false, err
	default:
		known, created = true, rec.Created
	}
	for _, p := range [][]byte{kv.ManifestPrefix(repo), kv.TagPrefix(repo), kv.LinkPrefix(repo)} {
		some, err := hasAny(t, p)
		if err != nil || some {
			return false, created, known, err
		}
	}
	return true, created, known, nil
}
