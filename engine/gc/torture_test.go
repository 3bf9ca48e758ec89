package gc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// tortureDuration is how long writers and GC race: 25s by default (well
// inside a minute with the final checks, under -race on two cores), 4s
// with -short, MCR_GC_TORTURE=<duration> to soak.
func tortureDuration(t *testing.T) time.Duration {
	if s := os.Getenv("MCR_GC_TORTURE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("MCR_GC_TORTURE: %v", err)
		}
		return d
	}
	if testing.Short() {
		return 4 * time.Second
	}
	return 25 * time.Second
}

// acked is a manifest the registry acknowledged and no writer deleted.
type acked struct {
	repo    string
	digest  digest.Digest
	payload []byte
	blobs   []digest.Digest
	mu      sync.Mutex // orders this manifest's retags and deletion
	gone    atomic.Bool
}

type torture struct {
	t      *testing.T
	e      *env
	repos  []string
	tags   []string
	base   [][]byte // layers shared across images and repositories
	mu     sync.Mutex
	live   map[string]*acked // repo@digest
	delMu  sync.RWMutex      // deletions hold it shared; a checkpoint holds it exclusively
	counts struct{ pushes, retries, retags, untags, deletes, strays, gcRuns, swept, raced atomic.Int64 }
}

// TestTorture races writers that push images sharing layers across
// repositories, retag, untag and delete, against GC running in a loop with
// no grace period. At checkpoints during the run and at the end, every
// manifest the registry acknowledged and that was not deleted must be
// readable with all its blobs intact; after a final collection nothing
// unreferenced may remain. It runs on both metadata stores: the sweep's
// safety is their serializable transactions; and with the blobs in S3
// (versitygw) beside PostgreSQL. Every object the collector deletes is
// checked to have lost its record first (deleteOrder).
func TestTorture(t *testing.T) {
	t.Run("badger", func(t *testing.T) { torture1(t, envOptions{}) })
	t.Run("postgres", func(t *testing.T) { torture1(t, envOptions{postgres: true}) })
	t.Run("s3+postgres", func(t *testing.T) { torture1(t, envOptions{postgres: true, s3: true}) })
}

func torture1(t *testing.T, o envOptions) {
	run := tortureDuration(t)
	o.gc, o.realTime, o.deletes = Options{Grace: 0, Workers: 4}, true, &deleteOrder{}
	tt := &torture{
		t:     t,
		e:     newEnv(t, o),
		repos: []string{"t/a", "t/b", "t/c", "t/d"},
		tags:  []string{"latest", "stable", "v1", "v2", ""},
		live:  map[string]*acked{},
	}
	for range 6 {
		tt.base = append(tt.base, randBytes(2048))
	}
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()

	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tt.writer(ctx, rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano()))))
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			rep, err := tt.e.gc.Run(ctx, RunOptions{})
			if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("gc run: %v", err)
				return
			}
			tt.counts.gcRuns.Add(1)
			tt.counts.swept.Add(int64(rep.Swept))
			tt.counts.raced.Add(int64(rep.Raced))
		}
	}()
	checkpoints := 0
	for tick := time.NewTicker(run / 5); ; {
		select {
		case <-tick.C:
			checkpoints++
			tt.checkpoint()
			continue
		case <-ctx.Done():
		}
		tick.Stop()
		break
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	tt.checkpoint()
	// Online runs leave the files of uploads refused by a sweep while
	// they are under a minute old (placedMinAge); with nothing running,
	// the start-up cleanup takes them, as a restart would.
	if _, err := tt.e.gc.Startup(tt.e.ctx); err != nil {
		t.Fatal(err)
	}
	rep := tt.e.run(false)
	tt.checkpoint()
	tt.checkClean()
	c := &tt.counts
	t.Logf("%v: %d pushes (%d retried), %d retags, %d untags, %d deletes, %d stray blobs; %d GC runs swept %d blobs, %d kept by a racing push; %d checkpoints over %d live manifests; final run: %+v",
		run, c.pushes.Load(), c.retries.Load(), c.retags.Load(), c.untags.Load(), c.deletes.Load(), c.strays.Load(),
		c.gcRuns.Load(), c.swept.Load(), c.raced.Load(), checkpoints, len(tt.live), rep)
	if c.pushes.Load() == 0 || c.gcRuns.Load() < 2 || c.swept.Load() == 0 {
		t.Fatal("the torture did not exercise pushes and sweeps together")
	}
	deleted, violations := o.deletes.report()
	for _, v := range violations {
		t.Error(v)
	}
	if deleted == 0 {
		t.Fatal("the collector deleted no object: the order was not exercised")
	}
	t.Logf("%d objects deleted, each after its record", deleted)
}

