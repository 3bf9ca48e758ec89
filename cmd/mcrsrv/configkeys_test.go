package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// `make deploy-config` runs TestConfigFiles with -update to regenerate the
// files it checks.
var update = flag.Bool("update", false, "rewrite deploy/mcr.toml and the key table of docs/operations.md")

const (
	deployConfig  = "../../deploy/mcr.toml"
	operationsDoc = "../../docs/operations.md"
	tableBegin    = "<!-- config keys: generated from cmd/mcrsrv/configkeys.go by `make deploy-config`; do not edit -->\n"
	tableEnd      = "<!-- end of config keys -->\n"
)

// Every key of Config has its line in keyDocs, and every line names a key.
func TestConfigKeysDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range configKeys(reflect.ValueOf(Defaults())) {
		seen[k.Path] = true
		if strings.TrimSpace(keyDocs[k.Path]) == "" {
			t.Errorf("config key %s (%s) has no line in keyDocs (cmd/mcrsrv/configkeys.go): add one, then `make deploy-config`", k.Path, k.Env())
		}
		if k.Name == "" {
			t.Errorf("a field of table %q has no toml tag", k.Table)
		}
	}
	for p := range keyDocs {
		if !seen[p] {
			t.Errorf("keyDocs has %q, which is no key of Config", p)
		}
	}
	if len(seen) < 40 {
		t.Fatalf("only %d keys found: the walk misses tables", len(seen))
	}
}

// deploy/mcr.toml is `mcrsrv config default`, and docs/operations.md's key
// table is generated from the same keys: both fail here when the code
// moves on without them.
func TestConfigFiles(t *testing.T) {
	var toml, table bytes.Buffer
	if err := writeDefaultConfig(&toml); err != nil {
		t.Fatal(err)
	}
	if err := writeKeyTable(&table); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(operationsDoc)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(doc), tableBegin)
	_, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok1 || !ok2 {
		t.Fatalf("%s lacks the markers around the key table:\n%s%s", operationsDoc, tableBegin, tableEnd)
	}
	wantDoc := before + tableBegin + table.String() + tableEnd + after
	if *update {
		if err := os.MkdirAll(filepath.Dir(deployConfig), 0o755); err != nil {
			t.Fatal(err)
		}
		for path, b := range map[string]string{deployConfig: toml.String(), operationsDoc: wantDoc} {
			if err := os.WriteFile(path, []byte(b), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, err := os.ReadFile(deployConfig); err != nil || string(got) != toml.String() {
		t.Errorf("%s is not the output of `mcrsrv config default` (%v; %s): run `make deploy-config`", deployConfig, err, firstDiff(string(got), toml.String()))
	}
	if string(doc) != wantDoc && !*update {
		t.Errorf("the key table of %s is not generated from the code (%s): run `make deploy-config`", operationsDoc, firstDiff(string(doc), wantDoc))
	}

	// The file reads back into the defaults and passes the checker.
	c, err := Load(deployConfig, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Defaults()) {
		t.Errorf("%s reads back as\n%+v\nnot the defaults\n%+v", deployConfig, c, Defaults())
	}
	var out bytes.Buffer
	if err := checkConfig(deployConfig, nil, &out); err != nil || !strings.HasSuffix(out.String(), ": ok\n") {
		t.Errorf("config check %s: %v\n%s", deployConfig, err, out.String())
	}
}

// firstDiff describes the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d is %q, want %q", i+1, gl, wl)
		}
	}
	return "equal"
}

