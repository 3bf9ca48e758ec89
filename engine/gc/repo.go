package gc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// RepoDeletion is what DeleteRepository removed.
type RepoDeletion struct {
	Repository string `json:"repository"`
	Manifests  int    `json:"manifests"`
	Tags       int    `json:"tags"`
	Links      int    `json:"links"`
}

// DeleteRepository removes repository repo: its manifests, tags, referrer
// entries, blob links and record, in bounded transactions on the
// repository's actor. The blobs themselves are left to the next
// collection, which removes those no other repository uses. Pushes queued
// behind it recreate the repository.
func (c *Collector) DeleteRepository(ctx context.Context, repo string) (*RepoDeletion, error) {
	res := &RepoDeletion{Repository: repo}
	err := c.repos.Exclusive(ctx, repo, func(ctx context.Context) error {
		known, err := kv.Read(ctx, c.kv, func(t kv.Reader) (bool, error) { return t.Has(kv.RepoKey(repo)) })
		if err != nil {
			return err
		}
		for {
			n, err := c.deleteSome(ctx, repo, res)
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
		}
		if !known && res.Manifests+res.Tags+res.Links == 0 {
			return errNoRepo
		}
		return c.kv.Update(ctx, func(t kv.Txn) error { return t.Delete(kv.RepoKey(repo)) })
	})
	if errors.Is(err, errNoRepo) {
		return res, fmt.Errorf("gc: repository %s does not exist", repo)
	}
	return res, err
}

var errNoRepo = errors.New("gc: no such repository")

// deleteSome deletes up to chunk keys of repo in one transaction and
// returns how many it deleted: tags first, then manifests with their
// referrer entries, then links with their inverse entries.
func (c *Collector) deleteSome(ctx context.Context, repo string, res *RepoDeletion) (int, error) {
	var tags, manifests, links int
	err := c.kv.Update(ctx, func(t kv.Txn) error {
		tags, manifests, links = 0, 0, 0
		// deleteUnder deletes up to chunk keys under prefix, each with
		// the entry also names beside it (nil: none), and says how many
		// it deleted.
		deleteUnder := func(prefix []byte, also func(k []byte) ([]byte, error)) (int, error) {
			var keys [][]byte
			err := t.ScanKeys(prefix, nil, func(k []byte) error {
				if len(keys) == chunk {
					return kv.ErrStop
				}
				keys = append(keys, append([]byte(nil), k...))
				return nil
			})
			if err != nil {
				return 0, err
			}
			for _, k := range keys {
				if also != nil {
					other, err := also(k)
					if err != nil {
						return 0, err
					}
					if other != nil {
						if err := t.Delete(other); err != nil {
							return 0, err
						}
					}
				}
				if err := t.Delete(k); err != nil {
					return 0, err
				}
			}
			return len(keys), nil
		}
		var err error
		if tags, err = deleteUnder(kv.TagPrefix(repo), nil); err != nil || tags > 0 {
			return err
		}
		mprefix := kv.ManifestPrefix(repo)
		manifests, err = deleteUnder(mprefix, func(k []byte) ([]byte, error) {
			rec, err := kv.GetRecord(t, k, kv.DecodeManifest)
			if err != nil || rec.Subject == "" {
				return nil, err
			}
			return kv.ReferrerKey(repo, rec.Subject, kv.Suffix(k, mprefix)), nil
		})
		if err != nil || manifests > 0 {
			return err
		}
		lprefix := kv.LinkPrefix(repo)
		links, err = deleteUnder(lprefix, func(k []byte) ([]byte, error) {
			return kv.InverseLinkKey(kv.Suffix(k, lprefix), repo), nil
		})
		return err
	})
	res.Tags += tags
	res.Manifests += manifests
	res.Links += links
	return tags + manifests + links, err
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
