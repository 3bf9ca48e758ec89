package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// BenchmarkTags lists 10 000 tags, whole and a page of 100 from the middle:
// the work behind GET /v2/<name>/tags/list without HTTP.
func BenchmarkTags(b *testing.B) {
	r := newTestEngine(b, Options{})
	ctx := context.Background()
	m := pushImage(b, r, "bench/tags", []byte("shared"))
	const n = 10000
	tags := make([]string, n-1)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%05d", i+1)
	}
	// One commit with every tag (?tag= parameters): the set-up stays fast.
	if _, err := r.PutManifest(ctx, "bench/tags", names.Reference{Tag: "t00000"}, v1.MediaTypeImageManifest, m, tags); err != nil {
		b.Fatal(err)
	}
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := r.Tags(ctx, "bench/tags", "", -1)
			if err != nil || len(p.Items) != n {
				b.Fatalf("%d tags, %v", len(p.Items), err)
			}
		}
	})
	b.Run("full-uncached", func(b *testing.B) {
		// The first listing after a mutation: the scan and the encoding.
		b.ReportAllocs()
		for b.Loop() {
			r.tags.invalidate("bench/tags")
			tl, err := r.TagList(ctx, "bench/tags")
			if err != nil || len(tl.Tags) != n {
				b.Fatalf("%v", err)
			}
		}
	})
	b.Run("page100", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := r.Tags(ctx, "bench/tags", "t05000", 100)
			if err != nil || len(p.Items) != 100 {
				b.Fatalf("%d tags, %v", len(p.Items), err)
			}
		}
	})
}

