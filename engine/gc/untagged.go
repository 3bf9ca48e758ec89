package gc

import (
	"context"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// chunk bounds the writes of one transaction, far below Badger's
// transaction size limit, and keeps each one short.
const chunk = 256

// graph reads repository repo's tags and manifests from t and returns its
// manifests (with their subjects) and the digests its tags point at.
func graph(t kv.Reader, repo string) (map[string]node, []string, error) {
	var tagged []string
	err := t.Scan(kv.TagPrefix(repo), nil, func(_, v []byte) error {
		tagged = append(tagged, string(v))
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	nodes := map[string]node{}
	prefix := kv.ManifestPrefix(repo)
	err = t.Scan(prefix, nil, func(k, v []byte) error {
		rec, err := kv.DecodeManifest(v)
		if err != nil {
			return err
		}
		refs, err := parseRefs(rec.Payload)
		if err != nil {
			return err
		}
		nodes[kv.Suffix(k, prefix)] = node{created: rec.Created, subject: rec.Subject, children: refs.children()}
		return nil
	})
	return nodes, tagged, err
}

// deadManifests returns the manifests of repo the policy drops, with their
// subjects ("" for none).
func deadManifests(t kv.Reader, repo string, p liveRule) (map[string]string, error) {
	if !p.deleteUntagged {
		return nil, nil
	}
	nodes, tagged, err := graph(t, repo)
	if err != nil {
		return nil, err
	}
	keep := live(nodes, tagged, p)
	dead := map[string]string{}
	for d, n := range nodes {
		if !keep[d] {
			dead[d] = n.subject
		}
	}
	return dead, nil
}

func (r *run) liveRule() liveRule {
	return liveRule{deleteUntagged: r.c.o.DeleteUntagged, cutoff: r.cutoff}
}

// deleteUntagged removes the manifests the untagged policy drops. It runs
// before the mark snapshot is taken, so the mark sees exactly the
// manifests that survive and may mark every one of them: a manifest that
// became live again meanwhile (re-tagged, adopted by a new index) is
// decided on its repository's actor, where no tag or manifest of the
// repository can change under the decision.
func (r *run) deleteUntagged() error {
	if !r.c.o.DeleteUntagged {
		return nil
	}
	var todo []string
	err := r.c.kv.View(r.ctx, func(t kv.Reader) error {
		_, err := r.eachRepository(t, "untagged", func(repo string) error {
			dead, err := deadManifests(t, repo, r.liveRule())
			if err != nil {
				return err
			}
			if len(dead) > 0 {
				todo = append(todo, repo)
				if r.dry {
					r.rep.UntaggedManifests += len(dead)
				}
			}
			return nil
		})
		return err
	})
	if err != nil || r.dry {
		return err
	}
	for _, repo := range todo {
		_, err := r.exclusive(repo, func(ctx context.Context) error {
			dead, err := kv.Read(ctx, r.c.kv, func(t kv.Reader) (map[string]string, error) {
				return deadManifests(t, repo, r.liveRule())
			})
			if err != nil {
				return err
			}
			return r.removeManifests(ctx, repo, dead)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// removeManifests deletes manifests of repo (digest → subject), with their
// referrer entries, in chunks. It runs on repo's actor.
func (r *run) removeManifests(ctx context.Context, repo string, dead map[string]string) error {
	batch := make([]string, 0, chunk)
	flush := func() error {
		n := 0
		err := r.c.kv.Update(ctx, func(t kv.Txn) error {
			n = 0
			for _, d := range batch {
				ok, err := t.Has(kv.ManifestKey(repo, d))
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				if err := t.Delete(kv.ManifestKey(repo, d)); err != nil {
					return err
				}
				if s := dead[d]; s != "" {
					if err := t.Delete(kv.ReferrerKey(repo, s, d)); err != nil {
						return err
					}
				}
				n++
			}
			return nil
		})
		if err == nil {
			r.count(func(rep *Report) { rep.UntaggedManifests += n })
		}
		batch = batch[:0]
		return err
	}
	for d := range dead {
		batch = append(batch, d)
		if len(batch) == chunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(batch) > 0 {
		return flush()
	}
	return nil
}