func (tt *torture) writer(ctx context.Context, rnd *rand.Rand) {
	for ctx.Err() == nil {
		repo := tt.repos[rnd.IntN(len(tt.repos))]
		switch n := rnd.IntN(100); {
		case n < 55:
			tt.pushImage(ctx, rnd, repo)
		case n < 67:
			tt.retag(ctx, rnd, repo)
		case n < 77:
			tag := tt.tags[rnd.IntN(len(tt.tags)-1)]
			if err := tt.e.reg.DeleteManifest(ctx, repo, names.Reference{Tag: tag}); err == nil {
				tt.counts.untags.Add(1)
			}
		case n < 90:
			tt.deleteOne(ctx, rnd, repo)
		default:
			// Garbage: a blob nobody uses, sometimes unlinked at once.
			data := randBytes(300)
			d := digest.FromBytes(data)
			if tt.e.reg.PutBlob(ctx, repo, d, bytes.NewReader(data), int64(len(data))) == nil {
				tt.counts.strays.Add(1)
				if rnd.IntN(2) == 0 {
					_ = tt.e.reg.DeleteBlob(ctx, repo, d)
				}
			}
		}
	}
}

// retryable are the answers a client meets when GC wins a race: it uploads
// again and pushes again.
func retryable(err error) bool {
	switch errcode.KindOf(err) {
	case errcode.ManifestBlobUnknown, errcode.BlobUploadInvalid, errcode.TooManyRequests:
		return true
	}
	return false
}

// pushImage uploads a config, one or two shared layers (mounted from another
// repository when possible) and a layer of its own, then pushes the
// manifest, starting over while GC keeps winning.
func (tt *torture) pushImage(ctx context.Context, rnd *rand.Rand, repo string) {
	cfg := fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","n":%d}`, rnd.Uint64())
	own := randBytes(1024)
	layers := [][]byte{tt.base[rnd.IntN(len(tt.base))]}
	if rnd.IntN(2) == 0 {
		layers = append(layers, tt.base[rnd.IntN(len(tt.base))])
	}
	layers = append(layers, own)
	tag := tt.tags[rnd.IntN(len(tt.tags))]
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			tt.counts.retries.Add(1)
		}
		cd, err := tt.upload(ctx, rnd, repo, cfg)
		if err != nil {
			if retryable(err) {
				continue
			}
			tt.fail(ctx, "upload config", err)
			return
		}
		cd.MediaType = v1.MediaTypeImageConfig
		var descs []v1.Descriptor
		blobs := []digest.Digest{cd.Digest}
		for _, l := range layers {
			ld, err := tt.upload(ctx, rnd, repo, l)
			if err != nil {
				break
			}
			descs = append(descs, ld)
			blobs = append(blobs, ld.Digest)
		}
		if len(descs) != len(layers) {
			continue
		}
		payload := image(cd, descs, nil)
		md, err := tt.e.push(repo, tag, payload)
		if retryable(err) {
			continue
		}
		if err != nil {
			tt.fail(ctx, "push manifest", err)
			return
		}
		tt.counts.pushes.Add(1)
		tt.mu.Lock()
		key := repo + "@" + md.Digest.String()
		if _, ok := tt.live[key]; !ok {
			tt.live[key] = &acked{repo: repo, digest: md.Digest, payload: payload, blobs: blobs}
		}
		tt.mu.Unlock()
		return
	}
}

func (tt *torture) upload(ctx context.Context, rnd *rand.Rand, repo string, data []byte) (v1.Descriptor, error) {
	d := digest.FromBytes(data)
	desc := v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip, Digest: d, Size: int64(len(data))}
	if rnd.IntN(2) == 0 {
		// Cross-repository mount, as clients try first for shared layers.
		if ok, err := tt.e.reg.MountBlob(ctx, repo, "", d, nil); err == nil && ok {
			return desc, nil
		}
	}
	return desc, tt.e.reg.PutBlob(ctx, repo, d, bytes.NewReader(data), int64(len(data)))
}

func (tt *torture) fail(ctx context.Context, what string, err error) {
	if ctx.Err() == nil {
		tt.t.Errorf("%s: %v", what, err)
	}
}

// pick returns a random acknowledged manifest of repo, or nil.
func (tt *torture) pick(rnd *rand.Rand, repo string) *acked {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	var in []*acked
	for _, a := range tt.live {
		if a.repo == repo {
			in = append(in, a)
		}
	}
	if len(in) == 0 {
		return nil
	}
	return in[rnd.IntN(len(in))]
}