// BenchmarkGetManifest resolves a tag and reads its manifest.
func BenchmarkGetManifest(b *testing.B) {
	r := newTestEngine(b, Options{})
	ctx := context.Background()
	m := pushImage(b, r, "bench/get", []byte("shared"))
	if _, err := r.PutManifest(ctx, "bench/get", names.Reference{Tag: "v1"}, v1.MediaTypeImageManifest, m, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.GetManifest(ctx, "bench/get", names.Reference{Tag: "v1"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerifyDigest is digest verification of an upload as the engine
// does it: copy the body through the pooled buffer into the staging
// writer while hashing it, then compare the running digest with the one
// the client claimed. The sizes are push-image's layer range.
func BenchmarkVerifyDigest(b *testing.B) {
	for _, size := range []int{16 << 10, 512 << 10, 4 << 20} {
		data := bytes.Repeat([]byte{0x5a, 0xa5, 0x3c}, size/3+1)[:size]
		want := digest.FromBytes(data)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				h := want.Algorithm().Hash()
				if _, err := copyHashed(io.Discard, bytes.NewReader(data), int64(size), h); err != nil {
					b.Fatal(err)
				}
				if got := digest.NewDigest(want.Algorithm(), h); got != want {
					b.Fatalf("digest %s, want %s", got, want)
				}
			}
		})
	}
}

// BenchmarkPushImage pushes a brand-new image per iteration into an
// on-disk store, as the push-image scenario does minus HTTP: four layers
// and a config (monolithic PutBlob: staging file, fsync, rename, directory
// fsync, synced commit) and a tagged manifest (a synced commit on the
// repository's actor). Run it with -cpuprofile to see the CPU per image.
func BenchmarkPushImage(b *testing.B) {
	benchPushImages(b, newTestEngine(b, Options{}), false)
}

// benchPushImages pushes a new image per op (five blobs of 4–64 KiB and a
// tagged manifest) into 8 repositories from 4×GOMAXPROCS pushers, like
// push-image at c=8–16. viaSession uploads each blob as most clients do,
// POST (StartUpload) then PUT (FinishUpload), instead of PutBlob.
func benchPushImages(b *testing.B, r *Registry, viaSession bool) {
	ctx := context.Background()
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		layer := make([]byte, 64<<10)
		for pb.Next() {
			i := seq.Add(1)
			repo := fmt.Sprintf("bench/push%d", i%8)
			var descs [5]v1.Descriptor
			for j := range descs {
				binary.LittleEndian.PutUint64(layer, uint64(i))
				layer[8] = byte(j)
				n := len(layer) >> j // 64, 32, 16, 8, 4 KiB
				d := digest.FromBytes(layer[:n])
				if err := putBenchBlob(ctx, r, repo, d, layer[:n], viaSession); err != nil {
					b.Fatal(err)
				}
				descs[j] = v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: d, Size: int64(n)}
			}
			m := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[`,
				v1.MediaTypeImageManifest, v1.MediaTypeImageConfig, descs[4].Digest, descs[4].Size)
			for j, d := range descs[:4] {
				if j > 0 {
					m = append(m, ',')
				}
				m = fmt.Appendf(m, `{"mediaType":%q,"digest":%q,"size":%d}`, d.MediaType, d.Digest, d.Size)
			}
			m = append(m, "]}"...)
			if _, err := r.PutManifest(ctx, repo, names.Reference{Tag: fmt.Sprintf("v%d", i)}, v1.MediaTypeImageManifest, m, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMount mounts blobs of one repository into others, as the
// mount scenario does minus HTTP: each op links one of 64 source blobs
// into a repository that does not hold it yet, from 8×GOMAXPROCS
// mounters (16 on two cores, the scenario's concurrency), each a durable
// commit sharing the group sync with the others waiting. cpu-ms/op is the
// whole process's CPU: Badger's background work and the runtime's count.
func BenchmarkMount(b *testing.B) {
	r := newTestEngine(b, Options{})
	ctx := context.Background()
	src := make([]digest.Digest, 64)
	for i := range src {
		src[i] = putBlob(b, r, "bench/src", binary.LittleEndian.AppendUint64(nil, uint64(i))).Digest
	}
	var seq atomic.Int64
	b.SetParallelism(8)
	c0 := processCPU(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := seq.Add(1) - 1
			dst := fmt.Sprintf("bench/d%03d-%d", k%256, k/(256*64))
			if ok, err := r.MountBlob(ctx, dst, "bench/src", src[(k/256)%64], nil); err != nil || !ok {
				b.Fatalf("mount into %s: %v %v", dst, ok, err)
			}
		}
	})
	reportCPU(b, c0)
}

func putBenchBlob(ctx context.Context, r *Registry, repo string, d digest.Digest, data []byte, viaSession bool) error {
	if !viaSession {
		return r.PutBlob(ctx, repo, d, bytes.NewReader(data), int64(len(data)))
	}
	up, err := r.StartUpload(ctx, repo)
	if err != nil {
		return err
	}
	return r.FinishUpload(ctx, repo, up.ID, d, -1, bytes.NewReader(data), int64(len(data)))
}

// BenchmarkPushImagePostgres is BenchmarkPushImage through upload
// sessions with the metadata on PostgreSQL, into a store that already
// holds some thousands of keys of other images (keys=N). It reports the
// transactions PostgreSQL aborted per image (serialization failures, each
// run again): SERIALIZABLE tracks reads by B-tree page, so on a nearly
// empty table unrelated pushes share pages and abort each other, and the
// rate falls as the table grows (docs/scale-out.md, "What limits a
// push").
func BenchmarkPushImagePostgres(b *testing.B) {
	for _, keys := range []int{0, 10_000, 100_000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			r := newTestEngineOn(b, Options{}, true)
			pg := r.kv.(*kv.Postgres)
			prefill(b, pg, keys)
			before := pg.Stats()
			benchPushImages(b, r, true)
			after := pg.Stats()
			b.ReportMetric(float64(after.SerializationFailures-before.SerializationFailures)/float64(b.N), "aborts/op")
			b.ReportMetric(float64(after.Statements-before.Statements)/float64(b.N), "statements/op")
			b.ReportMetric(float64(after.RoundTrips-before.RoundTrips)/float64(b.N), "round-trips/op")
		})
	}
}

// prefill writes n keys the way pushed images leave them (a blob record,
// its link and its inverse link per digest, in 100 repositories), in
// transactions of 3 000 keys, so that a benchmark meets a table of that
// size.
func prefill(b *testing.B, s kv.Store, n int) {
	b.Helper()
	rec := kv.BlobRecord{Size: 1024, Created: 1, LastLinked: 1}.Encode()
	for done := 0; done < n; {
		err := s.Update(context.Background(), func(t kv.Txn) error {
			for i := done; i < min(done+3000, n); i += 3 {
				d := digest.FromBytes(binary.AppendUvarint(nil, uint64(i))).String()
				repo := fmt.Sprintf("prefill/r%02d", i%100)
				if err := errors.Join(t.Set(kv.BlobKey(d), rec), t.Set(kv.LinkKey(repo, d), nil), t.Set(kv.InverseLinkKey(d, repo), nil)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		done += 3000
	}
}

// BenchmarkSessionPush pushes small blobs the way most clients' monolithic
// path does, through a session: POST (StartUpload), then PUT with the
// whole body (FinishUpload), from many pushers at once into an on-disk
// store with group commit. The POST's record is what it measures against
// BenchmarkPushImage's sessionless uploads.
func BenchmarkSessionPush(b *testing.B) {
	r := newTestEngine(b, Options{})
	ctx := context.Background()
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		blob := make([]byte, 16<<10)
		for pb.Next() {
			binary.LittleEndian.PutUint64(blob, uint64(seq.Add(1)))
			up, err := r.StartUpload(ctx, "bench/session")
			if err != nil {
				b.Fatal(err)
			}
			if err := r.FinishUpload(ctx, "bench/session", up.ID, digest.FromBytes(blob), -1, bytes.NewReader(blob), int64(len(blob))); err != nil {
				b.Fatal(err)
			}
		}
	})
}
