package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/auth"
	"git.wntrmute.dev/kyle/mcr/http/metrics"
	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// serveWithOptions is serveTestRegistry with the server Options in the
// test's hands (metrics, readiness, auth) and the stores opened here.
func serveWithOptions(t *testing.T, opts func(dir string, store *kv.Badger, reg *engine.Registry, pool *jobs.Pool, o *Options)) *testRegistry {
	t.Helper()
	dir, store, blobs := openTestStores(t)
	pool := jobs.NewPool(4, 64)
	t.Cleanup(pool.Close)
	return serveTestRegistry(t, dir, store, blobs, engine.Options{Streamer: pool}, func(reg *engine.Registry, o *Options) {
		opts(dir, store, reg, pool, o)
	})
}

// scrape fetches /metrics, checks it with the Prometheus text parser
// (checkExposition), and reads the samples: one per line,
// "name{labels} value", comments skipped.
func (tr *testRegistry) scrape(hdr ...string) map[string]float64 {
	tr.t.Helper()
	r := tr.do("GET", MetricsPath, nil, hdr...)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain; version=0.0.4") {
		tr.t.Fatalf("scrape: %d %q %s", r.status, r.header.Get("Content-Type"), truncate(r.body))
	}
	checkExposition(tr.t, r.body)
	m := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i <= 0 {
			tr.t.Fatalf("malformed sample %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			tr.t.Fatalf("sample %q: %v", line, err)
		}
		m[line[:i]] = v
	}
	return m
}

// checkExposition parses an exposition with Prometheus's own text parser
// and requires a # HELP text and a # TYPE for every family: the parser
// refuses a family's metadata given twice, and leaves Help nil and Type
// untyped where the lines are missing.
func checkExposition(t *testing.T, body []byte) {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, truncate(body))
	}
	for name, f := range families {
		if f.GetHelp() == "" || f.GetHelp() == name {
			t.Errorf("family %s has no # HELP text", name)
		}
		if f.GetType() == dto.MetricType_UNTYPED {
			t.Errorf("family %s has no # TYPE", name)
		}
	}
	if len(families) < 20 {
		t.Errorf("only %d families parsed", len(families))
	}
}

