package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/kv"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func newTestEngine(t testing.TB, o Options) *Registry {
	t.Helper()
	return newTestEngineOn(t, o, false)
}

// newTestEngineOn is newTestEngine with the metadata in PostgreSQL
// (pgtest) when pg is set, in Badger on disk otherwise.
func newTestEngineOn(t testing.TB, o Options, pg bool) *Registry {
	t.Helper()
	s := enginetest.Open(t, "")
	var store kv.Store = s.KV
	if pg {
		store = enginetest.Postgres(t, pgtest.Database(t), 0)
	}
	r := New(store, s.Blobs, o)
	t.Cleanup(func() {
		if err := r.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return r
}

func putBlob(t testing.TB, r *Registry, repo string, data []byte) v1.Descriptor {
	t.Helper()
	d := digest.FromBytes(data)
	if err := r.PutBlob(context.Background(), repo, d, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("put blob: %v", err)
	}
	return v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip, Digest: d, Size: int64(len(data))}
}

// pushImage uploads a config, a layer shared by every image of the test
// and one layer of its own, then returns the manifest (not pushed).
func pushImage(t testing.TB, r *Registry, repo string, shared []byte) []byte {
	t.Helper()
	own := make([]byte, 512)
	_, _ = rand.Read(own)
	cfg := putBlob(t, r, repo, []byte(fmt.Sprintf(`{"os":"linux","architecture":"amd64","n":%q}`, digest.FromBytes(own).Encoded()[:12])))
	cfg.MediaType = v1.MediaTypeImageConfig
	l1 := putBlob(t, r, repo, shared)
	l2 := putBlob(t, r, repo, own)
	return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":%q,"size":%d},{"mediaType":%q,"digest":%q,"size":%d}]}`,
		v1.MediaTypeImageManifest, cfg.MediaType, cfg.Digest, cfg.Size,
		l1.MediaType, l1.Digest, l1.Size, l2.MediaType, l2.Digest, l2.Size))
}

// TestConcurrentPushRetag hammers a few repositories with writers that push
// distinct images and keep moving the same tags, while readers pull those
// tags. Afterwards every tag must name a manifest whose blobs are all
// readable with the right digest. Run under -race.
func TestConcurrentPushRetag(t *testing.T) {
	t.Run("badger", func(t *testing.T) { concurrentPushRetag(t, []*Registry{newTestEngineOn(t, Options{}, false)}) })
	t.Run("postgres", func(t *testing.T) { concurrentPushRetag(t, []*Registry{newTestEngineOn(t, Options{}, true)}) })
	// Three replicas on one database: the actors serialize nothing
	// between them, the database's serializable transactions must.
	t.Run("postgres-replicas", func(t *testing.T) { concurrentPushRetag(t, newReplicas(t, 3)) })
}

