package e2e

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// conformanceTimeout bounds one run of the suite; a run against a local
// server takes seconds.
const conformanceTimeout = 5 * time.Minute

// Every API area of the suite, on explicitly, so that a change of the
// suite's defaults cannot silently turn a check off.
var conformanceAPIs = []string{
	"OCI_API_PULL=true",
	"OCI_API_PUSH=true",
	"OCI_API_TAGS_LIST=true",
	"OCI_API_REFERRER=true",
	"OCI_API_TAGS_DELETE=true",
	"OCI_API_MANIFESTS_DELETE=true",
	"OCI_API_BLOBS_DELETE=true",
	"OCI_API_BLOBS_MOUNT_ANONYMOUS=true",
	"OCI_API_BLOBS_DIGEST_HEADER=true",
	"OCI_API_MANIFESTS_DIGEST_HEADER=true",
}

// expectedSkips are the suite's tests a run may skip, by the setting that
// turns their API area on: with the setting absent from the run's
// environment the area is off and its tests skip. Any other skip fails the
// run, naming the test, so that a check the suite stops making (a changed
// default, a registry answer it reads as "unsupported") cannot pass
// unnoticed.
var expectedSkips = map[string][]string{
	"OCI_API_BLOBS_UPLOAD_CANCEL=true": {
		"sha256 blobs/post cancel/blob-post-cancel",
		"sha512 blobs/post cancel/blob-post-cancel",
	},
}

// unexpectedSkips lists the skipped tests that neither suiteEnv nor the
// run's own allowed list explain.
func unexpectedSkips(skipped, suiteEnv, allowedHere []string) []string {
	allowed := map[string]bool{}
	for _, n := range allowedHere {
		allowed[n] = true
	}
	for setting, names := range expectedSkips {
		if !slices.Contains(suiteEnv, setting) {
			for _, n := range names {
				allowed[n] = true
			}
		}
	}
	var out []string
	for _, n := range skipped {
		if !allowed[n] {
			out = append(out, n)
		}
	}
	return out
}

// TestConformance runs the pinned OCI distribution-spec conformance suite
// against a fresh server per profile: the 1.1 spec with every API area on,
// and the development spec with sparse manifests and upload cancel added;
// each on the default metadata store (Badger) and on PostgreSQL.
func TestConformance(t *testing.T) {
	requireE2E(t)
	suite := tool(t, "conformance")
	runs := []struct {
		name      string
		suiteEnv  []string
		serverEnv []string
		postgres  bool
	}{
		{name: "v1.1", suiteEnv: []string{"OCI_VERSION=1.1"}},
		{name: "v1.1-postgres", suiteEnv: []string{"OCI_VERSION=1.1"}, postgres: true},
		{
			name:      "dev-postgres",
			suiteEnv:  []string{"OCI_VERSION=dev", "OCI_DATA_SPARSE=true", "OCI_API_BLOBS_UPLOAD_CANCEL=true"},
			serverEnv: []string{"MCR_MANIFEST_ALLOW_SPARSE=true"},
			postgres:  true,
		},
		{
			name:     "dev",
			suiteEnv: []string{"OCI_VERSION=dev", "OCI_DATA_SPARSE=true", "OCI_API_BLOBS_UPLOAD_CANCEL=true"},
			// Sparse manifests (descriptors whose blobs were never pushed)
			// are rejected by default; the sparse data set needs them.
			serverEnv: []string{"MCR_MANIFEST_ALLOW_SPARSE=true"},
		},
	}
	for _, run := range runs {
		t.Run(run.name, func(t *testing.T) {
			t.Parallel()
			env := run.serverEnv
			if run.postgres {
				env = append(env, postgresEnv(t)...)
			}
			reg := startRegistry(t, env...)
			runConformance(t, suite, reg, run.name, run.suiteEnv)
		})
	}
}