func TestMetricsMoveWithTraffic(t *testing.T) {
	tr := serveWithOptions(t, func(_ string, _ *kv.Badger, reg *engine.Registry, pool *jobs.Pool, o *Options) {
		o.Metrics = metrics.New(metrics.Sources{
			Uploads: pool.Stats,
			Actors: func() (int, int) {
				st := reg.ActorStats()
				return st.Actors, st.Queued
			},
			Jobs: func() []jobs.Status {
				return []jobs.Status{{Kind: "gc", Runs: 3, Started: time.Unix(100, 0), Finished: time.Unix(102, 0), LastResult: `{"reclaimed_bytes":4096}`}}
			},
			Store: func() (int64, int64, int64) { return 10, 20, 30 },
			// Every source set, so that checkExposition sees every family.
			Staging: func() metrics.Staging { return metrics.Staging{Sessions: 1, Files: 1, Bytes: 9} },
			Cleaned: func() metrics.Cleaned { return metrics.Cleaned{StagingFiles: 1, StagingBytes: 2} },
		})
	})
	before := tr.scrape()
	for _, k := range []string{"mcr_uploads_active", "mcr_uploads_queued", "mcr_actors", "mcr_actor_mailbox_depth",
		"mcr_badger_lsm_bytes", "mcr_badger_vlog_bytes", "mcr_badger_other_bytes", `mcr_job_runs_total{job="gc"}`, `mcr_job_running{job="gc"}`,
		`mcr_job_last_duration_seconds{job="gc"}`, `mcr_job_last_reclaimed_bytes{job="gc"}`, "go_goroutines"} {
		if _, ok := before[k]; !ok {
			t.Errorf("first scrape lacks %s", k)
		}
	}
	if before[`mcr_job_last_reclaimed_bytes{job="gc"}`] != 4096 || before[`mcr_job_last_duration_seconds{job="gc"}`] != 2 || before["mcr_badger_vlog_bytes"] != 20 {
		t.Errorf("gauges: %v", before)
	}

	// Push an image, pull it back, miss once.
	m := tr.image("team/app", 1, "")
	tr.expect(tr.putManifest("team/app", "v1", m, ociManifest), 201, "", "push manifest")
	r := tr.do("GET", "/v2/team/app/manifests/v1", nil, "Accept", ociManifest)
	tr.expect(r, 200, "", "pull manifest")
	var man struct{ Layers []struct{ Digest string } }
	if err := json.Unmarshal(r.body, &man); err != nil || len(man.Layers) != 1 {
		t.Fatalf("manifest %s: %v", r.body, err)
	}
	tr.expect(tr.do("GET", "/v2/team/app/blobs/"+man.Layers[0].Digest, nil), 200, "", "pull layer")
	tr.expect(tr.do("GET", "/v2/team/app/tags/list", nil), 200, "", "tags")
	tr.expect(tr.do("GET", "/v2/team/app/manifests/nope", nil), 404, "MANIFEST_UNKNOWN", "missing tag")
	tr.expect(tr.do("GET", "/nowhere/team/app", nil), 404, "", "unknown path")

	after := tr.scrape()
	delta := func(k string) float64 { return after[k] - before[k] }
	for k, want := range map[string]float64{
		`mcr_http_requests_total{route="manifest",method="PUT",status="201"}`:                        1,
		`mcr_http_requests_total{route="manifest",method="GET",status="200"}`:                        1,
		`mcr_http_requests_total{route="manifest",method="GET",status="404"}`:                        1,
		`mcr_http_requests_total{route="upload",method="POST",status="201"}`:                         2, // config and layer
		`mcr_http_requests_total{route="blob",method="GET",status="200"}`:                            1,
		`mcr_http_requests_total{route="tags",method="GET",status="200"}`:                            1,
		`mcr_http_requests_total{route="other",method="GET",status="404"}`:                           1,
		`mcr_http_requests_total{route="ops",method="GET",status="200"}`:                             1, // the first scrape
		`mcr_http_request_duration_seconds_count{route="blob",method="GET",status="200"}`:            1,
		`mcr_http_request_duration_seconds_bucket{route="blob",method="GET",status="200",le="+Inf"}`: 1,
	} {
		if got := delta(k); got != want {
			t.Errorf("%s moved by %v, want %v", k, got, want)
		}
	}
	if got := delta(`mcr_http_response_bytes_total{route="blob"}`); got < 1000 {
		t.Errorf("blob bytes out moved by %v, want >= 1000", got)
	}
	if got := delta(`mcr_http_request_bytes_total{route="manifest"}`); got < float64(len(m)) {
		t.Errorf("manifest bytes in moved by %v, want >= %d", got, len(m))
	}
	if got := delta(`mcr_http_request_bytes_total{route="upload"}`); got < 1000 {
		t.Errorf("upload bytes in moved by %v, want >= 1000", got)
	}
	// A chunked PATCH declares no length: what was read is counted.
	before = after
	loc := tr.do("POST", "/v2/team/app/blobs/uploads/", nil).header.Get("Location")
	req, err := http.NewRequest("PATCH", "http://registry.test"+loc, io.MultiReader(bytes.NewReader(randomBytes(3000)), bytes.NewReader(randomBytes(2000))))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // chunked
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := tr.client.Do(req)
	if err != nil || res.StatusCode != 202 {
		t.Fatalf("chunked PATCH: %v %v", res, err)
	}
	res.Body.Close()
	after = tr.scrape()
	if got := delta(`mcr_http_request_bytes_total{route="upload"}`); got != 5000 {
		t.Errorf("chunked upload bytes in moved by %v, want 5000", got)
	}
	for k := range after {
		if strings.Contains(k, "team") || strings.Contains(k, "sha256") || strings.Contains(k, "nowhere") {
			t.Errorf("a raw path leaked into a label: %s", k)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	var probeDir string
	tr := serveWithOptions(t, func(dir string, _ *kv.Badger, _ *engine.Registry, _ *jobs.Pool, o *Options) {
		probeDir = filepath.Join(dir, "probe")
		if err := os.Mkdir(probeDir, 0o700); err != nil {
			t.Fatal(err)
		}
		o.Ready = func() error { return metrics.DirWritable(probeDir) }
	})
	tr.expect(tr.do("GET", HealthzPath, nil), 200, "", "healthz")
	tr.expect(tr.do("GET", ReadyzPath, nil), 200, "", "readyz")
	if left, _ := os.ReadDir(probeDir); len(left) != 0 {
		t.Errorf("probe files left behind: %v", left)
	}
	// Without metrics configured, /metrics is not served.
	tr.expect(tr.do("GET", MetricsPath, nil), 404, "", "metrics off")

	// A data directory that is gone (even root cannot write there).
	if err := os.RemoveAll(probeDir); err != nil {
		t.Fatal(err)
	}
	r := tr.do("GET", ReadyzPath, nil)
	var body struct{ Status, Reason string }
	if err := json.Unmarshal(r.body, &body); r.status != 503 || err != nil || body.Status != "unavailable" || !strings.Contains(body.Reason, "not writable") {
		t.Errorf("readyz on a removed dir: %d %s", r.status, r.body)
	}
	tr.expect(tr.do("GET", HealthzPath, nil), 200, "", "healthz stays up")
}

func TestMetricsAuth(t *testing.T) {
	for _, require := range []bool{false, true} {
		t.Run("require_auth="+strconv.FormatBool(require), func(t *testing.T) {
			var ids *identity.Service
			tr := serveWithOptions(t, func(_ string, store *kv.Badger, _ *engine.Registry, _ *jobs.Pool, o *Options) {
				ctx := context.Background()
				var err error
				ids, err = identity.New(ctx, store, identity.Options{Service: testService, Hash: identity.HashParams{Time: 1, Memory: 64, Threads: 1}})
				if err != nil {
					t.Fatal(err)
				}
				pol, err := policy.NewEngine(ctx, store, nil)
				if err != nil {
					t.Fatal(err)
				}
				o.Auth = auth.New(auth.Options{Mode: auth.ModeBuiltin, Identity: ids, Policy: pol})
				o.Metrics = metrics.New(metrics.Sources{})
				o.MetricsRequireAuth = require
			})
			for _, name := range []string{"root", "dev"} {
				roles := []string{}
				if name == "root" {
					roles = append(roles, identity.RoleAdmin)
				}
				if _, err := ids.CreateAccount(context.Background(), identity.NewAccount{Name: name, Type: identity.Human, Roles: roles, Password: name + "-password"}); err != nil {
					t.Fatal(err)
				}
			}
			// Probes never need credentials, and bad ones do not fail them.
			tr.expect(tr.do("GET", HealthzPath, nil, "Authorization", basic("root", "wrong")), 200, "", "healthz")
			tr.expect(tr.do("GET", ReadyzPath, nil), 200, "", "readyz")
			if !require {
				tr.expect(tr.do("GET", MetricsPath, nil), 200, "", "open metrics")
				return
			}
			tr.expect(tr.do("GET", MetricsPath, nil), 401, "UNAUTHORIZED", "anonymous scrape")
			tr.expect(tr.do("GET", MetricsPath, nil, "Authorization", basic("dev", "dev-password")), 403, "DENIED", "non-admin scrape")
			got := tr.scrape("Authorization", basic("root", "root-password"))
			if _, ok := got[`mcr_http_requests_total{route="ops",method="GET",status="401"}`]; !ok {
				t.Errorf("admin scrape lacks the refused scrape: %v", got)
			}
		})
	}
}
