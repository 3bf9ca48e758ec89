package gc

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// benchRegistry is a registry written straight into the stores (no
// engine, no hashing of content): manifests of five blobs each spread over
// 100 repositories, every blob linked and on disk, plus unreferenced
// garbage. Blob files hold a few bytes: GC never reads them.
type benchRegistry struct {
	dir   string
	store *kv.Badger
	blobs *blobstore.FS
	old   int64 // creation time of everything: past any grace period
}

func openBench(b *testing.B) *benchRegistry {
	b.Helper()
	s := enginetest.Open(b, "")
	return &benchRegistry{dir: s.Dir, store: s.KV, blobs: s.Blobs, old: time.Now().Add(-2 * time.Hour).UnixNano()}
}

func randDigest() digest.Digest {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	return digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(raw[:]))
}

// addBlobs records n blobs linked into repo and writes their files.
func (r *benchRegistry) addBlobs(b *testing.B, repo string, n int) []digest.Digest {
	b.Helper()
	ds := make([]digest.Digest, n)
	for i := range ds {
		ds[i] = randDigest()
		hx := ds[i].Encoded()
		if err := os.WriteFile(filepath.Join(r.dir, "blobs", "sha256", hx[:2], hx), []byte("12345678"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	rec := kv.BlobRecord{Size: 8, Created: r.old, LastLinked: r.old}.Encode()
	for start := 0; start < n; start += 1000 {
		batch := ds[start:min(start+1000, n)]
		err := r.store.Update(context.Background(), func(t kv.Txn) error {
			for _, d := range batch {
				for _, kvp := range [][2][]byte{
					{kv.BlobKey(d.String()), rec}, {kv.LinkKey(repo, d.String()), nil}, {kv.InverseLinkKey(d.String(), repo), nil},
				} {
					if err := t.Set(kvp[0], kvp[1]); err != nil {
						return err
					}
				}
			}
			return t.Set(kv.RepoKey(repo), kv.RepoRecord{Created: r.old}.Encode())
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return ds
}

// populate writes live manifests referencing 90% of blobs and leaves 10%
// unreferenced.
func (r *benchRegistry) populate(b *testing.B, blobs int) (manifests int) {
	b.Helper()
	const repos, perManifest = 100, 5
	live := blobs * 9 / 10
	manifests = live / perManifest
	for i := range repos {
		repo := fmt.Sprintf("bench/repo%03d", i)
		n := manifests / repos
		ds := r.addBlobs(b, repo, n*perManifest)
		err := r.store.Update(context.Background(), func(t kv.Txn) error {
			for m := range n {
				set := ds[m*perManifest : (m+1)*perManifest]
				var layers []v1.Descriptor
				for _, d := range set[1:] {
					layers = append(layers, v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip, Digest: d, Size: 8})
				}
				payload := image(v1.Descriptor{Digest: set[0], Size: 8}, layers, nil)
				md := digest.FromBytes(payload).String()
				rec := kv.ManifestRecord{MediaType: v1.MediaTypeImageManifest, Created: r.old, Payload: payload}
				if err := t.Set(kv.ManifestKey(repo, md), rec.Encode()); err != nil {
					return err
				}
				if err := t.Set(kv.TagKey(repo, fmt.Sprint("t", m)), []byte(md)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	r.addBlobs(b, "bench/garbage", blobs-manifests*perManifest)
	return manifests
}

// BenchmarkCollect measures one collection against the size of the
// registry: a dry run (mark, scan, orphan walk: what every run pays), and
// a real run that also sweeps the 10% of blobs that are garbage (recreated
// before each iteration, outside the timer).
func BenchmarkCollect(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("blobs=%d", n), func(b *testing.B) {
			r := openBench(b)
			manifests := r.populate(b, n)
			c := New(r.store, r.blobs, Offline{}, unpaced())
			garbage := true // the benchmark framework calls each sub-benchmark more than once
			b.Run("dry-run", func(b *testing.B) {
				for b.Loop() {
					rep, err := c.Run(context.Background(), RunOptions{DryRun: true})
					if err != nil || rep.Blobs != n || rep.Manifests != manifests {
						b.Fatalf("%+v %v", rep, err)
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "blobs/s")
			})
			b.Run("run", func(b *testing.B) {
				swept := 0
				for range b.N {
					if !garbage {
						b.StopTimer()
						r.addBlobs(b, "bench/garbage", n-manifests*5)
						b.StartTimer()
					}
					rep, err := c.Run(context.Background(), RunOptions{})
					garbage = false
					if err != nil || rep.Swept != n-manifests*5 {
						b.Fatalf("%+v %v", rep, err)
					}
					swept += rep.Swept
				}
				b.ReportMetric(float64(swept)/b.Elapsed().Seconds(), "swept/s")
			})
		})
	}
}

// BenchmarkPushWithGC measures pushes (three blob uploads and a manifest)
// through the engine on an on-disk store with and without collections
// running back to back in the background over a registry of 10k blobs.
func BenchmarkPushWithGC(b *testing.B) {
	for _, withGC := range []bool{false, true} {
		b.Run(fmt.Sprintf("gc=%v", withGC), func(b *testing.B) {
			r := openBench(b)
			r.populate(b, 10_000)
			reg := engine.New(r.store, r.blobs, engine.Options{})
			defer reg.Close(context.Background())
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var runs atomic.Int64
			if withGC {
				c := New(r.store, r.blobs, reg, unpaced())
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						if _, err := c.Run(ctx, RunOptions{}); err == nil {
							runs.Add(1)
						}
					}
				}()
			}
			var n atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					repo := fmt.Sprintf("push/r%d", i%8)
					var descs []v1.Descriptor
					for j := range 3 {
						data := fmt.Appendf(nil, "blob %d of push %d %d", j, i, time.Now().UnixNano())
						d := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(sha(data)))
						if err := reg.PutBlob(ctx, repo, d, bytes.NewReader(data), int64(len(data))); err != nil {
							b.Error(err)
							return
						}
						descs = append(descs, v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip, Digest: d, Size: int64(len(data))})
					}
					payload := image(descs[0], descs[1:], nil)
					if _, err := (&env{t: b, ctx: ctx, reg: reg}).push(repo, fmt.Sprint("t", i), payload); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pushes/s")
			cancel()
			wg.Wait()
			if withGC {
				b.ReportMetric(float64(runs.Load()), "gc-runs")
			}
		})
	}
}

func sha(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// unpaced is DefaultOptions measuring the work, not the pacer's sleep.
func unpaced() Options {
	o := DefaultOptions()
	o.Duty = 0
	return o
}
