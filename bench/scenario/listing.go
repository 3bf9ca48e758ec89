package scenario

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// TagList measures, for each size in TagCounts, fetching the whole tag
// list (following Link headers if the registry pages it anyway) and
// fetching one page of TagPage tags after a random tag. Requests are
// sequential, so the numbers are latencies, not contention.
func TagList(ctx context.Context, e *Env) *Result {
	r, start := begin(e, "tag-list")
	for _, n := range e.Cfg.TagCounts {
		repo := e.repo("tags", fmt.Sprint(n))
		if err := setupTags(ctx, e, repo, n); err != nil {
			r.fail(fmt.Sprintf("set-up %d tags", n), err)
			return end(r, start)
		}
		load := Load{Conc: 1, Duration: e.Cfg.ListDuration, MaxOps: int64(e.Cfg.ListMaxOps), MaxErrors: 1}
		name := fmt.Sprintf("full list of %d", n)
		o := Run(ctx, load, func(ctx context.Context, _ int, _ int64) error { return fullTagList(ctx, e, repo, n) })
		r.absorb(name, o)
		r.latency(name, o)

		name = fmt.Sprintf("page of %d of %d", e.Cfg.TagPage, n)
		o = Run(ctx, load, func(ctx context.Context, _ int, _ int64) error {
			k := rand.IntN(n - e.Cfg.TagPage)
			p, err := e.C.Tags(ctx, repo, e.Cfg.TagPage, tagName(k))
			if err != nil {
				return err
			}
			if len(p.Items) != e.Cfg.TagPage || p.Items[0] != tagName(k+1) || p.Items[len(p.Items)-1] != tagName(k+e.Cfg.TagPage) {
				return fmt.Errorf("tags of %s after %s: %d tags %s..; want %d from %s", repo, tagName(k), len(p.Items), first(p.Items), e.Cfg.TagPage, tagName(k+1))
			}
			return nil
		})
		r.absorb(name, o)
		r.latency(name, o)
	}
	return end(r, start)
}

func fullTagList(ctx context.Context, e *Env, repo string, n int) error {
	p, err := e.C.Tags(ctx, repo, -1, "")
	if err != nil {
		return err
	}
	tags := p.Items
	for p.Next != "" {
		if p, err = e.C.TagsAt(ctx, p.Next, repo); err != nil {
			return err
		}
		tags = append(tags, p.Items...)
	}
	if len(tags) != n {
		return fmt.Errorf("tags of %s: %d, want %d", repo, len(tags), n)
	}
	for i, t := range tags {
		if !isTagName(t, i) {
			return fmt.Errorf("tags of %s: #%d is %q, want %q (lexical order)", repo, i, t, tagName(i))
		}
	}
	return nil
}

// isTagName reports whether t == tagName(i) without formatting it: the
// check of a 100 000-tag list must not cost more than the registry's
// answer.
func isTagName(t string, i int) bool {
	const width = 6 // tagName's %06d
	if len(t) != 1+width || t[0] != 't' || i < 0 {
		return false
	}
	for k := len(t) - 1; k > 0; k-- {
		if t[k] != byte('0'+i%10) {
			return false
		}
		i /= 10
	}
	return i == 0
}

func first(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return s[0]
}

// Catalog walks /v2/_catalog in pages of TagPage from the start to the
// end, repeatedly, after creating CatalogRepos repositories. It checks the
// order is strictly increasing across pages and that every created
// repository is listed. It reports the time of a whole walk and the
// latency of a page.
func Catalog(ctx context.Context, e *Env) *Result {
	r, start := begin(e, "catalog")
	n := e.Cfg.CatalogRepos
	name := func(i int) string { return e.repo("catalog", fmt.Sprintf("r%05d", i)) }
	if err := setupRepos(ctx, e, "catalog", n, name); err != nil {
		r.fail("set-up", err)
		return end(r, start)
	}
	var mu sync.Mutex
	var pages []time.Duration
	total := 0
	walk := func(ctx context.Context, _ int, _ int64) error {
		var lat []time.Duration
		last, listed, mine := "", 0, 0
		ref := fmt.Sprintf("/v2/_catalog?n=%d", e.Cfg.TagPage)
		for ref != "" {
			t0 := time.Now()
			p, err := e.C.CatalogAt(ctx, ref)
			if err != nil {
				return err
			}
			lat = append(lat, time.Since(t0))
			for _, repo := range p.Items {
				if repo <= last {
					return fmt.Errorf("catalog: %q after %q: not strictly increasing", repo, last)
				}
				last = repo
				if strings.HasPrefix(repo, e.repo("catalog")+"/") {
					mine++
				}
			}
			listed += len(p.Items)
			if len(p.Items) > e.Cfg.TagPage {
				return fmt.Errorf("catalog: page of %d, asked for %d", len(p.Items), e.Cfg.TagPage)
			}
			ref = p.Next
		}
		if mine != n {
			return fmt.Errorf("catalog: %d of the %d set-up repositories listed", mine, n)
		}
		mu.Lock()
		pages = append(pages, lat...)
		total = listed
		mu.Unlock()
		return nil
	}
	load := Load{Conc: 1, Duration: e.Cfg.ListDuration, MaxOps: int64(e.Cfg.ListMaxOps), MaxErrors: 1, OpTimeout: e.Cfg.CatalogCap}
	o := Run(ctx, load, walk)
	c := fmt.Sprintf("walk n=%d", e.Cfg.TagPage)
	r.absorb(c, o)
	if !overCap(r, c, e.Cfg.CatalogCap, o) {
		r.add(c, "whole walk p50", "ms", ms(o.Pct(0.5)), false)
		sortDurations(pages)
		r.add(c, "page p50", "ms", ms(Percentile(pages, 0.5)), false)
		r.add(c, "page p99", "ms", ms(Percentile(pages, 0.99)), false)
		r.note("%d repositories listed per walk (%d set up by this scenario), %d walks", total, n, o.Ops)
	}

	// One page from the middle, as a client resuming a walk or a UI
	// paging asks for it: the registry must seek, not scan from the start.
	c = fmt.Sprintf("page n=%d at the middle of %d", e.Cfg.TagPage, n)
	o = Run(ctx, load, func(ctx context.Context, _ int, _ int64) error {
		p, err := e.C.Catalog(ctx, e.Cfg.TagPage, name(n/2))
		if err != nil {
			return err
		}
		if len(p.Items) == 0 || len(p.Items) > e.Cfg.TagPage || p.Items[0] != name(n/2+1) {
			return fmt.Errorf("catalog after %s: %d repositories from %s; want at most %d from %s", name(n/2), len(p.Items), first(p.Items), e.Cfg.TagPage, name(n/2+1))
		}
		return nil
	})
	r.absorb(c, o)
	if !overCap(r, c, e.Cfg.CatalogCap, o) {
		r.latency(c, o)
	}
	return end(r, start)
}

// overCap reports whether case c ran past the cap; it records that as the
// case's only metric ("over cap", the cap in seconds) and a note.
func overCap(r *Result, c string, limit time.Duration, o Outcome) bool {
	if o.TimedOut == 0 {
		return false
	}
	r.add(c, "over cap", "s", limit.Seconds(), false)
	r.note("%s: a request took longer than the cap of %s; not measured", c, limit)
	return true
}
