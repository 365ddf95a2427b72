package tracer

// Hardening tests of the two inputs the tracer takes from outside: trace
// files a user brings, and child processes that misbehave. Each prints the
// figure it measures with t.Logf.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concviz/concviz/scenarios"
)

// proc is one process of /proc/PID/stat.
type proc struct {
	pid, ppid, pgrp int
	state           string
}

// procs lists every process of the machine.
func procs(t *testing.T) []proc {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var ps []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name, in parentheses, may hold spaces.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 3 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pgrp, _ := strconv.Atoi(f[2])
		ps = append(ps, proc{pid: pid, ppid: ppid, pgrp: pgrp, state: f[0]})
	}
	return ps
}

// checkGroupGone fails the test if any process of group pgid still runs,
// or if the child pgid itself is still there (running, or a zombie that the
// runner did not wait for). A killed grandchild is reparented to init and
// stays a zombie until init reaps it; some machines' init (a VM's or a
// container's) never does, so such a zombie, dead and holding nothing but
// its pid, is logged rather than failed.
func checkGroupGone(t *testing.T, pgid int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		var left []proc
		for _, p := range procs(t) {
			if p.pid == pgid || (p.pgrp == pgid && !(p.state == "Z" && p.ppid != os.Getpid())) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				t.Errorf("process %d (state %s, parent %d) of the child's group %d outlived the run", p.pid, p.state, p.ppid, pgid)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, p := range procs(t) {
		if p.pgrp == pgid {
			t.Logf("process %d of the child's group %d is a zombie of process %d, which has not reaped it", p.pid, pgid, p.ppid)
		}
	}
}

// countFDs counts this process's open file descriptors.
func countFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(es)
}

// settle waits up to d for the goroutines and descriptors of this process
// to come back to at most the given counts, and returns what they are.
func settle(t *testing.T, goroutines, fds int, d time.Duration) (int, int) {
	t.Helper()
	end := time.Now().Add(d)
	for {
		g, f := runtime.NumGoroutine(), countFDs(t)
		if (g <= goroutines && f <= fds) || time.Now().After(end) {
			return g, f
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runSlack is how long past its timeout a run may take to end: the kill,
// the readers draining the pipes, a busy machine.
const runSlack = 3 * time.Second

// TestMisbehavingChildren runs children that hang, spin, flood their
// output, fork, allocate without bound and flood the trace. Each run ends
// within its timeout, at the cap it ran into, with the cap visible;
// afterwards nothing of its process group is left, the child has been
// waited for, and this process has its descriptors and goroutines back.
func TestMisbehavingChildren(t *testing.T) {
	tests := []struct {
		mode     string
		timeout  time.Duration
		memCap   int64
		traceCap int64
		check    func(t *testing.T, out *childOutput)
	}{
		{mode: "hang", timeout: 300 * time.Millisecond, check: wantTimedOut},
		{mode: "spin", timeout: 300 * time.Millisecond, check: wantTimedOut},
		{mode: "flood-forever", timeout: 500 * time.Millisecond, check: func(t *testing.T, out *childOutput) {
			wantTimedOut(t, out)
			for name, s := range map[string]string{"stdout": out.stdout, "stderr": out.stderr} {
				if len(s) < outputCap || len(s) > outputCap+100 || !strings.HasSuffix(s, "[... output cut by concviz ...]\n") {
					t.Errorf("%s: kept %d bytes ending %q, want %d and the cut marker", name, len(s), s[max(len(s)-40, 0):], outputCap)
				}
			}
			if w := strings.Join(out.warnings, "\n"); !strings.Contains(w, "output was cut") || !strings.Contains(w, "error output was cut") {
				t.Errorf("warnings %q do not say that both outputs were cut", out.warnings)
			}
		}},
		{mode: "fork-hang", timeout: 500 * time.Millisecond, check: func(t *testing.T, out *childOutput) {
			wantTimedOut(t, out)
			wantGrandchildGone(t, out)
		}},
		{mode: "fork", timeout: 10 * time.Second, check: wantGrandchildGone},
		{mode: "alloc", timeout: 30 * time.Second, memCap: 256 << 20, check: func(t *testing.T, out *childOutput) {
			if out.timedOut || !strings.Contains(out.killedFor, "memory") {
				t.Errorf("timed out %v, killed for %q; want the memory cap", out.timedOut, out.killedFor)
			}
			t.Logf("alloc: peak resident memory %s against a cap of %s (polled every %v)", byteSize(out.maxRSS), byteSize(256<<20), limitPoll)
		}},
		{mode: "trace-flood", timeout: 10 * time.Second, traceCap: 4 << 20, check: func(t *testing.T, out *childOutput) {
			if out.timedOut || !strings.Contains(out.killedFor, "trace grew past 4.0 MB") {
				t.Errorf("timed out %v, killed for %q; want the trace cap", out.timedOut, out.killedFor)
			}
			if !out.timeline.Truncated || out.timeline.Generations == 0 {
				t.Errorf("timeline: truncated %v, %d generations; want the complete generations before the cap, marked truncated",
					out.timeline.Truncated, out.timeline.Generations)
			}
		}},
	}
	g0, f0 := settle(t, 0, 0, 0)
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			pid := 0
			c := &child{
				exe:      os.Args[0],
				env:      []string{envTestChild + "=" + tt.mode},
				memCap:   tt.memCap,
				traceCap: tt.traceCap,
				started:  func(p int) { pid = p },
			}
			begin := time.Now()
			out, err := c.run(context.Background(), tt.timeout)
			elapsed := time.Since(begin)
			if out == nil {
				t.Fatalf("child %s did not start: %v", tt.mode, err)
			}
			if err != nil {
				t.Errorf("run: %v", err)
			}
			if pid == 0 {
				t.Fatal("the runner did not report the child's pid")
			}
			limit := tt.timeout
			t.Logf("%s: ended after %v (timeout %v), timed out %v, killed for %q, peak memory %s",
				tt.mode, elapsed.Round(time.Millisecond), tt.timeout, out.timedOut, out.killedFor, byteSize(out.maxRSS))
			if elapsed > limit+runSlack {
				t.Errorf("the run took %v, past its timeout %v and %v of slack", elapsed, limit, runSlack)
			}
			tt.check(t, out)
			checkGroupGone(t, pid)
		})
	}
	g1, f1 := settle(t, g0, f0, 5*time.Second)
	t.Logf("after %d misbehaving children: goroutines %d before, %d after; descriptors %d before, %d after", len(tests), g0, g1, f0, f1)
	if g1 > g0 || f1 > f0 {
		t.Errorf("leaked: goroutines %d -> %d, descriptors %d -> %d", g0, g1, f0, f1)
	}
}

