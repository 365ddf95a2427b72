package tracer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/felixge/fgprof"

	"github.com/concviz/concviz/scenarios"
)

// The child protocol. The parent starts this same binary with envChild set
// to "scenario/variant"; the child writes its execution trace on file
// descriptor traceFD and, when it ends on its own terms, one JSON
// childReport on reportFD. Stdout and stderr stay the scenario's own.
const (
	envChild   = "CONCVIZ_CHILD"
	envProfile = "CONCVIZ_PROFILE" // "cpu" or "wall": profile the run on profileFD
	traceFD    = 3
	reportFD   = 4
	profileFD  = 5
)

// The pprof label that marks scenario goroutines. Goroutines inherit the
// labels of the goroutine that starts them, so every goroutine a scenario
// creates carries it, and the harness's own goroutines do not.
const (
	labelKey   = "concviz"
	labelValue = "scenario"
)

// rootLogCategory is the category of the trace.Log event with which the
// scenario's first goroutine announces itself: the timeline builder takes
// that goroutine and everything it creates as the scenario's.
const rootLogCategory = "concviz.root"

// runLogCategory is the category of the log event that names the run
// ("scenario/variant") inside the trace, so a saved trace says what it is.
const runLogCategory = "concviz.run"

// Watchdog timing. Tracing suppresses the runtime's own "all goroutines are
// asleep" check, so the harness looks for itself: every pollInterval it
// takes a goroutine dump (a short stop-the-world) and calls it a deadlock
// when every scenario goroutine has been blocked, unchanged, for
// deadlockQuiet. The quiet period keeps a goroutine that waits on a timer
// (a context deadline, time.After in a select) from being taken for a
// deadlock: scenarios keep such waits well under it.
const (
	pollInterval  = 5 * time.Millisecond
	deadlockQuiet = 250 * time.Millisecond
	// leakSettle is how long goroutines may take to finish after the
	// scenario returned before those still alive count as leaked.
	leakSettle = 100 * time.Millisecond
	// leakPatience is how long goroutines that still run or sleep after
	// the scenario returned may take before they count as leaked.
	leakPatience = time.Second
)

// childReport is what the harness tells the parent at the end of a run
// that did not crash.
type childReport struct {
	// Returned says the variant's Run function returned; Error is the
	// error it returned, if any.
	Returned bool   `json:"returned"`
	Error    string `json:"error,omitempty"`
	// Deadlock says the watchdog stopped the run because every scenario
	// goroutine was blocked for good.
	Deadlock bool `json:"deadlock,omitempty"`
	// Stuck holds the scenario goroutines blocked at the deadlock, or
	// still alive after Run returned (leaks).
	Stuck []DumpGoroutine `json:"stuck,omitempty"`
	// Root is the goroutine id of the scenario's first goroutine.
	Root int64 `json:"root"`
	// ElapsedNS is how long the variant ran, from start to return or to
	// the deadlock.
	ElapsedNS int64 `json:"elapsed_ns"`
}

// MaybeRunChild runs the child harness and exits if this process was
// started as a scenario child; otherwise it returns at once. The main
// function of viz, and TestMain of every package whose tests run real
// scenarios, call it first.
func MaybeRunChild() {
	spec, ok := os.LookupEnv(envChild)
	if !ok {
		return
	}
	os.Exit(runChild(spec))
}

// runChild is the harness: it runs one variant under the tracer and
// watches it. It returns the process exit status.
func runChild(spec string) int {
	id, variant, _ := strings.Cut(spec, "/")
	s, err := LookupScenario(id)
	if err != nil {
		fmt.Fprintf(os.Stderr, "concviz child: %v\n", err)
		return 3
	}
	v, err := s.Variant(variant)
	if err != nil {
		fmt.Fprintf(os.Stderr, "concviz child: %v\n", err)
		return 3
	}
	traceOut := os.NewFile(traceFD, "trace")
	reportOut := os.NewFile(reportFD, "report")
	if traceOut == nil || reportOut == nil {
		fmt.Fprintln(os.Stderr, "concviz child: trace and report descriptors are missing")
		return 3
	}
	if err := trace.Start(traceOut); err != nil {
		fmt.Fprintf(os.Stderr, "concviz child: start trace: %v\n", err)
		return 3
	}
	stopProfile, err := startProfile(os.Getenv(envProfile))
	if err != nil {
		fmt.Fprintf(os.Stderr, "concviz child: %v\n", err)
		return 3
	}

	trace.Log(context.Background(), runLogCategory, s.ID+"/"+v.Name)
	probe := newProgressProbe()
	rep := runWatched(v, probe)
	probe.stop()

	if err := stopProfile(); err != nil {
		fmt.Fprintf(os.Stderr, "concviz child: %v\n", err)
	}
	trace.Stop()
	traceOut.Close()
	if err := json.NewEncoder(reportOut).Encode(rep); err != nil {
		fmt.Fprintf(os.Stderr, "concviz child: write report: %v\n", err)
		return 3
	}
	reportOut.Close()
	return 0
}

// startProfile starts the profiler a run asked for, writing to profileFD:
// "cpu" is runtime/pprof's CPU profile (which also puts CPU samples into
// the execution trace), "wall" is fgprof's wall-clock profile, which sees
// the time goroutines spend blocked as well as running.
func startProfile(kind string) (stop func() error, err error) {
	if kind == "" {
		return func() error { return nil }, nil
	}
	out := os.NewFile(profileFD, "profile")
	if out == nil {
		return nil, fmt.Errorf("profile %s: descriptor %d is missing", kind, profileFD)
	}
	switch kind {
	case ProfileCPU:
		if err := pprof.StartCPUProfile(out); err != nil {
			return nil, fmt.Errorf("start cpu profile: %w", err)
		}
		return func() error {
			pprof.StopCPUProfile()
			return out.Close()
		}, nil
	case ProfileWall:
		stopWall := fgprof.Start(out, fgprof.FormatPprof)
		return func() error {
			err := stopWall()
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			return err
		}, nil
	}
	return nil, fmt.Errorf("unknown profile kind %q", kind)
}

