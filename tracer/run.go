package tracer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/exp/trace"
)

// DefaultTimeout bounds a run whose options set none.
const DefaultTimeout = 10 * time.Second

// TracePeriod is the length of a trace generation in the child. The trace
// reaches the reader one generation at a time, so this is about the delay
// with which a live view follows the child (measured: p50 25 ms at 50 ms).
const TracePeriod = 50 * time.Millisecond

// outputCap bounds what is kept of the child's stdout and of its stderr.
const outputCap = 1 << 20

// Limits of a child, past which the runner kills it and says why. A puzzle
// stays far below both; a runaway program must not take the machine or the
// server's memory with it.
const (
	// MemoryCap bounds the child's resident memory, checked every
	// limitPoll from /proc (a -race child's shadow memory counts only as
	// far as it is touched).
	MemoryCap = 2 << 30
	// TraceCap bounds the bytes of trace read from one child.
	TraceCap  = 256 << 20
	limitPoll = 50 * time.Millisecond
)

// RunOptions says what to run and how to follow it.
type RunOptions struct {
	Scenario string
	// Variant is "broken" (the default), "fixed" (the default fixed
	// variant) or a variant's name.
	Variant string
	// Timeout bounds the run; 0 means DefaultTimeout. When it expires the
	// child's whole process group is killed.
	Timeout time.Duration
	// OnUpdate, if set, receives what changed in the timeline once per
	// trace generation while the child runs, on the goroutine reading the
	// trace. It must not block for long: the child's trace pipe fills.
	OnUpdate func(*Update)
	// TraceOut, if set, receives a copy of the raw trace.
	TraceOut io.Writer
	// OnStatus, if set, hears about slow preparations before the child
	// starts (building the race detector's child), in words for a person.
	OnStatus func(text string)
	// Profile asks for a profile of the run: ProfileCPU or ProfileWall;
	// "" for none. It lands in Result.Profile.
	Profile string
	// Source, if set, is a learner's edit of the scenario's file: the
	// run builds a child with it in place of the catalog's file (with the
	// local Go toolchain, cached by content; custom.go) and runs Variant
	// of that. An edit that does not build gives a *CompileError.
	Source string
}

// The kinds of profile a run can record.
const (
	ProfileCPU  = "cpu"  // runtime/pprof CPU profile: where the CPUs went
	ProfileWall = "wall" // fgprof wall-clock profile: running and blocked time
)

// Result is what a run produced.
type Result struct {
	Report   *Report
	Timeline *Timeline
	// Profile is the run's profile in pprof's gzipped protobuf format
	// (what `go tool pprof` reads), when one was asked for and the child
	// lived to write it.
	Profile []byte
}

