package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/concviz/concviz/tracer/index"
	"golang.org/x/exp/trace"
	"golang.org/x/sys/unix"
)

// child makes one measurement on file and writes its result as JSON.
func child(mode, file string, stdout io.Writer) error {
	var r result
	var err error
	switch mode {
	case "bare":
		r, err = bareLoop(file)
	case "index":
		r, err = indexRun(file)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(r)
}

// bareLoop reads every event and does nothing with it: the floor any
// viewer built on x/exp/trace stands on.
func bareLoop(file string) (result, error) {
	f, err := os.Open(file)
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	t0 := time.Now()
	tr, err := trace.NewReader(bufio.NewReaderSize(f, 256<<10))
	if err != nil {
		return result{}, err
	}
	var n int64
	for {
		_, err := tr.ReadEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return result{}, err
		}
		n++
	}
	r := result{Events: n, Seconds: time.Since(t0).Seconds()}
	r.SelfCPU, r.SelfRSS = selfUsage()
	return r, nil
}

// selfUsage returns the CPU seconds and the peak RSS of this process so
// far, before the window queries that follow an index build.
func selfUsage() (float64, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds(), ru.Maxrss * 1024
}

// indexRun builds the index as the server does, on a goroutine of its own,
// and asks for a first window (all of the indexed time, 1920 pixels, the
// first 50 lanes) as soon as the index is ready.
func indexRun(file string) (result, error) {
	f, err := os.Open(file)
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	t0 := time.Now()
	x := index.New()
	errc := make(chan error, 1)
	go func() { errc <- x.Build(context.Background(), f, index.Options{}) }()
	var r result
	select {
	case <-x.Ready():
	case err := <-errc:
		errc <- err
	}
	w := x.Window(index.Query{Start: 0, End: x.Stats().Now, Pixels: 1920, First: 0, Count: 50})
	r.FirstWindow = time.Since(startTime).Seconds()
	r.FirstLanes = len(w.Lanes)
	for _, l := range w.Lanes {
		r.FirstSpans += len(l.Spans)
	}
	if err := <-errc; err != nil {
		return result{}, err
	}
	r.Seconds = time.Since(t0).Seconds()
	r.SelfCPU, r.SelfRSS = selfUsage()
	s := x.Stats()
	r.Events, r.Goroutines, r.Spans, r.IndexBytes = s.Events, s.Goroutines, s.Spans, s.IndexBytes
	r.Windows = windowTimes(x)
	return r, nil
}

// windowTimes times the queries of a view panning and zooming across the
// finished index: 50 lanes at 1920 pixels, answered and encoded as JSON as
// the server sends them. Half the windows show the whole trace or most of
// it, the rest random spans of time from a microsecond up; the lanes are
// the first 50, the 50 with the most spans, or 50 from a random position.
func windowTimes(x *index.Index) windowStats {
	const lanes, pixels, queries = 50, 1920, 400
	now := x.Stats().Now
	all := x.Lanes(0, x.LaneCount(false), false)
	busiest := slices.Clone(all)
	slices.SortFunc(busiest, func(a, b index.Lane) int { return b.Spans - a.Spans })
	var busy []int64
	for _, l := range busiest[:min(lanes, len(busiest))] {
		busy = append(busy, l.ID)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	// The CPU time of the queries is measured on this thread alone, which
	// a busy machine does not inflate the way it does wall-clock time.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var ms, cpu, query []float64
	var spans int
	for i := range queries {
		q := index.Query{Pixels: pixels, Count: lanes}
		switch i % 4 {
		case 0:
			q.End = now
		case 1:
			q.Start = rng.Int64N(now / 4)
			q.End = now - rng.Int64N(now/4)
		default:
			width := int64(math.Exp(rng.Float64()*math.Log(float64(now)/1e3)) * 1e3)
			q.Start = rng.Int64N(max(now-width, 1))
			q.End = q.Start + width
		}
		switch i % 3 {
		case 0:
			q.IDs = busy
		case 1:
			q.First = rng.IntN(max(len(all)-lanes, 1))
		}
		t0, c0 := time.Now(), threadCPU()
		w := x.Window(q)
		c1 := threadCPU()
		if _, err := json.Marshal(w); err != nil {
			panic(err)
		}
		ms = append(ms, time.Since(t0).Seconds()*1e3)
		cpu = append(cpu, (threadCPU()-c0).Seconds()*1e3)
		query = append(query, (c1-c0).Seconds()*1e3)
		for _, l := range w.Lanes {
			spans += len(l.Spans)
		}
	}
	slices.Sort(ms)
	slices.Sort(cpu)
	slices.Sort(query)
	return windowStats{
		Queries: queries, P50: ms[len(ms)/2], P95: ms[len(ms)*95/100], Max: ms[len(ms)-1],
		CPUP50: cpu[len(cpu)/2], CPUP95: cpu[len(cpu)*95/100], CPUMax: cpu[len(cpu)-1],
		QueryP95: query[len(query)*95/100], QueryMax: query[len(query)-1],
		SpansPerQuery: spans / queries, BusiestSpans: busiest[0].Spans,
	}
}

// threadCPU returns the CPU time of the calling thread.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