// config check reports every problem of a file at once: unknown keys (with
// a suggestion), a value of the wrong type or form, a table written as a
// value, a value Validate refuses, and warns about unknown variables. A
// data directory that does not exist is no problem.
func TestConfigCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mcr.toml")
	content := `addr = "127.0.0.1:6000"
data = "/nonexistent/mcr-data"
log = "json"
[http]
read_timout = "1m"
write_timeout = 30
idle_timeout = "2 minutes"
concurrency = "many"
[gc]
duty = 2.0
[nosuch]
a = 1
b = 2
[auth.mcias]
timeout = "1s"
`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := checkConfig(path, []string{"MCR_HTTP_CONCURENCY=3", "MCR_SERVER=http://x", "MCR_UPLOADS_WORKERS=x"}, &out)
	if err == nil || !strings.Contains(err.Error(), "8 problem(s)") {
		t.Errorf("check error %v, want 8 problems", err)
	}
	for _, want := range []string{
		`log: want a table ([log]), found string`,
		`http.read_timout: unknown key (did you mean http.read_timeout?)`,
		`http.write_timeout: toml: line 6`,
		`http.idle_timeout: toml: line 7`,
		`http.concurrency: toml: line 8`,
		`nosuch: unknown key`,
		`MCR_UPLOADS_WORKERS="x"`,
		`gc.duty 2: want a share`,
		`warning: MCR_HTTP_CONCURENCY is not a configuration variable`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, unwanted := range []string{"nosuch.a", "MCR_SERVER", "data", "addr"} {
		if strings.Contains(out.String(), unwanted) {
			t.Errorf("output mentions %q:\n%s", unwanted, out.String())
		}
	}

	// A good file, named by MCR_CONFIG through the real command line.
	good := filepath.Join(t.TempDir(), "good.toml")
	if err := os.WriteFile(good, []byte("data = \"/var/lib/mcr\"\n[log]\nformat = \"json\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MCR_CONFIG", good)
	cmd := app()
	out.Reset()
	cmd.Writer = &out
	// Ends with ok, after warnings about whatever MCR_* variables this
	// test process has (make test exports its MCR_E2E knobs).
	if err := cmd.Run(context.Background(), []string{"mcrsrv", "config", "check"}); err != nil || !strings.HasSuffix(out.String(), "\n"+good+": ok\n") && out.String() != good+": ok\n" {
		t.Errorf("config check with MCR_CONFIG: %v %q", err, out.String())
	}
	if err := checkConfig("", nil, &out); err == nil {
		t.Error("check without a file succeeded")
	}
}

// Every key can be set by its variable: each variable set to the key's
// default as written in the file gives back the defaults (a key of a type
// setField cannot parse fails here).
func TestEnvSetsEveryKey(t *testing.T) {
	var environ []string
	for _, k := range configKeys(reflect.ValueOf(Defaults())) {
		v, err := tomlValue(k.Value)
		if err != nil {
			t.Fatal(err)
		}
		if k.Value.Kind() == reflect.Slice { // a comma-separated list
			v = strings.NewReplacer("[", "", "]", "", `"`, "", " ", "").Replace(v)
		}
		environ = append(environ, k.Env()+"="+strings.Trim(v, `"`))
	}
	zero := Config{}
	if errs := applyEnv(&zero, envMap(environ)); len(errs) > 0 {
		t.Fatalf("applyEnv: %v", errs)
	}
	if !reflect.DeepEqual(zero, Defaults()) {
		t.Errorf("every MCR_* variable set to its default gives\n%+v\nnot\n%+v", zero, Defaults())
	}
}

func TestUnknownEnv(t *testing.T) {
	got := unknownEnv([]string{"MCR_ADDR=x", "MCR_LOG_FORMAT=json", "MCR_CONFIG=f", "MCR_TOKEN=t", "MCR_DATADIR=/x", "MCR_GC_DUTY=1", "MCR_AUTH_MCIAS_URLS=u", "PATH=/bin"})
	if want := []string{"MCR_AUTH_MCIAS_URLS", "MCR_DATADIR"}; !reflect.DeepEqual(got, want) {
		t.Errorf("unknownEnv = %v, want %v", got, want)
	}
}

// Durations and sizes are written the way people write them and read back
// to the same value.
func TestConfigValueText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Minute: "30m", 168 * time.Hour: "168h", 90 * time.Minute: "1h30m", 0: "0s",
		1500 * time.Millisecond: "1.5s", 2*time.Minute + 30*time.Second: "2m30s", time.Hour + 30*time.Second: "1h0m30s",
	} {
		b, _ := Duration{d}.MarshalText()
		var back Duration
		if string(b) != want || back.UnmarshalText(b) != nil || back.Duration != d {
			t.Errorf("%v: written %q (want %q), read back %v", d, b, want, back.Duration)
		}
	}
	for n, want := range map[uint64]string{0: "0", 192 << 20: "192MiB", 1 << 30: "1GiB", 1536: "1536", 1500: "1500", 3 << 40: "3TiB"} {
		b, _ := Size{n}.MarshalText()
		var back Size
		if string(b) != want || back.UnmarshalText(b) != nil || back.Bytes != n {
			t.Errorf("%d: written %q (want %q), read back %d", n, b, want, back.Bytes)
		}
	}
	if s, err := tomlValue(reflect.ValueOf(1.0)); err != nil || s != "1.0" {
		t.Errorf("float 1 written %q, %v", s, err)
	}
	if s := tomlString("a\"b\\c\nd"); s != `"a\"b\\c\u000Ad"` {
		t.Errorf("tomlString: %s", s)
	}
}

// writeKeyTable writes the Markdown table of every key for
// docs/operations.md (make deploy-config runs it through TestConfigFiles).
func writeKeyTable(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| key | env | default | meaning |\n| --- | --- | --- | --- |\n")
	for _, k := range configKeys(reflect.ValueOf(Defaults())) {
		v, err := tomlValue(k.Value)
		if err != nil {
			return fmt.Errorf("%s: %w", k.Path, err)
		}
		if len(v) > 2 && v[0] == '"' {
			v = v[1 : len(v)-1]
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | `%s` | %s |\n", k.Path, k.Env(), v, strings.ReplaceAll(keyComment(k.Path), "|", `\|`))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