// withPicked runs fn on a random acknowledged manifest of repo, holding
// its lock, unless repo has none or the one picked is deleted meanwhile.
func (tt *torture) withPicked(rnd *rand.Rand, repo string, fn func(a *acked)) {
	a := tt.pick(rnd, repo)
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.gone.Load() {
		fn(a)
	}
}

func (tt *torture) retag(ctx context.Context, rnd *rand.Rand, repo string) {
	tt.withPicked(rnd, repo, func(a *acked) {
		_, err := tt.e.push(repo, tt.tags[rnd.IntN(len(tt.tags)-1)], a.payload)
		if err != nil {
			// A live manifest's blobs are never collected: re-pushing it must work.
			tt.fail(ctx, "retag", err)
			return
		}
		tt.counts.retags.Add(1)
	})
}

func (tt *torture) deleteOne(ctx context.Context, rnd *rand.Rand, repo string) {
	tt.withPicked(rnd, repo, func(a *acked) {
		tt.delMu.RLock()
		defer tt.delMu.RUnlock()
		if err := tt.e.reg.DeleteManifest(ctx, repo, names.Reference{Digest: a.digest}); err != nil {
			tt.fail(ctx, "delete manifest", err)
			return
		}
		a.gone.Store(true)
		tt.mu.Lock()
		delete(tt.live, repo+"@"+a.digest.String())
		tt.mu.Unlock()
		tt.counts.deletes.Add(1)
	})
}

// checkpoint verifies every acknowledged, undeleted manifest while pushes
// and GC go on (only deletions wait for it).
func (tt *torture) checkpoint() {
	tt.delMu.Lock()
	defer tt.delMu.Unlock()
	tt.mu.Lock()
	all := make([]*acked, 0, len(tt.live))
	for _, a := range tt.live {
		all = append(all, a)
	}
	tt.mu.Unlock()
	ctx := context.Background()
	for _, a := range all {
		m, err := tt.e.reg.GetManifest(ctx, a.repo, names.Reference{Digest: a.digest})
		if err != nil || !bytes.Equal(m.Payload, a.payload) {
			tt.t.Errorf("acknowledged manifest %s@%s: %v", a.repo, a.digest, err)
			continue
		}
		for _, b := range a.blobs {
			if err := tt.e.readable(a.repo, b); err != nil {
				tt.t.Errorf("blob of acknowledged manifest %s@%s: %v", a.repo, a.digest, err)
			}
		}
	}
}

// checkClean verifies, after the final collection with nothing running,
// that exactly the referenced blobs remain, each with its file, and that
// no link, tombstone or file is left over.
func (tt *torture) checkClean() {
	e := tt.e
	referenced := map[string]map[string]bool{} // digest → repos whose manifests use it
	err := e.store.View(e.ctx, func(t kv.Reader) error {
		ns := kv.ManifestNamespace()
		return t.Scan(ns, nil, func(k, v []byte) error {
			repo, _, _ := kv.SplitAt(k, ns)
			rec, err := kv.DecodeManifest(v)
			if err != nil {
				return err
			}
			refs, err := parseRefs(rec.Payload)
			refs.blobs(func(d string) {
				if referenced[d] == nil {
					referenced[d] = map[string]bool{}
				}
				referenced[d][repo] = true
			})
			return err
		})
	})
	if err != nil {
		tt.t.Fatal(err)
	}
	records := map[string]bool{}
	for _, k := range e.keys(kv.BlobPrefix()) {
		d := k[len(kv.BlobPrefix()):]
		records[d] = true
		if referenced[d] == nil {
			tt.t.Errorf("unreferenced blob %s survived the final collection", d)
		}
		if _, err := e.blobs.Stat(e.ctx, digest.Digest(d)); err != nil {
			tt.t.Errorf("record %s points at a missing file: %v", d, err)
		}
	}
	for d := range referenced {
		if !records[d] {
			tt.t.Errorf("referenced blob %s has no record", d)
		}
	}
	err = e.blobs.Walk(e.ctx, func(d digest.Digest) error {
		if !records[d.String()] {
			tt.t.Errorf("file %s has no record", d)
		}
		return nil
	})
	if err != nil {
		tt.t.Fatal(err)
	}
	for _, k := range e.keys(kv.LinkNamespace()) {
		repo, d, _ := kv.SplitAt([]byte(k), kv.LinkNamespace())
		if !referenced[d][repo] {
			tt.t.Errorf("link %s survived: no manifest of %s uses it", k, repo)
		}
	}
	if n := len(e.keys(kv.SweepPrefix())); n != 0 {
		tt.t.Errorf("%d sweep tombstones left", n)
	}
}
