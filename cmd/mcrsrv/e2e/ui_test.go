package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The web UI in a real browser: headless Chromium (Debian's package)
// driven with chromedp against a real mcrsrv holding content pushed by
// crane and oras.

const (
	uiRobot     = "robot"
	uiRobotRule = "robot-push"
	uiRepo      = "ui/app"
	// stepTimeout bounds one browser step: a page that never shows what
	// the step waits for fails it.
	stepTimeout = 30 * time.Second
)

// hostileStrings go into the image's labels, annotations and history: the
// page must show them as text, run nothing and link nowhere.
var hostileStrings = []string{
	`<script>window.__xss=1;alert("label")</script>`,
	`"><img src=x onerror="window.__xss=2">`,
	`javascript:window.__xss=3`,
}

// envScreenshots overrides where TestUIInBrowser saves its screenshots.
const envScreenshots = "MCR_UI_SCREENSHOTS"

// screenshotDir is where the test leaves a PNG of each page: ui-screenshots/
// at the top of the repository (gitignored), or MCR_UI_SCREENSHOTS.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(envScreenshots)
	if dir == "" {
		abs, err := filepath.Abs(filepath.Join("..", "..", "..", "ui-screenshots"))
		if err != nil {
			t.Fatal(err)
		}
		dir = abs
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// prepareUIData makes a data directory with a known admin password, a
// system account (for the access key) and a rule letting it push to ui/.
func prepareUIData(t *testing.T, dir, data string) {
	t.Helper()
	mcrsrv := command{t: t, bin: serverBinary(t), env: append(serverEnviron(), "MCR_LOG_LEVEL=warn"), timeout: time.Minute}
	if err := os.WriteFile(filepath.Join(dir, "admin-pw"), []byte(adminPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"init", "--data", data, "--admin-password-file", filepath.Join(dir, "admin-pw")},
		{"account", "add", "--data", data, "--name", uiRobot, "--type", "system", "--no-password"},
		{"policy", "add", "--data", data, "--id", uiRobotRule, "--priority", "10", "--effect", "allow", "--subject-account", uiRobot,
			"--action", "pull", "--action", "push", "--repo", "ui/**", "--description", "the robot publishes under ui/"},
	} {
		if r := mcrsrv.run(args...); r.err != nil {
			t.Fatal(r.err)
		}
	}
}

// hostileImage writes an OCI layout holding a linux/amd64 image whose
// config and annotations carry hostileStrings.
func hostileImage(t *testing.T, dir string) {
	t.Helper()
	l := newLayout(t, dir)
	layer := l.put(mtLayer, gzipTar(t, "hello.txt", "hello from the UI test\n"))
	labels := map[string]string{}
	annotations := map[string]string{}
	var history []map[string]any
	for i, s := range hostileStrings {
		labels[fmt.Sprintf("org.example.label%d", i)] = s
		annotations[fmt.Sprintf("org.example.note%d", i)] = s
		history = append(history, map[string]any{"created": "2026-01-01T00:00:00Z", "created_by": "/bin/sh -c " + s, "empty_layer": i > 0})
	}
	cfg := l.putJSON(mtConfig, map[string]any{
		"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
		"config": map[string]any{
			"Env": []string{"PATH=/usr/bin", "EVIL=" + hostileStrings[1]}, "Entrypoint": []string{"/bin/app"}, "Cmd": []string{"--serve"},
			"Labels": labels, "WorkingDir": "/srv", "User": "1000:1000",
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{layer.Digest}},
		"history": history,
	})
	m := l.putJSON(mtManifest, manifest{SchemaVersion: 2, MediaType: mtManifest, Config: &cfg, Layers: []descriptor{layer}, Annotations: annotations})
	l.tag(m, "v1")
}

// browserLog collects what must not happen in the browser: console
// errors, uncaught exceptions, failed sub-resources, dialogs (a payload
// that ran).
type browserLog struct {
	mu       sync.Mutex
	problems []string
}

func (b *browserLog) add(format string, args ...any) {
	b.mu.Lock()
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
	b.mu.Unlock()
}

func (b *browserLog) listen(ctx context.Context) error {
	return chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				b.add("console %s: %s", ev.Type, strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			b.add("exception: %s", ev.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				b.add("log %s: %s (%s)", ev.Entry.Level, ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventLoadingFailed:
			if !ev.Canceled {
				b.add("sub-resource failed: %s %s", ev.Type, ev.ErrorText)
			}
		case *network.EventResponseReceived:
			if ev.Type != network.ResourceTypeDocument && ev.Response.Status >= 400 {
				b.add("sub-resource %s answered %d", ev.Response.URL, ev.Response.Status)
			}
		case *page.EventJavascriptDialogOpening:
			b.add("a dialog opened (a payload ran): %q", ev.Message)
			// A listener may not run commands: dismiss from elsewhere, so
			// the page does not hang on the dialog.
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		}
	})
}

func (b *browserLog) check(t *testing.T, step string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Errorf("%s: %s", step, p)
	}
	b.problems = nil
}

// newBrowser starts headless Chromium with a fresh profile and the flags
// of a closed network.
func newBrowser(t *testing.T, dir string) (context.Context, *browserLog) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is required (Debian package chromium): run `make tools`")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.UserDataDir(filepath.Join(dir, "chromium-profile")),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // opens the tab, so the listener misses nothing
		t.Fatalf("starting chromium: %v", err)
	}
	log := &browserLog{}
	if err := log.listen(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return ctx, log
}

