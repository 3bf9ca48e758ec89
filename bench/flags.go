package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"git.wntrmute.dev/kyle/mcr/bench/oci"
	"git.wntrmute.dev/kyle/mcr/bench/scenario"
)

// knobs are the flags shared by the single-registry and compare modes.
type knobs struct {
	quick, tiny  bool
	duration     time.Duration
	conc         int
	repos        int
	imageJobs    int
	imagePool    int
	largeMiB     int
	tags         string
	catalogRepos int
	gcCmd        string
	gcURL        string
	setupConc    int
	tmp          string
	seed         uint64
	scenarios    string
	client       string
	mcrAuth      string
}

func (k *knobs) register(fs *flag.FlagSet, defaultScenarios string) {
	quick, _ := strconv.ParseBool(os.Getenv("BENCH_QUICK"))
	fs.BoolVar(&k.quick, "quick", quick, "smoke-sized run: small data, short cases (default from BENCH_QUICK)")
	fs.BoolVar(&k.tiny, "tiny", false, "smallest run that still exercises every code path (the smoke test's)")
	fs.DurationVar(&k.duration, "duration", 0, "measured time of each throughput case (0: the preset's)")
	fs.IntVar(&k.conc, "c", 0, "concurrency of the throughput scenarios (0: the preset's levels)")
	fs.IntVar(&k.repos, "repos", 0, "push-image: number of repositories (0: 8)")
	fs.IntVar(&k.imageJobs, "image-jobs", 0, "push-image: blobs of one image uploaded at once (0: the preset's 4, as crane; 1: one by one)")
	fs.IntVar(&k.imagePool, "image-pool", 0, "push-image: images whose layer digests are computed before each case (0: the preset's 3000); a loaded machine spends minutes on them")
	fs.IntVar(&k.largeMiB, "large-mib", 0, "push-large/pull-large blob size in MiB (0: the preset's)")
	fs.StringVar(&k.tags, "tags", "", "tag-list repository sizes, comma-separated (default 10000,100000)")
	fs.IntVar(&k.catalogRepos, "catalog-repos", 0, "catalog: repositories to create (0: 10000)")
	fs.StringVar(&k.gcCmd, "gc-cmd", os.Getenv("BENCH_GC_CMD"), "mixed: shell command to run in a loop during a second, with-GC case (empty: skip it)")
	fs.StringVar(&k.gcURL, "gc-url", os.Getenv("BENCH_GC_URL"), "mixed: path POSTed on the registry in a loop during a second, with-GC case; 202 and 409 are success (default for a started mcr: "+mcrGCPath+", skipped if absent; 'none': never; in compare mode it applies to mcr only)")
	fs.IntVar(&k.setupConc, "setup-conc", 0, "concurrency of set-up PUTs (0: 32)")
	fs.StringVar(&k.tmp, "tmp", os.Getenv("BENCH_TMP"), "parent of the started registries' data directories (default: the system temp dir)")
	fs.Uint64Var(&k.seed, "seed", 0, "seed of the pushed content (0: from the clock, so reruns push new content)")
	fs.StringVar(&k.client, "client", "fasthttp", "client for the small hot requests (manifest GET/HEAD, blob HEAD, small blob GET): fasthttp or nethttp")
	fs.StringVar(&k.mcrAuth, "mcr-auth", "none", "auth mode of a started mcr: none (anonymous, like the reference) or builtin (Basic credentials on every request)")
	fs.StringVar(&k.scenarios, "scenario", defaultScenarios, "comma-separated scenarios, or all: "+names())
}

func names() string {
	var n []string
	for _, s := range scenario.All() {
		n = append(n, s.Name)
	}
	return strings.Join(n, ", ")
}

// config applies the flags to the chosen preset.
func (k *knobs) config() (scenario.Config, error) {
	c := scenario.Full()
	switch {
	case k.tiny:
		c = scenario.Tiny()
	case k.quick:
		c = scenario.Quick()
	}
	if k.duration > 0 {
		c.Duration, c.MixedDuration = k.duration, k.duration
	}
	if k.conc > 0 {
		c.ImageConc, c.ManifestConc = []int{k.conc}, []int{k.conc}
		c.ManifestHeadC, c.SmallConc, c.MountConc, c.MixedConc = k.conc, k.conc, k.conc, k.conc
	}
	if k.repos > 0 {
		c.ImageRepos = k.repos
	}
	if k.imageJobs > 0 {
		c.ImageJobs = k.imageJobs
	}
	if k.imagePool > 0 {
		c.ImagePool = k.imagePool
	}
	if k.largeMiB > 0 {
		c.LargeSize = int64(k.largeMiB) << 20
	}
	if k.tags != "" {
		c.TagCounts = nil
		for f := range strings.SplitSeq(k.tags, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				return c, fmt.Errorf("-tags %q: want positive integers", k.tags)
			}
			c.TagCounts = append(c.TagCounts, n)
		}
	}
	if k.catalogRepos > 0 {
		c.CatalogRepos = k.catalogRepos
	}
	if k.setupConc > 0 {
		c.SetupConc = k.setupConc
	}
	c.GCCmd = k.gcCmd
	return c, c.Validate()
}

// mcrGCPath is mcr's admin endpoint that starts a collection (docs/api.md).
const mcrGCPath = "/api/v1/gc"

// withGC sets the GC trigger of a configuration for one registry: -gc-url
// if given, else mcr's admin endpoint when the registry is an mcr the
// harness started and no -gc-cmd was given (optional: an mcr without the
// endpoint skips the with-GC case).
func (k *knobs) withGC(c scenario.Config, startedMCR bool) scenario.Config {
	switch {
	case k.gcURL == "none":
	case k.gcURL != "":
		c.GCURL = k.gcURL
	case startedMCR && k.gcCmd == "":
		c.GCURL, c.GCOptional = mcrGCPath, true
	}
	return c
}

// clientOptions are the oci client's options for the flags.
func (k *knobs) clientOptions(user, pass string) (oci.Options, error) {
	o := oci.Options{MaxConns: 512, Username: user, Password: pass}
	switch k.client {
	case "fasthttp":
		o.Fast = true
	case "nethttp":
	default:
		return o, fmt.Errorf("-client %q: want fasthttp or nethttp", k.client)
	}
	return o, nil
}

// parse parses args into fs, whose flags include k's, and resolves the
// preset and the scenarios from them.
func (k *knobs) parse(fs *flag.FlagSet, args []string) (scenario.Config, []scenario.Scenario, error) {
	if err := fs.Parse(args); err != nil {
		return scenario.Config{}, nil, err
	}
	cfg, err := k.config()
	if err != nil {
		return scenario.Config{}, nil, err
	}
	list, err := k.list()
	return cfg, list, err
}

// list resolves -scenario.
func (k *knobs) list() ([]scenario.Scenario, error) {
	if k.scenarios == "all" || k.scenarios == "" {
		return scenario.All(), nil
	}
	var out []scenario.Scenario
	for n := range strings.SplitSeq(k.scenarios, ",") {
		s, ok := scenario.Find(strings.TrimSpace(n))
		if !ok {
			return nil, fmt.Errorf("unknown scenario %q; have %s", n, names())
		}
		out = append(out, s)
	}
	return out, nil
}

func (k *knobs) seedValue() uint64 {
	if k.seed != 0 {
		return k.seed
	}
	return uint64(time.Now().UnixNano())
}