// Run runs one variant of a scenario in a child process and diagnoses it.
// An unknown scenario gives an error that errors.As to
// *scenarios.UnknownError. A cancelled ctx kills the child and returns the
// context's error with the partial result.
func Run(ctx context.Context, opt RunOptions) (*Result, error) {
	s, err := LookupScenario(opt.Scenario)
	if err != nil {
		return nil, err
	}
	v, err := s.Variant(opt.Variant)
	if err != nil {
		return nil, err
	}
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var warnings []string
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("run %s: find own executable: %w", s.ID, err)
	}
	switch opt.Profile {
	case "", ProfileCPU, ProfileWall:
	default:
		return nil, fmt.Errorf("unknown profile kind %q (want %s or %s)", opt.Profile, ProfileCPU, ProfileWall)
	}
	switch {
	case s.Link != "":
		// The scenario's child links a package that viz does not
		// (extrabuild.go); without it the scenario cannot run at all. A
		// learner's version links it too (buildCustom); building the
		// reference child first compiles the package once, with progress
		// shown, into the build cache that the custom build then reuses.
		if exe, err = scenarioChild(s, opt.OnStatus); err != nil {
			return nil, fmt.Errorf("run %s: %w", s.ID, err)
		}
	case s.Race:
		say := func(waited time.Duration) string {
			text := "Building the race-detecting version of viz with the local Go toolchain: the first race puzzle takes up to 20 s, later ones start at once."
			if waited > 0 {
				text += fmt.Sprintf(" %d s so far.", int(waited.Seconds()))
			}
			return text
		}
		raceExe, err := whileSlow(opt.OnStatus, say, raceChild)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("race detector unavailable, so races cannot be reported: %v", err))
		} else {
			exe = raceExe
		}
	}

	var custom *customChild
	if opt.Source != "" {
		if len(opt.Source) > MaxSource {
			return nil, fmt.Errorf("run %s: your version is %d bytes, more than the %d a scenario file may have", s.ID, len(opt.Source), MaxSource)
		}
		if opt.OnStatus != nil {
			opt.OnStatus("Building your version with the local Go toolchain.")
		}
		custom, err = buildCustom(ctx, s, opt.Source, s.Race && len(warnings) == 0, max(timeout, MinBuildTimeout))
		if err != nil {
			return nil, err
		}
		exe = custom.exe
	}

	c := &child{
		exe:      exe,
		env:      []string{envChild + "=" + s.ID + "/" + v.Name, envProfile + "=" + opt.Profile},
		onUpdate: opt.OnUpdate,
		traceOut: opt.TraceOut,
	}
	out, runErr := c.run(ctx, timeout)
	if out == nil {
		return nil, fmt.Errorf("run %s %s: %w", s.ID, v.Name, runErr)
	}
	out.warnings = append(warnings, out.warnings...)
	if custom != nil {
		custom.relocate(out)
	}
	rep := diagnose(s, v, out)
	res := &Result{Report: rep, Timeline: out.timeline, Profile: out.profile}
	if opt.Profile != "" && len(out.profile) == 0 {
		rep.Warnings = append(rep.Warnings, "the run ended before its profile was written")
	}
	if runErr != nil {
		return res, fmt.Errorf("run %s %s: %w", s.ID, v.Name, runErr)
	}
	return res, nil
}

// child is one child process run.
type child struct {
	exe      string
	env      []string
	onUpdate func(*Update)
	traceOut io.Writer
	// traceFull is closed by the trace reader when the trace passes
	// TraceCap.
	traceFull chan struct{}
	// memCap overrides MemoryCap when positive (tests use a small one).
	memCap int64
	// traceCap overrides TraceCap when positive, so that a test reaches
	// the cap in a fraction of a second.
	traceCap int64
	// started, if set, is called with the child's pid (which is also its
	// process group) once it runs, so that tests can check that nothing of
	// the group outlives the run.
	started func(pid int)
}

// childOutput is everything a finished child left behind.
type childOutput struct {
	timeline *Timeline
	report   *childReport // nil when the child died before reporting
	stdout   string
	stderr   string
	profile  []byte
	exitCode int
	// maxRSS is the peak resident memory of the child, from the kernel's
	// accounting, in bytes.
	maxRSS   int64
	timedOut bool
	// killedFor says why the runner killed the child for exceeding a
	// limit, "" when it did not.
	killedFor string
	elapsed   time.Duration
	warnings  []string
}