// runConformance runs the suite against reg; allowed names the skips this
// run expects beyond expectedSkips (each caller says why).
func runConformance(t *testing.T, suite string, reg *registry, profile string, suiteEnv []string, allowed ...string) {
	dir := workDir(t, "conformance")
	ns := fmt.Sprintf("conformance/%s-%s", runID, strings.ReplaceAll(profile, ".", ""))
	env := []string{
		"OCI_REGISTRY=" + reg.host,
		"OCI_TLS=disabled",
		"OCI_REPO1=" + ns + "/distribution-test",
		"OCI_REPO2=" + ns + "/crossmount-test",
		"OCI_RESULTS_DIR=" + dir,
		"OCI_LOG=warn",
	}
	env = append(env, conformanceAPIs...)
	env = append(env, suiteEnv...)
	// The suite reads ./oci-conformance.yaml if present: run it in its
	// results directory, and drop any OCI_* of the caller's environment.
	cmd := command{t: t, bin: suite, env: append(isolatedEnv(t, filepath.Join(dir, "env")), env...), dir: dir, timeout: conformanceTimeout}
	start := time.Now()
	res := cmd.run()
	elapsed := time.Since(start)
	console := res.stdout + res.stderr
	if err := os.WriteFile(filepath.Join(dir, "console.log"), []byte(console), 0o644); err != nil {
		t.Fatal(err)
	}

	rep, err := readJunit(filepath.Join(dir, "junit.xml"))
	if err != nil {
		t.Fatalf("conformance suite produced no usable report (%v); exit: %v\nconsole:\n%s", err, res.err, tail(console, 4000))
	}
	t.Logf("%s: %d passed, %d failed, %d skipped in %.1fs (%s)", profile, rep.passed, len(rep.failed), rep.skipped, elapsed.Seconds(), strings.Join(suiteEnv, " "))
	if areas := notPassing(console); areas != "" {
		t.Logf("areas not passing (Disabled: off in this profile; Skip: registry answered \"unsupported\"): %s", areas)
	}
	if len(rep.skippedNames) > 0 {
		t.Logf("skipped tests: %s", strings.Join(rep.skippedNames, ", "))
	}
	if rep.total == 0 {
		t.Fatalf("conformance suite ran no tests\nconsole:\n%s", tail(console, 4000))
	}
	if extra := unexpectedSkips(rep.skippedNames, suiteEnv, allowed); len(extra) > 0 {
		t.Errorf("%d conformance tests skipped that %s does not turn off (expectedSkips): %s", len(extra), profile, strings.Join(extra, ", "))
	}
	if len(rep.failed) > 0 {
		var b strings.Builder
		for i, f := range rep.failed {
			fmt.Fprintf(&b, "\n  FAIL %s\n      %s", f.name, indent(tail(f.errText, 1200), "      "))
			// The first few failures also show the suite's last request.
			if i < 5 {
				if last := lastExchange(f.output); last != "" {
					fmt.Fprintf(&b, "\n      last request:\n      %s", indent(last, "      "))
				}
			}
		}
		t.Errorf("%d of %d conformance tests failed (%s):%s", len(rep.failed), rep.total, profile, b.String())
		return
	}
	if res.err != nil {
		// The suite exits 1 exactly when its overall status is not Pass.
		t.Errorf("no test case failed, yet the suite reported failure: %v", res.err)
	}
}

// junitReport is what the tests need from the suite's junit.xml (the suite's
// junit.go): one testcase per leaf test, status passed, skipped, failure or
// error; system-out holds the errors and system-err the request log.
type junitReport struct {
	total, passed, skipped int
	failed                 []failedCase
	skippedNames           []string
}

type failedCase struct {
	name, errText, output string
}

func readJunit(path string) (junitReport, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return junitReport{}, err
	}
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name      string `xml:"name,attr"`
				Status    string `xml:"status,attr"`
				SystemOut string `xml:"system-out"`
				SystemErr string `xml:"system-err"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(raw, &doc); err != nil {
		return junitReport{}, fmt.Errorf("%s: %w", path, err)
	}
	var rep junitReport
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			rep.total++
			switch c.Status {
			case "passed":
				rep.passed++
			case "skipped":
				rep.skipped++
				rep.skippedNames = append(rep.skippedNames, strings.TrimPrefix(c.Name, "OCI Conformance Test/"))
			default: // failure, error, or anything the suite may add
				name := strings.TrimPrefix(c.Name, "OCI Conformance Test/")
				errText := strings.TrimSpace(c.SystemOut)
				if errText == "" {
					errText = "(status " + c.Status + ", no error text)"
				}
				rep.failed = append(rep.failed, failedCase{name: name, errText: errText, output: strings.TrimSpace(c.SystemErr)})
			}
		}
	}
	return rep, nil
}

// notPassing lists the entries of the suite's "API conformance" and "Data
// conformance" tables (console output) whose status is not Pass.
func notPassing(console string) string {
	i := strings.Index(console, "API conformance:")
	if i < 0 {
		return ""
	}
	var out []string
	for _, l := range strings.Split(console[i:], "\n") {
		name, status, ok := strings.Cut(l, ":")
		if !ok || !strings.HasPrefix(l, "  ") {
			continue
		}
		status = strings.TrimSpace(status)
		if status != "Pass" {
			out = append(out, strings.TrimRight(strings.TrimSpace(name), ".")+"="+status)
		}
	}
	return strings.Join(out, ", ")
}

// lastExchange returns the last request and response of a test case's log.
func lastExchange(output string) string {
	i := strings.LastIndex(output, "~~~ REQUEST ~~~")
	if i < 0 {
		return ""
	}
	s := strings.TrimRight(strings.TrimSpace(output[i:]), "=")
	if len(s) > 2500 {
		s = s[:2500] + "..."
	}
	return strings.TrimSpace(s)
}

func indent(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// The allow-list explains a skip only where the run leaves the area off.
func TestUnexpectedSkips(t *testing.T) {
	cancel := expectedSkips["OCI_API_BLOBS_UPLOAD_CANCEL=true"][0]
	for _, c := range []struct {
		skipped, env, want []string
	}{
		{nil, nil, nil},
		{[]string{cancel}, []string{"OCI_VERSION=1.1"}, nil},
		{[]string{cancel}, []string{"OCI_VERSION=dev", "OCI_API_BLOBS_UPLOAD_CANCEL=true"}, []string{cancel}},
		{[]string{"sha256 pull/manifests/get"}, nil, []string{"sha256 pull/manifests/get"}},
	} {
		if got := unexpectedSkips(c.skipped, c.env, nil); !slices.Equal(got, c.want) {
			t.Errorf("unexpectedSkips(%q, %q) = %q, want %q", c.skipped, c.env, got, c.want)
		}
	}
}

// A run's own allowed list explains its skips and no other.
func TestUnexpectedSkipsAllowedHere(t *testing.T) {
	got := unexpectedSkips([]string{"a", "b"}, nil, []string{"a"})
	if !slices.Equal(got, []string{"b"}) {
		t.Errorf("unexpectedSkips = %q, want [b]", got)
	}
}
