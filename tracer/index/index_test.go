package index

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime/trace"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/concviz/concviz/tracer"
)

// record traces a small workload of this process: goroutines that hand a
// token over channels, contend for a mutex, wait in a select and a
// WaitGroup, sleep and make system calls.
func record(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Fatalf("start trace: %v", err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		ping, alt, pong := make(chan int), make(chan int), make(chan int)
		wg.Go(func() {
			for i := range 200 {
				if i%3 == 0 {
					alt <- i
				} else {
					ping <- i
				}
				<-pong
				if i%10 == 0 {
					time.Sleep(10 * time.Microsecond)
				}
				if i%7 == 0 {
					syscall.Getppid()
					os.Getwd()
				}
			}
			close(ping)
		})
		wg.Go(func() {
			for {
				var v int
				select {
				case x, ok := <-ping:
					if !ok {
						return
					}
					v = x
				case v = <-alt:
				}
				mu.Lock()
				time.Sleep(time.Microsecond)
				mu.Unlock()
				pong <- v
			}
		})
	}
	wg.Wait()
	trace.Stop()
	return buf.Bytes()
}

// build indexes a trace held in memory.
func build(t *testing.T, data []byte) *Index {
	t.Helper()
	x := New()
	if err := x.Build(context.Background(), bytes.NewReader(data), Options{}); err != nil {
		t.Fatalf("build: %v", err)
	}
	return x
}

// allSpans returns every lane's spans, unmerged, by goroutine id.
func allSpans(x *Index) map[int64][]Span {
	w := x.Window(Query{Start: 0, End: x.Stats().Now + 1, Count: x.LaneCount(true), Hidden: true})
	out := make(map[int64][]Span)
	for _, l := range w.Lanes {
		out[l.ID] = l.Spans
	}
	return out
}

// TestMatchesBuilder holds the index to tracer.ReadTrace: on the same trace,
// every goroutine has the same name, parent, visibility and spans (states,
// reasons, stacks and times), in the same order.
func TestMatchesBuilder(t *testing.T) {
	fixtures, _ := filepath.Glob("../testdata/traces/*.trace")
	cases := map[string][]byte{"workload": record(t)}
	for _, f := range fixtures {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cases[filepath.Base(f)] = b
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			tl, err := tracer.ReadTrace(bytes.NewReader(data), tracer.ReadOptions{})
			if err != nil {
				t.Fatalf("ReadTrace: %v", err)
			}
			x := build(t, data)
			st := x.Stats()
			if got, want := st.Goroutines, len(tl.Goroutines); got != want {
				t.Fatalf("goroutines: got %d, want %d", got, want)
			}
			if st.Now != tl.Duration {
				t.Errorf("now: got %d, want the duration %d", st.Now, tl.Duration)
			}
			lanes := x.Lanes(0, st.Goroutines, true)
			spans := allSpans(x)
			var total int64
			for i, g := range tl.Goroutines {
				l := lanes[i]
				if l.ID != g.ID || l.Name != g.Name || l.Parent != g.Parent || l.Hidden != g.Hidden {
					t.Errorf("lane %d: got %+v, want goroutine %d %q parent %d hidden %v", i, l, g.ID, g.Name, g.Parent, g.Hidden)
				}
				if gs, ws := x.Stack(l.Created), tl.Stack(g.Created); !reflect.DeepEqual(gs, ws) {
					t.Errorf("G%d: creation stack differs:\n got %+v\nwant %+v", g.ID, gs, ws)
				}
				if l.Spans != len(g.Spans) {
					t.Errorf("G%d: %d spans listed, want %d", g.ID, l.Spans, len(g.Spans))
				}
				got := spans[g.ID]
				if len(got) != len(g.Spans) {
					t.Errorf("G%d: got %d spans, want %d", g.ID, len(got), len(g.Spans))
					continue
				}
				for j, s := range g.Spans {
					// Stack indices differ (the builder also interns the
					// stacks of links), so stacks are compared by content.
					want := Span{Start: s.Start, End: s.End, State: s.State, Reason: s.Reason, Stack: got[j].Stack}
					if got[j] != want {
						t.Errorf("G%d span %d: got %+v, want %+v", g.ID, j, got[j], want)
					}
					if gs, ws := x.Stack(got[j].Stack), tl.Stack(s.Stack); !reflect.DeepEqual(gs, ws) {
						t.Errorf("G%d span %d: stack differs:\n got %+v\nwant %+v", g.ID, j, gs, ws)
					}
				}
				total += int64(len(g.Spans))
			}
			if st.Spans != total {
				t.Errorf("spans: got %d, want %d", st.Spans, total)
			}
			visible := 0
			for _, g := range tl.Goroutines {
				if !g.Hidden {
					visible++
				}
			}
			if got := x.LaneCount(false); got != visible {
				t.Errorf("visible lanes: got %d, want %d", got, visible)
			}
		})
	}
}

