package main

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"git.wntrmute.dev/kyle/mcr/bench/machine"
	"git.wntrmute.dev/kyle/mcr/bench/scenario"
)

// Run is what every report of the harness records about the run itself:
// when, on which machine, from which command, with which configuration
// and versions, and the figures of each measured thing (a registry of a
// comparison, a cluster size of the replicas run). Report and
// ReplicasReport embed it, so its fields stand at the top level of their
// JSON.
type Run struct {
	Date      time.Time                       `json:"date"`
	Machine   machine.Info                    `json:"machine"`
	Versions  map[string]string               `json:"versions"`
	Command   string                          `json:"command"`
	Config    scenario.Config                 `json:"config"`
	Rounds    int                             `json:"rounds"`
	Raw       map[string][][]*scenario.Result `json:"raw"`    // measured thing → rounds → results
	Median    map[string]map[string]float64   `json:"median"` // measured thing → metric key → median
	Failed    bool                            `json:"failed"`
	LoadStart float64                         `json:"loadavg_start"`
	LoadEnd   float64                         `json:"loadavg_end"`
	Elapsed   time.Duration                   `json:"elapsed_ns"`

	started time.Time // Date with its monotonic reading, for Elapsed
}

// newRun begins the record of `go run ./bench <sub> args`: the time, the
// machine and its load, and the versions of the harness and of the tree.
func newRun(sub string, args []string, cfg scenario.Config, rounds int) Run {
	now := time.Now()
	r := Run{
		Date: now.UTC(), Machine: machine.Describe(), Command: "go run ./bench " + sub + " " + strings.Join(args, " "),
		Config: cfg, Rounds: rounds, Versions: map[string]string{"go (harness)": runtime.Version()},
		Raw: map[string][][]*scenario.Result{}, Median: map[string]map[string]float64{},
		LoadStart: machine.LoadAvg(), started: now,
	}
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		r.Versions["tree"] = strings.TrimSpace(string(out))
	}
	return r
}

// end records how long the run took and the load at its end.
func (r *Run) end() {
	r.Elapsed = time.Since(r.started)
	r.LoadEnd = machine.LoadAvg()
}

// writeVersions writes the report's line of versions: those of the
// registries named, the harness's and the tree's.
func (r *Run) writeVersions(b *strings.Builder, registries ...string) {
	b.WriteString("- ")
	for _, name := range registries {
		fmt.Fprintf(b, "%s: `%s`; ", name, r.Versions[name])
	}
	fmt.Fprintf(b, "harness: %s", r.Versions["go (harness)"])
	if t := r.Versions["tree"]; t != "" {
		fmt.Fprintf(b, "; tree: `%s`", t)
	}
	b.WriteString("\n")
}

// writeFailures lists, when the run failed, every failed operation of the
// measured things keys, in that order.
func (r *Run) writeFailures(b *strings.Builder, keys []string) {
	if !r.Failed {
		return
	}
	b.WriteString("\n**The run had errors**:\n\n")
	for _, key := range keys {
		for i, rs := range r.Raw[key] {
			for _, res := range rs {
				if res.Failed() {
					fmt.Fprintf(b, "- %s, round %d, %s: %d error(s): `%s`\n", key, i+1, res.Scenario, res.Errors, strings.Join(res.Samples, "`; `"))
				}
			}
		}
	}
}
