package machine

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// TreeCPU is the CPU time (ProcCPU) of pid and of each of its children
// now, by process id: PostgreSQL serves each connection in a child of
// its postmaster.
type TreeCPU map[int]time.Duration

// SnapTree reads the CPU times of pid and its children.
func SnapTree(pid int) TreeCPU {
	t := TreeCPU{pid: ProcCPU(pid)}
	for _, c := range children(pid) {
		t[c] = ProcCPU(c)
	}
	return t
}

// Since is the CPU the tree used from a to b: each process's time in b
// less its time in a (0 for one started since). The time of a process
// that exited in between is lost; PostgreSQL's pooled backends live as
// long as their connections.
func (b TreeCPU) Since(a TreeCPU) time.Duration {
	var sum time.Duration
	for pid, t := range b {
		sum += max(0, t-a[pid])
	}
	return sum
}

// children lists the processes whose parent is pid, from /proc/*/stat.
func children(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// Fields resume after the command name's ')': state, then ppid.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, c)
		}
	}
	return out
}