// TestNotATrace checks that garbage is an error wrapping tracer.ErrNotTrace.
func TestNotATrace(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":   nil,
		"garbage": []byte("this is not an execution trace, not at all\n"),
	} {
		t.Run(name, func(t *testing.T) {
			err := New().Build(context.Background(), bytes.NewReader(data), Options{})
			if !errors.Is(err, tracer.ErrNotTrace) {
				t.Errorf("got %v, want an error wrapping ErrNotTrace", err)
			}
		})
	}
}

// TestTruncated checks that a trace cut in its last generation keeps what
// came before, with a warning, exactly as tracer.ReadTrace does.
func TestTruncated(t *testing.T) {
	data := record(t)
	cut := data[:len(data)*3/4]
	tl, err := tracer.ReadTrace(bytes.NewReader(cut), tracer.ReadOptions{})
	if err != nil {
		t.Fatalf("ReadTrace: %v", err)
	}
	x := New()
	if err := x.Build(context.Background(), bytes.NewReader(cut), Options{}); err != nil {
		t.Fatalf("build: %v", err)
	}
	st := x.Stats()
	if !st.Truncated {
		t.Errorf("the index does not say that the trace is truncated")
	}
	if st.Truncated != tl.Truncated || len(st.Warnings) != len(tl.Warnings) {
		t.Fatalf("got truncated %v %q, want %v %q", st.Truncated, st.Warnings, tl.Truncated, tl.Warnings)
	}
	for i := range st.Warnings {
		if st.Warnings[i] != tl.Warnings[i] {
			t.Errorf("warning %d: got %q, want %q", i, st.Warnings[i], tl.Warnings[i])
		}
	}
	if st.Goroutines != len(tl.Goroutines) {
		t.Errorf("goroutines: got %d, want %d", st.Goroutines, len(tl.Goroutines))
	}
}

// TestCancel checks that Build stops when its context ends, keeps what it
// indexed and says it is done.
func TestCancel(t *testing.T) {
	data := record(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	x := New()
	if err := x.Build(ctx, bytes.NewReader(data), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	select {
	case <-x.Done():
	default:
		t.Error("Done is not closed")
	}
	select {
	case <-x.Ready():
	default:
		t.Error("Ready is not closed")
	}
	if !x.Stats().Done {
		t.Error("the stats do not say done")
	}
	if !errors.Is(x.Err(), context.Canceled) {
		t.Errorf("Err: got %v, want context.Canceled", x.Err())
	}
}

// The goroutines that sync.WaitGroup.Go starts are named after the
// function they run, as the builder names them, not after the wrapper that
// every one of them starts in; runtime/trace's writer is hidden like the
// runtime's goroutines.
func TestWaitGroupGoLanesNamed(t *testing.T) {
	x := build(t, record(t))
	named := 0
	for _, l := range x.Lanes(0, x.LaneCount(true), true) {
		if l.Name == tracer.WrapperStart {
			t.Errorf("G%d is named %q, want the function it runs", l.ID, l.Name)
		}
		if strings.HasPrefix(l.Name, "index.record.func") {
			named++
		}
		if strings.Contains(l.Name, "traceMultiplexer") && !l.Hidden {
			t.Errorf("G%d %q, runtime/trace's own writer, is a visible lane", l.ID, l.Name)
		}
	}
	if named != 8 {
		t.Errorf("%d lanes are named after record's function literals, want the 8 that wg.Go started", named)
	}
}