// run starts the child, follows its trace and waits for it and every
// process it started. It returns a nil output only when the child could not
// be started at all.
func (c *child) run(ctx context.Context, timeout time.Duration) (*childOutput, error) {
	traceR, traceW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("trace pipe: %w", err)
	}
	reportR, reportW, err := os.Pipe()
	if err != nil {
		closeAll(traceR, traceW)
		return nil, fmt.Errorf("report pipe: %w", err)
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		closeAll(traceR, traceW, reportR, reportW)
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		closeAll(traceR, traceW, reportR, reportW, stdoutR, stdoutW)
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	profileR, profileW, err := os.Pipe()
	if err != nil {
		closeAll(traceR, traceW, reportR, reportW, stdoutR, stdoutW, stderrR, stderrW)
		return nil, fmt.Errorf("profile pipe: %w", err)
	}

	cmd := exec.Command(c.exe)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Env = append(cmd.Env,
		fmt.Sprintf("GODEBUG=traceadvanceperiod=%d,tracebacklabels=1", TracePeriod.Nanoseconds()),
		"GOTRACEBACK=all",
		"GORACE=halt_on_error=0",
	)
	// The child's pipes are plain files, so exec starts no copying
	// goroutines and Wait returns as soon as the child exits, even if a
	// grandchild still holds a descriptor; the group kill below ends it.
	cmd.ExtraFiles = []*os.File{traceW, reportW, profileW}
	cmd.Stdout, cmd.Stderr = stdoutW, stderrW
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// A process group of its own, so that one kill ends the child and
		// everything it started.
		Setpgid: true,
		// If viz itself dies, the kernel kills the child.
		Pdeathsig: syscall.SIGKILL,
	}
	start := time.Now()
	err = cmd.Start()
	closeAll(traceW, reportW, stdoutW, stderrW, profileW)
	if err != nil {
		closeAll(traceR, reportR, stdoutR, stderrR, profileR)
		return nil, fmt.Errorf("start child: %w", err)
	}
	pgid := cmd.Process.Pid
	c.traceFull = make(chan struct{})
	if c.started != nil {
		c.started(pgid)
	}

	var wg sync.WaitGroup
	var stdout, stderr capBuffer
	var reportBytes, profileBytes []byte
	var tl *Timeline
	wg.Add(5)
	go func() { defer wg.Done(); copyCapped(&stdout, stdoutR) }()
	go func() { defer wg.Done(); copyCapped(&stderr, stderrR) }()
	go func() {
		defer wg.Done()
		reportBytes, _ = io.ReadAll(io.LimitReader(reportR, 16<<20))
		io.Copy(io.Discard, reportR)
	}()
	go func() {
		defer wg.Done()
		profileBytes, _ = io.ReadAll(io.LimitReader(profileR, 64<<20))
		io.Copy(io.Discard, profileR)
	}()
	go func() { defer wg.Done(); tl = c.readTrace(traceR) }()

	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()

	out := &childOutput{}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	limits := time.NewTicker(limitPoll)
	defer limits.Stop()
	var waitErr, runErr error
	// Each reason to kill is handled once: a closed channel stays ready,
	// and the loop must then only wait for the child to be gone.
	cancelled, traceFull := ctx.Done(), c.traceFull
wait:
	for {
		select {
		case waitErr = <-waitDone:
			break wait
		case <-timer.C:
			out.timedOut = true
			killGroup(pgid)
		case <-cancelled:
			cancelled = nil
			runErr = ctx.Err()
			killGroup(pgid)
		case <-traceFull:
			traceFull = nil
			out.killedFor = fmt.Sprintf("its trace grew past %s", byteSize(c.traceLimit()))
			killGroup(pgid)
		case <-limits.C:
			memCap := int64(MemoryCap)
			if c.memCap > 0 {
				memCap = c.memCap
			}
			if rss := residentBytes(pgid); rss > memCap && out.killedFor == "" {
				out.killedFor = fmt.Sprintf("it used more than %s of memory", byteSize(memCap))
				killGroup(pgid)
			}
		}
	}
	// The child is gone; whatever it started goes with its group, which
	// also closes the last copies of the pipes so the readers finish.
	killGroup(pgid)
	wg.Wait()
	closeAll(traceR, reportR, stdoutR, stderrR, profileR)
	out.elapsed = time.Since(start)

	out.timeline = tl
	if out.profile, err = scenarioProfile(profileBytes); err != nil {
		out.warnings = append(out.warnings, err.Error())
	}
	out.stdout, out.stderr = stdout.String(), stderr.String()
	out.exitCode = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		out.maxRSS = ru.Maxrss << 10 // kilobytes on Linux
	}
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) {
		out.warnings = append(out.warnings, fmt.Sprintf("waiting for the child: %v", waitErr))
	}
	if len(bytes.TrimSpace(reportBytes)) > 0 {
		var r childReport
		if err := json.Unmarshal(reportBytes, &r); err != nil {
			out.warnings = append(out.warnings, fmt.Sprintf("the child's report is unreadable: %v", err))
		} else {
			out.report = &r
		}
	}
	if stdout.truncated {
		out.warnings = append(out.warnings, fmt.Sprintf("the scenario's output was cut at %d bytes", outputCap))
	}
	if stderr.truncated {
		out.warnings = append(out.warnings, fmt.Sprintf("the scenario's error output was cut at %d bytes", outputCap))
	}
	return out, runErr
}

