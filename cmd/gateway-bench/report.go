package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/llm-platform/llm-platform/internal/nginxproc"
)

func verdict(ok bool) string {
	if ok {
		return "OK"
	}
	return "MISSED"
}

func workersString(n int) string {
	if n == 0 {
		return "auto"
	}
	return strconv.Itoa(n)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}

func nginxVersion(bin string) string {
	out, _ := exec.Command(bin, "-v").CombinedOutput()
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: ")
}

// ---------------------------------------------------------------------------------------
// Output

// printTable prints one row per target of the result that of picks.
func printTable(ts []*target, of func(*target) *result) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\trequests\treq/s\tp50\tp90\tp99\terrors\tnginx CPU/req\t")
	for _, t := range ts {
		r := of(t)
		cpu := "-"
		if t.pid != 0 && r.requests > 0 {
			cpu = fmt.Sprintf("%.1f µs", float64(r.cpuTicks)*1e6/clockTicksPerSecond/float64(r.requests))
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%d\t%s\t\n", t.name, r.requests, r.rps(),
			ms(r.pct(50)), ms(r.pct(90)), ms(r.pct(99)), r.errors, cpu)
	}
	_ = tw.Flush()
}

// clockTicksPerSecond is USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on Linux).
const clockTicksPerSecond = 100

// cpuTicks is the user+system CPU time of the nginx master pid and its direct children (the
// workers), in clock ticks; 0 when pid is 0 or /proc is unavailable.
func cpuTicks(pid int) int64 {
	if pid == 0 {
		return 0
	}
	var total int64
	for _, p := range nginxproc.Pids() {
		f, ok := nginxproc.StatFields(p)
		if !ok || len(f) < 13 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); p != pid && ppid != pid {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += ut + st
	}
	return total
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }

func signed(d time.Duration) string {
	s := ms(d)
	if d >= 0 {
		s = "+" + s
	}
	return s
}
