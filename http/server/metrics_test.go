package server_test

import (
	"bufio"
	"bytes"
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

	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/http/metrics"
	"git.wntrmute.dev/kyle/mcr/http/server"
	"git.wntrmute.dev/kyle/mcr/http/servertest"
	"git.wntrmute.dev/kyle/mcr/jobs"
)

// scrape fetches /metrics, checks it with the Prometheus text parser
// (checkExposition), and reads the samples: one per line,
// "name{labels} value", comments skipped.
func scrape(tr *servertest.Registry, hdr ...string) map[string]float64 {
	tr.T.Helper()
	r := tr.Do("GET", server.MetricsPath, nil, hdr...)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		tr.T.Fatalf("scrape: %d %q %s", r.Status, r.Header.Get("Content-Type"), servertest.Truncate(r.Body))
	}
	checkExposition(tr.T, r.Body)
	m := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i <= 0 {
			tr.T.Fatalf("malformed sample %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			tr.T.Fatalf("sample %q: %v", line, err)
		}
		m[line[:i]] = v
	}
	return m
}

// checkExposition parses an exposition with Prometheus's own text parser
// and requires a # HELP text and a # TYPE for every family: the parser
// refuses a family's metadata given twice, and leaves Help nil and Type
// untyped where the lines are missing.
func checkExposition(t testing.TB, body []byte) {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, servertest.Truncate(body))
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
	tr := servertest.Serve(t, servertest.Config{Server: func(tr *servertest.Registry, o *server.Options) {
		reg, pool := tr.Reg, tr.Pool
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
	}})
	before := scrape(tr)
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
	m := tr.Image("team/app", 1, "")
	tr.Expect(tr.PutManifest("team/app", "v1", m, servertest.OCIManifest), 201, "", "push manifest")
	r := tr.Do("GET", "/v2/team/app/manifests/v1", nil, "Accept", servertest.OCIManifest)
	tr.Expect(r, 200, "", "pull manifest")
	var man struct{ Layers []struct{ Digest string } }
	if err := json.Unmarshal(r.Body, &man); err != nil || len(man.Layers) != 1 {
		t.Fatalf("manifest %s: %v", r.Body, err)
	}
	tr.Expect(tr.Do("GET", "/v2/team/app/blobs/"+man.Layers[0].Digest, nil), 200, "", "pull layer")
	tr.Expect(tr.Do("GET", "/v2/team/app/tags/list", nil), 200, "", "tags")
	tr.Expect(tr.Do("GET", "/v2/team/app/manifests/nope", nil), 404, "MANIFEST_UNKNOWN", "missing tag")
	tr.Expect(tr.Do("GET", "/nowhere/team/app", nil), 404, "", "unknown path")

	after := scrape(tr)
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
	loc := tr.Do("POST", "/v2/team/app/blobs/uploads/", nil).Header.Get("Location")
	req, err := http.NewRequest("PATCH", "http://registry.test"+loc, io.MultiReader(bytes.NewReader(servertest.RandomBytes(3000)), bytes.NewReader(servertest.RandomBytes(2000))))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // chunked
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := tr.Client.Do(req)
	if err != nil || res.StatusCode != 202 {
		t.Fatalf("chunked PATCH: %v %v", res, err)
	}
	res.Body.Close()
	after = scrape(tr)
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
	tr := servertest.Serve(t, servertest.Config{Server: func(tr *servertest.Registry, o *server.Options) {
		probeDir = filepath.Join(tr.Dir, "probe")
		if err := os.Mkdir(probeDir, 0o700); err != nil {
			t.Fatal(err)
		}
		o.Ready = func() error { return metrics.DirWritable(probeDir) }
	}})
	tr.Expect(tr.Do("GET", server.HealthzPath, nil), 200, "", "healthz")
	tr.Expect(tr.Do("GET", server.ReadyzPath, nil), 200, "", "readyz")
	if left, _ := os.ReadDir(probeDir); len(left) != 0 {
		t.Errorf("probe files left behind: %v", left)
	}
	// Without metrics configured, /metrics is not served.
	tr.Expect(tr.Do("GET", server.MetricsPath, nil), 404, "", "metrics off")

	// A data directory that is gone (even root cannot write there).
	if err := os.RemoveAll(probeDir); err != nil {
		t.Fatal(err)
	}
	r := tr.Do("GET", server.ReadyzPath, nil)
	var body struct{ Status, Reason string }
	if err := json.Unmarshal(r.Body, &body); r.Status != 503 || err != nil || body.Status != "unavailable" || !strings.Contains(body.Reason, "not writable") {
		t.Errorf("readyz on a removed dir: %d %s", r.Status, r.Body)
	}
	tr.Expect(tr.Do("GET", server.HealthzPath, nil), 200, "", "healthz stays up")
}

func TestMetricsAuth(t *testing.T) {
	for _, require := range []bool{false, true} {
		t.Run("require_auth="+strconv.FormatBool(require), func(t *testing.T) {
			tr := servertest.Serve(t, servertest.Config{Auth: &servertest.Setup{}, Server: func(_ *servertest.Registry, o *server.Options) {
				o.Metrics = metrics.New(metrics.Sources{})
				o.MetricsRequireAuth = require
			}})
			tr.Account("root", identity.Human, identity.RoleAdmin)
			tr.Account("dev", identity.Human)
			// Probes never need credentials, and bad ones do not fail them.
			tr.Expect(tr.Do("GET", server.HealthzPath, nil, "Authorization", servertest.Basic("root", "wrong")), 200, "", "healthz")
			tr.Expect(tr.Do("GET", server.ReadyzPath, nil), 200, "", "readyz")
			if !require {
				tr.Expect(tr.Do("GET", server.MetricsPath, nil), 200, "", "open metrics")
				return
			}
			tr.Expect(tr.Do("GET", server.MetricsPath, nil), 401, "UNAUTHORIZED", "anonymous scrape")
			tr.Expect(tr.Do("GET", server.MetricsPath, nil, "Authorization", servertest.Basic("dev", "dev-password")), 403, "DENIED", "non-admin scrape")
			got := scrape(tr, "Authorization", servertest.Basic("root", "root-password"))
			if _, ok := got[`mcr_http_requests_total{route="ops",method="GET",status="401"}`]; !ok {
				t.Errorf("admin scrape lacks the refused scrape: %v", got)
			}
		})
	}
}
