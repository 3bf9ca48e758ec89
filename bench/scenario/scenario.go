package scenario

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"git.wntrmute.dev/kyle/mcr/bench/oci"
)

// Metric is one measured number.
type Metric struct {
	Scenario string  `json:"scenario"`
	Case     string  `json:"case"` // e.g. "GET c=64"
	Name     string  `json:"name"` // e.g. "throughput", "p99"
	Unit     string  `json:"unit"` // e.g. "req/s", "ms"
	Value    float64 `json:"value"`
	Higher   bool    `json:"higher"` // whether higher is better
}

// Key identifies a metric across runs and registries.
func (m Metric) Key() string {
	return strings.Join(strings.Fields(m.Scenario+" "+m.Case+" "+m.Name), " ")
}

// Result is what one scenario produced against one registry.
type Result struct {
	Scenario string        `json:"scenario"`
	Metrics  []Metric      `json:"metrics"`
	Errors   int64         `json:"errors"`
	Samples  []string      `json:"error_samples,omitempty"`
	Notes    []string      `json:"notes,omitempty"`
	Elapsed  time.Duration `json:"elapsed_ns"`
}

// Failed reports whether any operation failed.
func (r *Result) Failed() bool { return r.Errors > 0 }

func (r *Result) add(c, name, unit string, v float64, higher bool) {
	r.Metrics = append(r.Metrics, Metric{Scenario: r.Scenario, Case: c, Name: name, Unit: unit, Value: v, Higher: higher})
}

// rate records a throughput.
func (r *Result) rate(c, unit string, v float64) { r.add(c, "throughput", unit, v, true) }

// latency records p50 and p99 of o in milliseconds.
func (r *Result) latency(c string, o Outcome) {
	r.add(c, "p50", "ms", ms(o.Pct(0.50)), false)
	r.add(c, "p99", "ms", ms(o.Pct(0.99)), false)
}

// absorb adds o's errors to r.
func (r *Result) absorb(c string, o Outcome) {
	r.Errors += o.Errors
	for _, s := range o.Samples {
		if len(r.Samples) < 10 {
			r.Samples = append(r.Samples, c+": "+s)
		}
	}
}

// fail records a set-up or one-shot error.
func (r *Result) fail(c string, err error) {
	r.absorb(c, Outcome{Errors: 1, Samples: []string{err.Error()}})
}

func (r *Result) note(format string, a ...any) { r.Notes = append(r.Notes, fmt.Sprintf(format, a...)) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// MemProbe reads the peak resident memory of the registry process, when the
// harness started it.
type MemProbe interface {
	ResetPeak() error
	PeakMiB() (float64, error)
}

// Env is what a scenario runs against: one registry, its client, the
// configuration and the state kept between rounds (what is set up, which
// blobs were pushed).
type Env struct {
	C   *oci.Client
	Cfg Config
	Mem MemProbe // nil when the registry was not started by the harness
	// Meter reads the registry's CPU and resident set; nil when the
	// harness did not start it.
	Meter Meter
	// Cache evicts the registry's blob files from the page cache; nil
	// when the harness did not start it.
	Cache PageCache
	Logf  func(format string, a ...any)

	seed  atomic.Uint64
	mu    sync.Mutex
	state map[string]any
}

// NewEnv returns an environment; seed makes the pushed content unique
// (use a different one for every run against a long-lived registry).
func NewEnv(c *oci.Client, cfg Config, seed uint64) *Env {
	e := &Env{C: c, Cfg: cfg, Logf: func(string, ...any) {}, state: map[string]any{}}
	e.seed.Store(seed)
	return e
}

// Seed returns a fresh seed for new content.
func (e *Env) Seed() uint64 { return e.seed.Add(1) }

// repo names a repository under the configured prefix.
func (e *Env) repo(parts ...string) string { return e.Cfg.Prefix + "/" + strings.Join(parts, "/") }

// once runs f the first time key is asked for in this Env and caches its
// value; an error is not cached.
func once[T any](e *Env, key string, f func() (T, error)) (T, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v, ok := e.state[key]; ok {
		return v.(T), nil
	}
	v, err := f()
	if err == nil {
		e.state[key] = v
	}
	return v, err
}

// Scenario is one named workload.
type Scenario struct {
	Name string
	Doc  string
	Run  func(ctx context.Context, e *Env) *Result
}

// All lists the scenarios in the order a full run takes them.
func All() []Scenario {
	return []Scenario{
		{"push-large", "256 MiB blobs, monolithic PUT and 8 MiB PATCH chunks: MB/s", PushLarge},
		{"pull-large", "GET of the large blobs with digest verification: MB/s", PullLarge},
		{"push-image", "a new image per op (4 layers 16-512 KiB, config, manifest, tag) into N repos: images/s, p50/p99", PushImage},
		{"pull-manifest", "GET and HEAD of a manifest by tag: req/s, p50/p99", PullManifest},
		{"pull-blob-small", "GET of 64 KiB blobs with digest verification: req/s, p50/p99", PullBlobSmall},
		{"tag-list", "full tag list and pages of 100 of repos with 10 000 and 100 000 tags: latency", TagList},
		{"mount", "cross-repository blob mounts: ops/s, p50/p99", Mount},
		{"catalog", "walk of a 10 000-repository catalog in pages of 100: latency", Catalog},
		{"mixed", "80% image pulls / 20% image pushes over 100 repos for a fixed time (optionally with a GC command looping): ops/s, errors", Mixed},
	}
}

// Find returns the scenario called name.
func Find(name string) (Scenario, bool) {
	for _, s := range All() {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// begin starts a result and logs the scenario's start.
func begin(e *Env, name string) (*Result, time.Time) {
	e.Logf("%s: %s", e.C.Host(), name)
	return &Result{Scenario: name}, time.Now()
}

func end(r *Result, start time.Time) *Result {
	r.Elapsed = time.Since(start)
	return r
}