func wantTimedOut(t *testing.T, out *childOutput) {
	t.Helper()
	if !out.timedOut {
		t.Errorf("timedOut = false, want the timeout to have ended the run")
	}
}

// wantGrandchildGone checks that the grandchild whose pid the child
// printed first is gone.
func wantGrandchildGone(t *testing.T, out *childOutput) {
	t.Helper()
	line, _, _ := strings.Cut(out.stdout, "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("child printed %q, want a pid", out.stdout)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Errorf("grandchild %d still runs after the run ended", pid)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEveryScenarioLeavesNothing runs every variant of every scenario as
// the runner does and checks the same as TestMisbehavingChildren: the run
// ends within the default timeout and leaves no process, zombie,
// descriptor or goroutine behind. CONCVIZ_HARDEN_ALL=1 runs every variant;
// by default each scenario's broken variant runs.
func TestEveryScenarioLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every scenario in a child process")
	}
	all := os.Getenv("CONCVIZ_HARDEN_ALL") != ""
	g0, f0 := settle(t, 0, 0, 0)
	var mu sync.Mutex
	var slowest time.Duration
	var slowestName string
	t.Run("runs", func(t *testing.T) {
		for _, s := range scenarios.Catalog() {
			variants := s.Variants[:1]
			if all {
				variants = s.Variants
			}
			for _, v := range variants {
				t.Run(s.ID+"/"+v.Name, func(t *testing.T) {
					t.Parallel()
					exe := os.Args[0]
					switch {
					case s.Link != "":
						// Its package is not linked into this test
						// binary: the scenario runs in its own child.
						linked, err := scenarioChild(s, nil)
						if err != nil {
							t.Fatalf("linked child: %v", err)
						}
						exe = linked
					case s.Race:
						race, err := raceChild()
						if err != nil {
							t.Skipf("no race child: %v", err)
						}
						exe = race
					}
					pid := 0
					c := &child{exe: exe, env: []string{envChild + "=" + s.ID + "/" + v.Name, envProfile + "="}, started: func(p int) { pid = p }}
					begin := time.Now()
					out, err := c.run(context.Background(), DefaultTimeout)
					elapsed := time.Since(begin)
					if out == nil || err != nil {
						t.Fatalf("run: %v", err)
					}
					if elapsed > DefaultTimeout+runSlack {
						t.Errorf("the run took %v, past the timeout %v", elapsed, DefaultTimeout)
					}
					if out.timedOut || out.killedFor != "" {
						t.Errorf("a catalog scenario ran into a limit: timed out %v, killed for %q", out.timedOut, out.killedFor)
					}
					checkGroupGone(t, pid)
					mu.Lock()
					if elapsed > slowest {
						slowest, slowestName = elapsed, s.ID+"/"+v.Name
					}
					mu.Unlock()
				})
			}
		}
	})
	g1, f1 := settle(t, g0, f0, 5*time.Second)
	t.Logf("slowest run %s: %v; goroutines %d before, %d after; descriptors %d before, %d after", slowestName, slowest.Round(time.Millisecond), g0, g1, f0, f1)
	if g1 > g0 || f1 > f0 {
		t.Errorf("leaked: goroutines %d -> %d, descriptors %d -> %d", g0, g1, f0, f1)
	}
}

