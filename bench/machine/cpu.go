package machine

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of /proc CPU times: 100 on every Linux
// architecture Go supports.
const clockTick = 100

// CPU is a snapshot of CPU time: the whole machine's busy time, this
// process's, and one other process's.
type CPU struct {
	At      time.Time
	Machine time.Duration // busy (not idle or iowait) time of all cores
	Self    time.Duration // this process, user + system
	Proc    time.Duration // the watched process, user + system
}

// SnapCPU reads the CPU times now; pid ≤ 0 watches no process.
func SnapCPU(pid int) CPU {
	c := CPU{At: time.Now(), Machine: machineBusy()}
	c.Self = SelfCPU()
	if pid > 0 {
		c.Proc = ProcCPU(pid)
	}
	return c
}

// SelfCPU is this process's user + system time so far (getrusage).
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ThreadCPU is the CPU time of the calling thread so far, from
// /proc/thread-self/schedstat in nanoseconds, or this process's
// (SelfCPU) where the kernel keeps no schedstat. The caller locks its
// goroutine to the thread (runtime.LockOSThread) around what it times.
func ThreadCPU() time.Duration {
	if d, ok := schedstat("/proc/thread-self/schedstat"); ok {
		return d
	}
	return SelfCPU()
}

// schedstat reads the time on a CPU, in nanoseconds, from a schedstat
// file of /proc.
func schedstat(path string) (time.Duration, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	return time.Duration(ns), err == nil
}

// Usage is the cores used between two snapshots by the watched process,
// this process, and everything else on the machine.
type Usage struct{ Proc, Self, Others float64 }

// Since is the usage from a to b.
func (b CPU) Since(a CPU) Usage {
	wall := b.At.Sub(a.At).Seconds()
	if wall <= 0 {
		return Usage{}
	}
	u := Usage{
		Proc: (b.Proc - a.Proc).Seconds() / wall,
		Self: (b.Self - a.Self).Seconds() / wall,
	}
	u.Others = max(0, (b.Machine-a.Machine).Seconds()/wall-u.Proc-u.Self)
	return u
}

func ticks(n uint64) time.Duration { return time.Duration(n) * time.Second / clockTick }

// machineBusy sums the non-idle fields of the "cpu" line of /proc/stat.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy uint64
	// user nice system idle iowait irq softirq steal: all but idle, iowait.
	for i, s := range f[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		v, _ := strconv.ParseUint(s, 10, 64)
		busy += v
	}
	return ticks(busy)
}

// ProcCPU is the CPU time pid has used: the sum over its threads of
// their time on a CPU from /proc/<pid>/task/*/schedstat, in nanoseconds
// (user and system alike), or, where the kernel keeps no schedstat,
// utime + stime from /proc/<pid>/stat in ticks of 10 ms. A window of one
// 256 MiB pull costs a registry tens of milliseconds, so ticks would say
// little. The time of a thread that exits is lost with it; Go runtimes
// (both registries) keep their threads.
func ProcCPU(pid int) time.Duration {
	if d, ok := schedCPU(pid); ok {
		return d
	}
	return statCPU(pid)
}

func schedCPU(pid int) (time.Duration, bool) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	var sum time.Duration
	for _, t := range tasks {
		path := dir + "/" + t.Name() + "/schedstat"
		d, ok := schedstat(path)
		if !ok {
			if _, err := os.Stat(path); err != nil {
				continue // the thread exited meanwhile
			}
			return 0, false
		}
		sum += d
	}
	return sum, len(tasks) > 0
}

// statCPU is utime + stime of pid from /proc/<pid>/stat.
func statCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; fields resume after its ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseUint(f[11], 10, 64) // field 14, utime
	k, _ := strconv.ParseUint(f[12], 10, 64) // field 15, stime
	return ticks(u + k)
}

// LoadAvg is the first field of /proc/loadavg.
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
