package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// group is a child started in a process group of its own, so that it and
// everything it starts (the go command's tool, a viewer's helpers) are
// killed together and none of them outlives the benchmark.
type group struct {
	cmd *exec.Cmd
	// exited is closed once the leader has exited and been waited for,
	// by the goroutine startGroup starts; err is Wait's error then.
	exited chan struct{}
	err    error
}

// startGroup starts cmd as the leader of a new process group. Its one
// goroutine waits for the leader, and ends when it exits, which stop
// forces.
func startGroup(cmd *exec.Cmd) (*group, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(cmd.Path), err)
	}
	g := &group{cmd: cmd, exited: make(chan struct{})}
	go func() {
		g.err = cmd.Wait()
		close(g.exited)
	}()
	return g, nil
}

// peakRSS returns the sum of the peak resident set sizes (VmHWM) of the
// processes of the group alive now. It is read before the group is killed,
// since a killed grandchild is reaped by init and its rusage never reaches
// this process.
func (g *group) peakRSS() int64 {
	var sum int64
	for _, pid := range groupPIDs(g.cmd.Process.Pid) {
		sum += vmHWM(pid)
	}
	return sum
}

// stop kills the whole group and waits for its leader. It is safe to call
// more than once, and is deferred right after the start. A leader killed
// as intended, or one that exited with a status of its own, is no error:
// the caller learns what happened from its output.
func (g *group) stop() error {
	// The group may be gone already, which is no error either.
	_ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
	<-g.exited
	var exit *exec.ExitError
	if errors.As(g.err, &exit) {
		return nil
	}
	return g.err
}

// groupPIDs lists the processes whose process group is pgid.
func groupPIDs(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// The command name in parentheses may hold spaces: the fields
		// that follow it are state, ppid and pgrp.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// vmHWM returns the peak resident set size of a process in bytes, or 0
// when it has exited.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// loadAverages returns the 1, 5 and 15 minute load averages as the kernel
// prints them, for the machine line.
func loadAverages() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// tail keeps the last bytes written to it: a child's stderr, quoted when
// the child fails, without holding a long progress bar's whole output.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

// tailSize is how much of a child's stderr an error quotes.
const tailSize = 4 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

// String returns the kept bytes, with carriage returns of progress bars
// turned into line breaks.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(strings.ReplaceAll(string(t.buf), "\r", "\n"))
}