// TestTruncatedAtRandomOffsets cuts each fixture at many random offsets
// (the seed is printed). Every cut either is refused as not a trace (it
// ends before the first generation), or ends exactly at the end of a
// generation (a complete, shorter trace), or gives a timeline marked
// truncated; in every timeline the complete
// generations grow with the cut and never exceed the whole trace's, and
// whose goroutines all exist, with the same start, in the whole trace.
func TestTruncatedAtRandomOffsets(t *testing.T) {
	cuts := 300
	if testing.Short() {
		cuts = 60
	}
	fixtures, _ := filepath.Glob(filepath.Join("testdata", "traces", "*.trace"))
	if len(fixtures) == 0 {
		t.Fatal("no trace fixtures")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CONCVIZ_CUT_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CONCVIZ_CUT_SEED=%q is not a number", s)
		}
		seed = v
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("random offsets from seed %d (CONCVIZ_CUT_SEED=%d repeats them)", seed, seed)
	for _, p := range fixtures {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		whole, err := ReadTrace(bytes.NewReader(data), ReadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		starts := map[int64]int64{}
		for _, g := range whole.Goroutines {
			if len(g.Spans) > 0 {
				starts[g.ID] = g.Spans[0].Start
			}
		}
		offsets := make([]int, cuts)
		for i := range offsets {
			offsets[i] = 1 + rng.IntN(len(data)-1)
		}
		slices.Sort(offsets)
		refused, boundary, prev := 0, 0, 0
		for _, n := range offsets {
			tl, err := ReadTrace(bytes.NewReader(data[:n]), ReadOptions{})
			if err != nil {
				if !errors.Is(err, ErrNotTrace) {
					t.Errorf("%s cut at %d: error %v does not wrap ErrNotTrace", filepath.Base(p), n, err)
				}
				if prev > 0 {
					t.Errorf("%s cut at %d: refused, though a shorter cut had %d generations", filepath.Base(p), n, prev)
				}
				refused++
				continue
			}
			checkTimeline(t, tl)
			if !tl.Truncated {
				// A cut right at the end of a generation is a complete
				// trace of fewer generations: nothing was lost.
				if tl.Generations >= whole.Generations || len(tl.Warnings) > 0 {
					t.Errorf("%s cut at %d of %d: not marked truncated, %d generations, warnings %q", filepath.Base(p), n, len(data), tl.Generations, tl.Warnings)
				}
				boundary++
			}
			if tl.Generations < prev || tl.Generations > whole.Generations {
				t.Errorf("%s cut at %d: %d generations, after %d at a shorter cut; the whole trace has %d", filepath.Base(p), n, tl.Generations, prev, whole.Generations)
			}
			prev = tl.Generations
			for _, g := range tl.Goroutines {
				want, ok := starts[g.ID]
				if !ok {
					t.Errorf("%s cut at %d: G%d is not in the whole trace", filepath.Base(p), n, g.ID)
				} else if len(g.Spans) > 0 && g.Spans[0].Start != want {
					t.Errorf("%s cut at %d: G%d starts at %d, in the whole trace at %d", filepath.Base(p), n, g.ID, g.Spans[0].Start, want)
				}
			}
		}
		t.Logf("%s (%d bytes, %d generations): %d cuts, %d refused as before the first generation, %d at the end of a generation, the longest kept %d generations",
			filepath.Base(p), len(data), whole.Generations, cuts, refused, boundary, prev)
	}
}

// TestTraceInputBounds parses every fuzz seed once and measures the time
// and the allocation of each: both stay within a small multiple of the
// input, and the worst case is printed.
func TestTraceInputBounds(t *testing.T) {
	seeds := traceSeeds(t)
	var worstTime time.Duration
	var worstAlloc, worstAllocSize uint64
	var worstRatio float64
	var ms runtime.MemStats
	for _, in := range seeds {
		runtime.ReadMemStats(&ms)
		a0 := ms.TotalAlloc
		begin := time.Now()
		tl, err := ReadTrace(bytes.NewReader(in), ReadOptions{})
		d := time.Since(begin)
		runtime.ReadMemStats(&ms)
		alloc := ms.TotalAlloc - a0
		if err == nil {
			checkTimeline(t, tl)
		}
		worstTime = max(worstTime, d)
		if alloc > worstAlloc {
			worstAlloc, worstAllocSize = alloc, uint64(len(in))
		}
		worstRatio = max(worstRatio, float64(alloc)/float64(max(len(in), 1<<10)))
		// A bound far above what any seed needs, and far below what a
		// length field read from garbage would make the parser reserve.
		if limit := 256*uint64(len(in)) + 16<<20; alloc > limit {
			t.Errorf("a %d-byte input allocated %s, above %s", len(in), byteSize(int64(alloc)), byteSize(int64(limit)))
		}
		if d > 10*time.Second {
			t.Errorf("a %d-byte input took %v to parse", len(in), d)
		}
	}
	t.Logf("%d seeds: worst time %v; worst allocation %s (for a %d-byte input); worst allocation per input byte %.0f",
		len(seeds), worstTime.Round(time.Microsecond), byteSize(int64(worstAlloc)), worstAllocSize, worstRatio)
}

// bigTrace records this process for a while with busy goroutines, for
// tests that need a trace that takes a while to parse.
func bigTrace(t *testing.T, d time.Duration) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Skipf("cannot trace the test itself: %v", err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		ping, pong := make(chan int), make(chan int)
		wg.Go(func() {
			for v := range ping {
				pong <- v
			}
		})
		wg.Go(func() {
			defer close(ping)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case ping <- i:
					<-pong
				}
			}
		})
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
	trace.Stop()
	return buf.Bytes()
}