// concurrentPushRetag runs the writers and readers spread over regs
// (replicas sharing their stores), and checks through each of them.
func concurrentPushRetag(t *testing.T, regs []*Registry) {
	ctx := context.Background()
	repos := []string{"ci/a", "ci/b", "ci/c"}
	tags := []string{"latest", "stable", "main"}
	shared := []byte("a base layer every image shares")
	const writers, rounds = 12, 8

	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds*2)
	stop := make(chan struct{})
	var acked sync.Map // repo@digest of every acknowledged push
	for w := range writers {
		wg.Go(func() {
			r := regs[w%len(regs)]
			for i := range rounds {
				repo := repos[(w+i)%len(repos)]
				m := pushImage(t, r, repo, shared)
				tag := tags[(w*rounds+i)%len(tags)]
				res, err := r.PutManifest(ctx, repo, names.Reference{Tag: tag}, v1.MediaTypeImageManifest, m, nil)
				if err != nil {
					errs <- fmt.Errorf("push %s:%s: %w", repo, tag, err)
					continue
				}
				acked.Store(repo+"@"+res.Digest.String(), true)
			}
		})
	}
	var readers sync.WaitGroup
	for i := range 4 {
		r := regs[i%len(regs)]
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, repo := range repos {
					m, err := r.GetManifest(ctx, repo, names.Reference{Tag: "latest"})
					if err != nil {
						continue // not pushed yet
					}
					if digest.FromBytes(m.Payload) != m.Digest {
						errs <- fmt.Errorf("read a torn manifest in %s", repo)
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	for _, r := range regs {
		for _, repo := range repos {
			page, err := r.Tags(ctx, repo, "", -1)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) != len(tags) {
				t.Errorf("%s has tags %v, want %v", repo, page.Items, tags)
			}
			for _, tag := range page.Items {
				verifyImage(t, r, repo, tag)
			}
		}
		acked.Range(func(k, _ any) bool {
			repo, d, _ := strings.Cut(k.(string), "@")
			if _, err := r.GetManifest(ctx, repo, names.Reference{Digest: digest.Digest(d)}); err != nil {
				t.Errorf("acknowledged push %s lost: %v", k, err)
			}
			return true
		})
	}
}

// verifyImage checks that repo:tag is a complete image: every blob it names
// is served with the right digest and size.
func verifyImage(t *testing.T, r *Registry, repo, tag string) {
	t.Helper()
	ctx := context.Background()
	m, err := r.GetManifest(ctx, repo, names.Reference{Tag: tag})
	if err != nil {
		t.Fatalf("%s:%s: %v", repo, tag, err)
	}
	for _, field := range []string{`"config":`, `"layers":`} {
		if !strings.Contains(string(m.Payload), field) {
			t.Fatalf("%s:%s is not an image manifest", repo, tag)
		}
	}
	var descs []v1.Descriptor
	var man v1.Manifest
	if err := json.Unmarshal(m.Payload, &man); err != nil {
		t.Fatal(err)
	}
	descs = append(descs, man.Config)
	descs = append(descs, man.Layers...)
	for _, d := range descs {
		f, size, err := r.OpenBlob(ctx, repo, d.Digest)
		if err != nil {
			t.Errorf("%s:%s blob %s: %v", repo, tag, d.Digest, err)
			continue
		}
		got, err := d.Digest.Algorithm().FromReader(io.LimitReader(f, size+1))
		_ = f.Close()
		if err != nil || got != d.Digest || size != d.Size {
			t.Errorf("%s:%s blob %s read back as %s (%d bytes)", repo, tag, d.Digest, got, size)
		}
	}
}

// TestHotSharedBlob pushes one image into many new repositories at once, as
// a CI fleet fanning out a base image does: every mount and manifest
// commit rewrites the same blob records. None may fail with a conflict.
func TestHotSharedBlob(t *testing.T) {
	t.Run("badger", func(t *testing.T) { hotSharedBlob(t, false) })
	t.Run("postgres", func(t *testing.T) { hotSharedBlob(t, true) })
}

func hotSharedBlob(t *testing.T, pg bool) {
	r := newTestEngineOn(t, Options{}, pg)
	ctx := context.Background()
	m := pushImage(t, r, "src/base", []byte("the base layer"))
	var man v1.Manifest
	if err := json.Unmarshal(m, &man); err != nil {
		t.Fatal(err)
	}
	blobs := append([]v1.Descriptor{man.Config}, man.Layers...)
	const repos, workers = 300, 32
	var wg sync.WaitGroup
	errs := make(chan error, repos)
	next := make(chan int, repos)
	for i := range repos {
		next <- i
	}
	close(next)
	for range workers {
		wg.Go(func() {
			for i := range next {
				pushTo(ctx, r, fmt.Sprintf("fan/out%03d", i), blobs, m, errs)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range repos {
		verifyImage(t, r, fmt.Sprintf("fan/out%03d", i), "v1")
	}
}

// pushTo mounts blobs from src/base into repo and pushes manifest m.
func pushTo(ctx context.Context, r *Registry, repo string, blobs []v1.Descriptor, m []byte, errs chan<- error) {
	for _, b := range blobs {
		ok, err := r.MountBlob(ctx, repo, "src/base", b.Digest, nil)
		if err != nil || !ok {
			errs <- fmt.Errorf("mount %s into %s: %v %v", b.Digest, repo, ok, err)
			return
		}
	}
	if _, err := r.PutManifest(ctx, repo, names.Reference{Tag: "v1"}, v1.MediaTypeImageManifest, m, nil); err != nil {
		errs <- fmt.Errorf("push %s: %w", repo, err)
	}
}