// readTrace follows the child's trace to its end and builds the timeline,
// handing out an update whenever the reader has delivered every event it
// could and is about to wait for the next generation.
func (c *child) readTrace(r io.Reader) *Timeline {
	b := NewBuilder(true)
	src := io.Reader(&cappedReader{r: r, limit: c.traceLimit(), full: c.traceFull})
	if c.traceOut != nil {
		src = io.TeeReader(src, c.traceOut)
	}
	if c.onUpdate != nil {
		src = &flushingReader{r: src, flush: func() {
			if b.Dirty() {
				c.onUpdate(b.Flush())
			}
		}}
	}
	tr, err := trace.NewReader(src)
	for err == nil {
		var ev trace.Event
		ev, err = tr.ReadEvent()
		if err == nil {
			b.Event(&ev)
		}
	}
	// Drain the pipe so a child still writing never blocks on it.
	io.Copy(io.Discard, r)
	switch {
	case !b.started:
		b.tl.Truncated = true
		b.tl.Warnings = append(b.tl.Warnings, "the child produced no trace")
	case err != io.EOF:
		b.Truncate(err)
	}
	tl := b.Finish()
	if c.onUpdate != nil && b.Dirty() {
		c.onUpdate(b.Flush())
	}
	return tl
}

// traceLimit is the trace cap of this child.
func (c *child) traceLimit() int64 {
	if c.traceCap > 0 {
		return c.traceCap
	}
	return TraceCap
}

// flushingReader calls flush before each read from the pipe. The trace
// reader asks for more bytes only when it has handed out every event it
// could decode, which makes this the moment to publish an update.
type flushingReader struct {
	r     io.Reader
	flush func()
}

func (f *flushingReader) Read(p []byte) (int, error) {
	f.flush()
	return f.r.Read(p)
}

// cappedReader passes at most limit bytes through, then reports EOF and
// closes full once, so that the runner stops the child.
type cappedReader struct {
	r     io.Reader
	n     int64
	limit int64
	full  chan struct{}
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.n >= c.limit {
		if c.full != nil {
			close(c.full)
			c.full = nil
		}
		return 0, io.ErrUnexpectedEOF
	}
	if rest := c.limit - c.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// residentBytes returns the resident memory of a process, 0 if unknown.
func residentBytes(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// killGroup kills a process group; a group already gone is fine.
func killGroup(pgid int) {
	if pgid > 0 {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

func closeAll(fs ...*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// capBuffer keeps the first outputCap bytes written to it.
type capBuffer struct {
	buf       bytes.Buffer
	truncated bool
}

func (c *capBuffer) String() string {
	if c.truncated {
		return c.buf.String() + "\n[... output cut by concviz ...]\n"
	}
	return c.buf.String()
}

// copyCapped reads r to its end, keeping what fits.
func copyCapped(c *capBuffer, r io.Reader) {
	chunk := make([]byte, 32<<10)
	for {
		n, err := r.Read(chunk)
		if n > 0 {
			room := outputCap - c.buf.Len()
			if n > room {
				n = max(room, 0)
				c.truncated = true
			}
			c.buf.Write(chunk[:n])
		}
		if err != nil {
			return
		}
	}
}

// trimOutput shortens text for a report field.
func trimOutput(s string) string {
	return strings.TrimRight(s, "\n")
}