// runWatched starts the variant in a labelled goroutine and watches it
// until it returns (then waits for leaks to settle) or deadlocks.
func runWatched(v *scenarios.Variant, probe *progressProbe) *childReport {
	type result struct{ err error }
	done := make(chan result, 1)
	rootID := make(chan int64, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	pprof.Do(ctx, pprof.Labels(labelKey, labelValue), func(ctx context.Context) {
		go func() {
			rootID <- currentGoroutineID()
			trace.Log(ctx, rootLogCategory, funcName(v.Run))
			done <- result{v.Run(ctx)}
		}()
	})
	rep := &childReport{Root: <-rootID}

	w := newWatchdog(rep.Root, probe)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case r := <-done:
			rep.Returned = true
			rep.ElapsedNS = int64(time.Since(start))
			if r.err != nil {
				rep.Error = r.err.Error()
			}
			rep.Stuck = w.leaks()
			return rep
		case <-tick.C:
			if stuck, ok := w.poll(); ok {
				rep.Deadlock = true
				rep.ElapsedNS = int64(time.Since(start))
				rep.Stuck = stuck
				return rep
			}
		}
	}
}

// watchdog decides from goroutine dumps whether the scenario is stuck.
type watchdog struct {
	root  int64
	buf   []byte
	probe *progressProbe // nil: trust the dumps alone
	// quietSig is the signature (ids and statuses) of the all-blocked
	// state first seen at quietSince; a change restarts the quiet period.
	quietSig   string
	quietSince time.Time
}

func newWatchdog(root int64, probe *progressProbe) *watchdog {
	return &watchdog{root: root, buf: make([]byte, 64<<10), probe: probe}
}

// scenarioGoroutines takes a goroutine dump and keeps the scenario's.
func (w *watchdog) scenarioGoroutines() []DumpGoroutine {
	for {
		n := runtime.Stack(w.buf, true)
		if n < len(w.buf) {
			var gs []DumpGoroutine
			for _, g := range ParseDump(string(w.buf[:n])) {
				if g.Labels[labelKey] == labelValue {
					gs = append(gs, g)
				}
			}
			return gs
		}
		w.buf = make([]byte, 2*len(w.buf))
	}
}

// poll takes one dump; it reports the stuck goroutines once every scenario
// goroutine has been blocked, unchanged, for deadlockQuiet.
func (w *watchdog) poll() ([]DumpGoroutine, bool) {
	gs := w.scenarioGoroutines()
	if len(gs) == 0 || !allBlocked(gs) {
		w.quietSig = ""
		return nil, false
	}
	sig := signature(gs)
	now := time.Now()
	if sig != w.quietSig {
		w.quietSig, w.quietSince = sig, now
		return nil, false
	}
	if now.Sub(w.quietSince) < deadlockQuiet {
		return nil, false
	}
	if w.probe != nil {
		ids := make(map[int64]bool, len(gs))
		for _, g := range gs {
			ids[g.ID] = true
		}
		// A goroutine woken by a timer or ticker between two dumps looks
		// unchanged in both; the trace saw it move.
		if moved, err := w.probe.movedWithin(ids, now.Sub(w.quietSince)); err == nil && moved {
			w.quietSince = now
			return nil, false
		}
	}
	return gs, true
}

// leaks waits for the scenario's goroutines to finish after the scenario
// returned and returns those still alive, the root (which is exiting)
// excepted. Goroutines blocked for leakSettle are leaks; goroutines that
// are still sleeping or running get up to leakPatience, because a busy
// machine can make a goroutine that is about to finish late.
func (w *watchdog) leaks() []DumpGoroutine {
	start := time.Now()
	for {
		var alive []DumpGoroutine
		busy := false
		for _, g := range w.scenarioGoroutines() {
			if g.ID != w.root {
				alive = append(alive, g)
				busy = busy || !dumpStatusBlocked(g.Status)
			}
		}
		waited := time.Since(start)
		if len(alive) == 0 || waited > leakPatience || (!busy && waited > leakSettle) {
			return alive
		}
		time.Sleep(pollInterval)
	}
}

// allBlocked reports whether every goroutine waits on something that only
// another goroutine of the program can end. Sleeping and network waits end
// by themselves, so they do not count.
func allBlocked(gs []DumpGoroutine) bool {
	for _, g := range gs {
		if !dumpStatusBlocked(g.Status) {
			return false
		}
	}
	return true
}

// dumpStatusBlocked classifies a goroutine dump's wait reason.
func dumpStatusBlocked(status string) bool {
	switch status {
	case "running", "runnable", "syscall", "sleep", "IO wait", "preempted", "":
		return false
	}
	return !strings.HasPrefix(status, "GC") && !strings.HasPrefix(status, "trace")
}

func signature(gs []DumpGoroutine) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = strconv.FormatInt(g.ID, 10) + ":" + g.Status
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// currentGoroutineID reads the calling goroutine's id from its stack
// header ("goroutine 7 [running]:"); it is the id the trace uses.
func currentGoroutineID() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		id, _ := strconv.ParseInt(string(b[:i]), 10, 64)
		return id
	}
	return 0
}

// funcName is the full name of a function value.
func funcName(f any) string {
	fn := runtime.FuncForPC(reflect.ValueOf(f).Pointer())
	if fn == nil {
		return ""
	}
	return fn.Name()
}
