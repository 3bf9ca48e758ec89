package haproxy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5} {
		var addrs []string
		for i := range n {
			addrs = append(addrs, "127.0.0.1:"+string(rune('6'+i%4))+"001")
		}
		conf, err := Render("127.0.0.1:7000", "127.0.0.1:7001", addrs)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(conf, "127.0.0.1:500") || strings.Contains(conf, ":8404") {
			t.Errorf("%d replicas: an example address is left:\n%s", n, conf)
		}
		if got := strings.Count(conf, "\n    server mcr"); got != n {
			t.Errorf("%d replicas: %d server lines:\n%s", n, got, conf)
		}
		for i, a := range addrs {
			if !strings.Contains(conf, "    server mcr"+string(rune('1'+i))+" "+a+"\n") {
				t.Errorf("%d replicas: no line for mcr%d at %s", n, i+1, a)
			}
		}
		if !strings.Contains(conf, "bind 127.0.0.1:7000 ") || !strings.Contains(conf, "bind 127.0.0.1:7001 ") {
			t.Errorf("%d replicas: binds not replaced", n)
		}
		// HAProxy itself accepts it, where it is installed.
		if bin, err := exec.LookPath("haproxy"); err == nil {
			path := filepath.Join(t.TempDir(), "haproxy.cfg")
			if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
				t.Errorf("%d replicas: haproxy -c: %v\n%s", n, err, out)
			}
		}
	}
	if _, err := Render("a", "b", nil); err == nil {
		t.Error("Render with no replica succeeded")
	}
}
