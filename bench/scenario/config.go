package scenario

import (
	"fmt"
	"time"
)

// Config sizes every scenario. Full() is what `make bench-compare`
// measures; Quick() is a smoke run of well under a minute per registry.
type Config struct {
	Prefix    string        // repositories are created under Prefix/
	Duration  time.Duration // measured time of each throughput case
	Warmup    time.Duration // unmeasured time before each throughput case
	SetupConc int           // concurrency of set-up PUTs

	LargeSize  int64 // push-large / pull-large blob size
	LargeChunk int64 // PATCH size of the chunked push
	LargeReps  int   // blobs per mode per round

	ImageRepos    int   // push-image spreads images over this many repos
	ImageConc     []int // push-image concurrency levels (the sweep)
	ImageLayers   int   // layers per image
	LayerMin      int64 // smallest layer
	LayerMax      int64 // largest layer
	HeadFirst     bool  // HEAD each blob before uploading it, as clients do
	ImageJobs     int   // blobs of one image uploaded at once, as clients do (crane 4, docker 5)
	ImagePool     int   // images built (layer digests computed) before each push-image case
	ManifestConc  []int // pull-manifest GET concurrency levels
	ManifestHeadC int   // concurrency of the HEAD case
	SmallBlobSize int64 // pull-blob-small blob size
	SmallBlobs    int   // distinct small blobs
	SmallConc     int   // pull-blob-small concurrency
	TagCounts     []int // tag-list repositories' sizes
	TagPage       int   // page size of tag-list and catalog pages
	ListMaxOps    int   // cap on timed requests per listing case
	ListDuration  time.Duration
	CatalogRepos  int // repositories for the catalog
	// CatalogCap bounds one catalog request (a whole walk, one page): a
	// registry whose catalog walks its storage (the reference on S3) may
	// need minutes, and is reported as over the cap instead.
	CatalogCap    time.Duration
	MountConc     int     // mount concurrency
	MixedRepos    int     // mixed: repositories
	MixedConc     int     // mixed: concurrency
	MixedPull     float64 // mixed: fraction of operations that are pulls
	MixedDuration time.Duration
	GCCmd         string // mixed: shell command run in a loop during a second mixed case
	// GCURL is a path on the registry (mcr: /api/v1/gc) POSTed in a loop
	// during a second mixed case, instead of GCCmd; 202 and 409 both
	// count as success.
	GCURL string
	// GCOptional skips the with-GC case, with a note, when GCURL answers
	// 404 or 405 (the harness's default for a started mcr, which may
	// predate the admin API); otherwise that is an error.
	GCOptional bool
	GCInterval time.Duration
}

// Full is the configuration of the published comparison.
func Full() Config {
	return Config{
		Prefix: "bench", Duration: 8 * time.Second, Warmup: time.Second, SetupConc: 32,
		LargeSize: 256 << 20, LargeChunk: 8 << 20, LargeReps: 2,
		ImageRepos: 8, ImageConc: []int{1, 4, 16, 64}, ImageLayers: 4, LayerMin: 16 << 10, LayerMax: 512 << 10, HeadFirst: true, ImageJobs: 4, ImagePool: 3000,
		ManifestConc: []int{1, 4, 16, 64, 256}, ManifestHeadC: 64,
		SmallBlobSize: 64 << 10, SmallBlobs: 64, SmallConc: 64,
		TagCounts: []int{10_000, 100_000}, TagPage: 100, ListMaxOps: 200, ListDuration: 6 * time.Second,
		CatalogRepos: 10_000, CatalogCap: time.Minute, MountConc: 16,
		MixedRepos: 100, MixedConc: 32, MixedPull: 0.8, MixedDuration: 15 * time.Second, GCInterval: time.Second,
	}
}

// Quick is a smoke-sized configuration: same scenarios, small data.
func Quick() Config {
	c := Full()
	c.Duration, c.Warmup = time.Second, 200*time.Millisecond
	c.LargeSize, c.LargeChunk, c.LargeReps = 32<<20, 4<<20, 1
	c.ImageConc = []int{4, 16}
	c.ImagePool = 600
	c.ManifestConc = []int{4, 64}
	c.TagCounts = []int{1_000, 2_000}
	c.ListMaxOps, c.ListDuration = 20, 500*time.Millisecond
	c.CatalogRepos = 500
	c.MixedRepos, c.MixedDuration = 20, 1500*time.Millisecond
	return c
}

// Tiny is for the smoke test under -race: every code path, seconds.
func Tiny() Config {
	c := Quick()
	c.Duration, c.Warmup = 300*time.Millisecond, 0
	c.LargeSize, c.LargeChunk = 3<<20+123, 1<<20
	c.ImageRepos, c.ImageConc, c.ImageLayers = 2, []int{1, 4}, 2
	c.ImagePool = 5 // fewer than a case pushes: the inline path runs too
	c.ManifestConc, c.ManifestHeadC = []int{4}, 4
	c.SmallBlobs, c.SmallConc = 4, 4
	c.TagCounts, c.TagPage = []int{150, 250}, 20
	c.ListMaxOps, c.ListDuration = 3, 300*time.Millisecond
	c.CatalogRepos, c.MountConc = 60, 4
	c.MixedRepos, c.MixedConc, c.MixedDuration = 4, 4, 500*time.Millisecond
	c.SetupConc = 8
	return c
}

// Validate rejects configurations a scenario could not run.
func (c Config) Validate() error {
	switch {
	case c.Prefix == "":
		return fmt.Errorf("prefix is empty")
	case c.Duration <= 0 || c.ListDuration <= 0 || c.MixedDuration <= 0:
		return fmt.Errorf("durations must be positive")
	case c.LargeSize <= 0 || c.LargeChunk <= 0 || c.LargeReps <= 0:
		return fmt.Errorf("large blob size, chunk and reps must be positive")
	case len(c.ImageConc) == 0 || len(c.ManifestConc) == 0 || c.ImageRepos <= 0 || c.ImageLayers <= 0:
		return fmt.Errorf("push-image and pull-manifest need concurrency levels and repos")
	case c.LayerMin <= 0 || c.LayerMax < c.LayerMin:
		return fmt.Errorf("layer sizes: want 0 < min ≤ max")
	case len(c.TagCounts) == 0 || c.TagPage <= 0 || c.CatalogRepos < 2:
		return fmt.Errorf("tag-list and catalog sizes must be positive")
	case c.MixedPull < 0 || c.MixedPull > 1:
		return fmt.Errorf("mixed pull fraction must be in [0, 1]")
	}
	for _, n := range c.TagCounts {
		if n < 2*c.TagPage {
			return fmt.Errorf("tag count %d is less than two pages of %d", n, c.TagPage)
		}
	}
	return nil
}