// TestUIInBrowser walks the web UI in headless Chromium: sign in, search,
// read an image (layers, config, platforms), follow a referrer, create an
// access key and pull with it, delete a tag, run a GC, test the policy,
// sign out; nothing hostile in the content runs, no console error, no
// failed sub-resource.
func TestUIInBrowser(t *testing.T) {
	requireE2E(t)
	requireOwnServer(t, "with prepared accounts")
	dir := workDir(t, "ui")
	data := filepath.Join(dir, "data")
	prepareUIData(t, dir, data)
	reg := startRegistryOn(t, data, "MCR_AUTH_MODE=builtin")
	base := reg.base + "/ui"
	shots := screenshotDir(t)

	// Content, pushed with the real clients as the admin.
	crane := command{t: t, bin: tool(t, "crane"), env: isolatedEnv(t, filepath.Join(dir, "admin-client")), timeout: 2 * time.Minute}
	oras := command{t: t, bin: tool(t, "oras"), env: crane.env, dir: dir, timeout: 2 * time.Minute}
	f := newFixture(t, filepath.Join(dir, "fixture"), "ui")
	hostileImage(t, filepath.Join(dir, "hostile"))
	img := reg.host + "/" + uiRepo
	sigFile := filepath.Join(dir, "sig.txt")
	if err := os.WriteFile(sigFile, []byte("signature-ish\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		c    command
		args []string
	}{
		{crane, []string{"auth", "login", reg.host, "-u", "admin", "-p", adminPW}},
		{crane, []string{"push", "--insecure", filepath.Join(dir, "hostile"), img + ":v1"}},
		{crane, []string{"push", "--insecure", f.indexDir, img + ":multi"}},
		{crane, []string{"tag", "--insecure", img + ":v1", "doomed"}},
		{oras, []string{"attach", "--plain-http", "--no-tty", "--artifact-type", sigType, img + ":v1", "sig.txt:text/plain"}},
	} {
		if r := step.c.run(step.args...); r.err != nil {
			t.Fatal(r.err)
		}
	}

	ctx, blog := newBrowser(t, dir)
	n := 0
	shot := func(name string) {
		t.Helper()
		n++
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("%02d-%s.png", n, name)), png, 0o644); err != nil {
			t.Fatal(err)
		}
		blog.check(t, name)
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, stepTimeout)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(step, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: text of %s: %v", step, sel, err)
		}
		return s
	}
	expect := func(step, sel string, wants ...string) {
		t.Helper()
		got := text(step, sel)
		for _, w := range wants {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %s does not show %q:\n%s", step, sel, w, got)
			}
		}
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	visible := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(css(sel)) }

	// Sign in.
	do("anonymous", chromedp.Navigate(base+"/"), visible("#login"))
	shot("anonymous")
	do("sign in", chromedp.Click(css("#login")), visible("#user"))
	shot("sign-in")
	do("sign in", chromedp.SendKeys(css("#user"), "admin"), chromedp.SendKeys(css("#password"), adminPW),
		chromedp.Click(css("#signin")), visible("#logout"))

	// Find the repository by search.
	do("search", chromedp.SendKeys(css("#q"), "ui/"), chromedp.Submit(css("#q")), visible("#repos"))
	expect("search", "#repos", uiRepo)
	shot("repositories")
	do("open repository", chromedp.Click(css(`#repos a[href="/ui/r/`+uiRepo+`"]`)), visible("#tags"))
	expect("repository", "#tags", "v1", "doomed", "multi", "index", "linux/amd64, linux/arm64", "image")
	shot("repository")

	// The image: layers, config, the hostile strings as text.
	do("open image", chromedp.Click(css(`#tags a[href="/ui/r/`+uiRepo+`/-/manifest/v1"]`)), visible("#layers"))
	expect("image", "#layers", "application/vnd.oci.image.layer.v1.tar+gzip")
	expect("image", "#config", "linux/amd64", "/bin/app", "--serve", "/srv", "1000:1000")
	expect("image", "#labels", hostileStrings[0], hostileStrings[1])
	expect("image", "#history", "/bin/sh -c "+hostileStrings[2])
	expect("image", "#annotations", hostileStrings[1])
	live, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(window.__xss || 0) + document.querySelectorAll('img, iframe, a[href^="javascript:"], [onerror]').length`))
	if err != nil || live != 0 {
		t.Errorf("hostile content became live markup or ran: %d, %v", live, err)
	}
	shot("image")
	do("phone width", chromedp.EmulateViewport(390, 844))
	shot("image-phone")
	do("desktop width", chromedp.EmulateViewport(1280, 900))

	// Follow the referrer.
	expect("referrers", "#referrers", sigType)
	do("follow referrer", chromedp.Click(css("#referrers a")), visible("#facts"))
	expect("referrer", "#facts", sigType)
	shot("referrer")

	// The index's platform grid, and a child.
	do("index", chromedp.Navigate(base+"/r/"+uiRepo+"/-/manifest/multi"), visible("#platforms"))
	expect("index", "#platforms", "linux/amd64", "linux/arm64")
	shot("index")
	do("child", chromedp.Click(css("#platforms a.card")), visible("#layers"))
	expect("child", "#config", "linux/amd64")

	// An access key for the robot, used with crane.
	do("accounts", chromedp.Navigate(base+"/accounts"), visible("#accounts"),
		chromedp.Click(`//table[@id="accounts"]//a[text()="`+uiRobot+`"]`), visible("#create-key"),
		chromedp.SendKeys(css("#key-description"), "browser test"), chromedp.Click(css("#create-key")), visible("#secret"))
	key, err := chromedp.Run(ctx, chromedp.Value(css("#secret")))
	if err != nil {
		t.Fatal(err)
	}
	shot("access-key")
	robot := command{t: t, bin: crane.bin, env: isolatedEnv(t, filepath.Join(dir, "robot-client")), timeout: 2 * time.Minute}
	if r := robot.run("auth", "login", reg.host, "-u", uiRobot, "-p", key); r.err != nil {
		t.Fatal(r.err)
	}
	if r := robot.run("manifest", "--insecure", img+":v1"); r.err != nil {
		t.Errorf("crane with the UI's access key: %v", r.err)
	}

	// Delete a tag and see it gone.
	do("delete", chromedp.Navigate(base+"/r/"+uiRepo), visible("#tags"),
		chromedp.Click(css(`#tags a[href$="/-/delete?tag=doomed"]`)), visible("#confirm-delete"))
	shot("delete-confirm")
	do("confirm delete", chromedp.Click(css("#confirm-delete")), visible("#tags"))
	if got := text("after delete", "#tags"); strings.Contains(got, "doomed") || !strings.Contains(got, "v1") {
		t.Errorf("after the delete the tags are:\n%s", got)
	}
	if r := crane.run("ls", "--insecure", img); r.err != nil || strings.Contains(r.stdout, "doomed") {
		t.Errorf("crane ls after the delete: %v %q", r.err, r.stdout)
	}

	// Run a GC and see it finish: the page follows it live, then reloads.
	do("gc", chromedp.Navigate(base+"/gc"), visible("#gc-run"), chromedp.Click(css("#gc-run")))
	// The page reloads itself when the run ends, which ends any one
	// evaluation: poll across reloads, until the deadline.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("gc-last") !== null && document.getElementById("gc-last").textContent.includes("succeeded")`))
		if err == nil && done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the GC page never showed the run finished (last: %v)", err)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	do("gc report", visible("#gc-report"))
	expect("gc", "#gc-runs", "1")
	shot("gc")

	// Test a policy request and read the deciding rule.
	do("policy", chromedp.Navigate(base+"/policy"), visible("#policy-test"),
		chromedp.SendKeys(css("#test-who"), uiRobot), chromedp.SetValue(css("#test-action"), "push"),
		chromedp.SendKeys(css("#test-repo"), uiRepo), chromedp.Click(css("#test-run")), visible("#decision"))
	expect("policy", "#decision", "Allowed")
	if rule := text("policy", "#deciding-rule"); rule != uiRobotRule {
		t.Errorf("deciding rule %q, want %s", rule, uiRobotRule)
	}
	shot("policy")

	// Status, and the audit log with its chain verified.
	do("status", chromedp.Navigate(base+"/status"), visible("#status"))
	expect("status", "#status", "succeeded")
	shot("status")
	do("audit", chromedp.Navigate(base+"/audit?verify=1"), visible("#verify"))
	expect("audit", "#verify", "Chain intact")
	expect("audit", "#events", "access key", "delete")
	shot("audit")

	// Sign out: the UI is anonymous again, and the repository asks to sign in.
	do("sign out", chromedp.Click(css("#logout")), visible("#login"))
	do("after sign-out", chromedp.Navigate(base+"/r/"+uiRepo), visible("#signin"))
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.Contains(loc, "/ui/login?next=") {
		t.Errorf("after sign-out the repository page went to %s (%v)", loc, err)
	}
	shot("signed-out")
}

// gzipTar is a gzip'd tarball of one file.
func gzipTar(t *testing.T, name, content string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(tarOf(t, name, content)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