// slowReader hands out its data a little at a time, like an upload over a
// slow link.
type slowReader struct {
	r     io.Reader
	chunk int
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	return s.r.Read(p[:min(len(p), s.chunk)])
}

// TestCancelParse cancels the parse of a large trace, read at full speed
// and read slowly: ReadTraceContext returns the context's error promptly,
// long before the parse would have ended.
func TestCancelParse(t *testing.T) {
	data := bigTrace(t, 300*time.Millisecond)
	begin := time.Now()
	whole, err := ReadTraceContext(context.Background(), bytes.NewReader(data), ReadOptions{})
	full := time.Since(begin)
	if err != nil {
		t.Fatalf("parse the whole trace: %v", err)
	}
	t.Logf("a %s trace of %d generations parses in %v", byteSize(int64(len(data))), whole.Generations, full.Round(time.Millisecond))

	for _, tt := range []struct {
		name string
		r    io.Reader
	}{
		{"full speed", bytes.NewReader(data)},
		{"slow reader", &slowReader{r: bytes.NewReader(data), chunk: 16 << 10, pause: time.Millisecond}},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		after := full / 10
		timer := time.AfterFunc(after, cancel)
		begin := time.Now()
		tl, err := ReadTraceContext(ctx, tt.r, ReadOptions{})
		took := time.Since(begin)
		timer.Stop()
		cancel()
		if !errors.Is(err, context.Canceled) || tl != nil {
			t.Errorf("%s: cancelled after %v: timeline %v, error %v; want no timeline and context.Canceled", tt.name, after, tl != nil, err)
			continue
		}
		t.Logf("%s: cancelled %v into the parse, returned %v after the cancel", tt.name, after.Round(time.Millisecond), (took - after).Round(time.Microsecond))
		if took-after > time.Second {
			t.Errorf("%s: returned %v after the cancel", tt.name, took-after)
		}
	}
	if _, err := ReadTraceContext(cancelledContext(), bytes.NewReader(data), ReadOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("a parse with a context cancelled before it began: %v, want context.Canceled", err)
	}
}

func cancelledContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
