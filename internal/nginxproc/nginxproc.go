// Package nginxproc runs a foreground nginx on loopback for the gateway's
// integration tests and its benchmark: start, wait until it serves, stop.
package nginxproc

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a running nginx (master) in its own process group.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	out    lockedBuffer
}

// Start runs argv with env added to the environment and waits until ready
// reports true. It fails with nginx's output when nginx exits first or is
// not ready within timeout.
func Start(argv, env []string, ready func() bool, timeout time.Duration) (*Process, error) {
	p := &Process{cmd: exec.Command(argv[0], argv[1:]...), exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	// Its own group, so Stop can kill the workers too if the master hangs.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(timeout)
	for !ready() {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("nginx exited: %s", p.Output())
		default:
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("nginx not ready after %v: %s", timeout, p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p, nil
}

// Pid is the master's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the master has exited (after a graceful quit, say).
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Output is what nginx wrote to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }

// Stop asks nginx to stop (SIGTERM: nginx's fast shutdown, which cuts open streams) and
// kills its process group after 5 s.
func (p *Process) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
}

// Listening is a readiness check: addr accepts TCP connections.
func Listening(addr string) func() bool {
	return func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

// lockedBuffer is written by the child's output copier and read by callers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Workers returns the pids of the master's child processes (nginx's workers).
func (p *Process) Workers() []int { return children(p.Pid()) }

func children(pid int) []int {
	var out []int
	for _, child := range Pids() {
		if f, ok := StatFields(child); ok && len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// Pids lists the processes in /proc.
func Pids() []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// StatFields are the fields of /proc/<pid>/stat after the parenthesised command name (which
// may hold spaces): state, ppid, ... utime is [11], stime [12].
func StatFields(pid int) ([]string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, false
	}
	return strings.Fields(string(b[i+1:])), true
}

// RSS is the resident set size (VmRSS in /proc/<pid>/status) of pid, in bytes.
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmRSS of %d: %w", pid, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// WorkersRSS is the summed VmRSS of the nginx workers, in bytes.
func (p *Process) WorkersRSS() (int64, error) {
	var total int64
	for _, w := range p.Workers() {
		rss, err := RSS(w)
		if err != nil {
			return 0, err
		}
		total += rss
	}
	return total, nil
}

// userHZ is the unit of utime and stime in /proc/<pid>/stat: USER_HZ, 100 on every Linux
// architecture Go supports (sysconf(_SC_CLK_TCK); the kernel's ABI fixes it).
const userHZ = 100

// CPUTime is the CPU time (user + system) the master and its workers have used so far.
func (p *Process) CPUTime() (time.Duration, error) {
	var ticks int64
	for _, pid := range append([]int{p.Pid()}, p.Workers()...) {
		f, ok := StatFields(pid)
		if !ok || len(f) < 13 {
			return 0, fmt.Errorf("reading /proc/%d/stat", pid)
		}
		for _, v := range f[11:13] {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
			}
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
