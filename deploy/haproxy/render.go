package haproxy

import (
	_ "embed"
	"fmt"
	"strings"
)

// Example is the committed configuration, haproxy.cfg.
//
//go:embed haproxy.cfg
var Example string

// The example's placeholder addresses (lines marked "# EDIT").
const (
	exampleFront = "bind 127.0.0.1:5000 "
	exampleStats = "bind 127.0.0.1:8404 "
	// exampleServers is how many server lines the example has.
	exampleServers = 3
)

// Render is Example with the front end bound to front, the statistics
// page to stats, and one server line per address of replicas (named
// mcr1, mcr2, ... in order) in place of the example's three. A
// placeholder that went missing from the example is an error, so the
// example and its users cannot drift apart.
func Render(front, stats string, replicas []string) (string, error) {
	if len(replicas) == 0 {
		return "", fmt.Errorf("haproxy: no replica to balance")
	}
	conf := Example
	for old, new := range map[string]string{exampleFront: "bind " + front + " ", exampleStats: "bind " + stats + " "} {
		if strings.Count(conf, old) != 1 {
			return "", fmt.Errorf("haproxy.cfg no longer contains %q once: update the placeholders of deploy/haproxy", old)
		}
		conf = strings.Replace(conf, old, new, 1)
	}
	lines := strings.SplitAfter(conf, "\n")
	first := -1
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "server mcr1 127.0.0.1:5001 ") {
			first = i
			break
		}
	}
	if first < 0 || first+exampleServers > len(lines) {
		return "", fmt.Errorf("haproxy.cfg no longer has its %d example server lines: update deploy/haproxy", exampleServers)
	}
	for k := range exampleServers {
		want := fmt.Sprintf("server mcr%d 127.0.0.1:500%d ", k+1, k+1)
		if !strings.HasPrefix(strings.TrimSpace(lines[first+k]), want) {
			return "", fmt.Errorf("haproxy.cfg line %d is not %q: update deploy/haproxy", first+k+1, want)
		}
	}
	indent := lines[first][:len(lines[first])-len(strings.TrimLeft(lines[first], " \t"))]
	var servers strings.Builder
	for i, addr := range replicas {
		fmt.Fprintf(&servers, "%sserver mcr%d %s\n", indent, i+1, addr)
	}
	out := strings.Join(lines[:first], "") + servers.String() + strings.Join(lines[first+exampleServers:], "")
	return out, nil
}
