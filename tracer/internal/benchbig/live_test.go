package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/exp/trace"

	"github.com/concviz/concviz/tracer"
	"github.com/concviz/concviz/web"
)

// TestLiveFigures prints the live-mode figures when CONCVIZ_BENCH_LIVE=1:
//
//	CONCVIZ_BENCH_LIVE=1 go test ./tracer/internal/benchbig -run TestLiveFigures -v
//
// It takes about three minutes and both cores, so it is not part of a plain
// go test. CONCVIZ_BENCH_LIVE_RATES=400000,800000 measures only those of
// liveRates, to profile one step with -cpuprofile.
func TestLiveFigures(t *testing.T) {
	if os.Getenv("CONCVIZ_BENCH_LIVE") != "1" {
		t.Skip("set CONCVIZ_BENCH_LIVE=1 to measure live mode")
	}
	rates := liveRates
	if list := os.Getenv("CONCVIZ_BENCH_LIVE_RATES"); list != "" {
		rates = nil
		for _, f := range strings.Split(list, ",") {
			r, err := strconv.Atoi(f)
			if err != nil || !slices.Contains(liveRates, r) {
				t.Fatalf("CONCVIZ_BENCH_LIVE_RATES: %q is not one of %v", f, liveRates)
			}
			rates = append(rates, r)
		}
	}
	if err := liveFiguresAt(context.Background(), os.Stdout, rates); err != nil {
		t.Fatal(err)
	}
}

// TestLiveStepLowRate runs the busy child at its lowest rate through the
// whole live path and checks what the figures rest on: the child makes
// about the events it is asked for, the client sees them, and at this rate
// the view keeps up.
func TestLiveStepLowRate(t *testing.T) {
	ls, err := startLiveServer(t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rate := liveRates[0]
	st, err := ls.step(ctx, rate)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("target %d, made %.0f, shown %.0f events/s in %d updates; lag p50 %s, max %s; %s",
		rate, st.produced, st.delivered, st.updates, st.lagP50, st.lagMax, st.verdict())
	if st.outcome != "ok" {
		t.Errorf("outcome %s, want ok", st.outcome)
	}
	// The pacing is loose on a shared machine, but a child off by half
	// measures nothing.
	if st.produced < 0.5*float64(rate) || st.produced > 1.5*float64(rate) {
		t.Errorf("the child made %.0f events/s, want about %d", st.produced, rate)
	}
	// Every round trip is six transitions the builder must show.
	if st.delivered < 0.5*st.produced {
		t.Errorf("the client was shown %.0f events/s of the %.0f made", st.delivered, st.produced)
	}
	if st.updates < int(liveProduce/(200*time.Millisecond)) {
		t.Errorf("%d updates in %s, want one about every 50 ms generation", st.updates, liveProduce)
	}
}

// TestScanUpdate checks the client's scan of update messages against a
// decode of the same JSON, on an update of a real run of the busy child and
// on one with the fields that the scan must step over.
func TestScanUpdate(t *testing.T) {
	res, err := tracer.Run(context.Background(), tracer.RunOptions{Scenario: liveScenarioID, Variant: liveVariant(liveRates[0])})
	if err != nil {
		t.Fatal(err)
	}
	var real tracer.Update
	for _, g := range res.Timeline.Goroutines {
		real.Goroutines = append(real.Goroutines, tracer.GoroutineDelta{ID: g.ID, Name: g.Name, Parent: g.Parent, Created: g.Created, Hidden: g.Hidden, Spans: g.Spans})
	}
	real.Wall = 1_700_000_000_123_456_789
	tricky := tracer.Update{
		Wall: 42,
		Goroutines: []tracer.GoroutineDelta{
			{ID: 7, Name: `main.(*pool).run.func1 "quoted"`, Parent: 3, Created: -1, Hidden: true, FromSpan: 12,
				Spans: []tracer.Span{{Start: 1, End: tracer.Open, State: tracer.StateBlockedRecv, Reason: "chan receive", Stack: -1}}},
			{ID: 8, FromSpan: 0, Spans: []tracer.Span{}},
		},
		Links: []tracer.Link{{Kind: tracer.LinkWake, From: 7, To: 8}},
		Logs:  []tracer.LogEntry{{G: 7, Category: "x", Message: `{"id":99,"from_span":5}`}},
	}
	for name, u := range map[string]*tracer.Update{"real": &real, "tricky": &tricky} {
		data, err := json.Marshal(web.Message{Type: web.MsgUpdate, Run: 1, Update: u})
		if err != nil {
			t.Fatal(err)
		}
		var want web.Message
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatal(err)
		}
		wall, ds, err := scanUpdate(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if wall != want.Update.Wall {
			t.Errorf("%s: wall %d, want %d", name, wall, want.Update.Wall)
		}
		if len(ds) != len(want.Update.Goroutines) {
			t.Fatalf("%s: %d deltas, want %d", name, len(ds), len(want.Update.Goroutines))
		}
		for i, d := range want.Update.Goroutines {
			if got := ds[i]; got != (liveDelta{id: d.ID, fromSpan: d.FromSpan, spans: len(d.Spans)}) {
				t.Errorf("%s: delta %d = %+v, want id %d from %d, %d spans", name, i, got, d.ID, d.FromSpan, len(d.Spans))
			}
		}
	}
}

// BenchmarkSpansJSON measures what the profile of a busy live run names as
// the server's largest cost: encoding the spans of updates as JSON. It
// compares encoding/json with an encoder written out by hand that gives
// the same bytes (checked first), the change that would relieve the
// session's writer:
//
//	go test ./tracer/internal/benchbig -run '^$' -bench SpansJSON
func BenchmarkSpansJSON(b *testing.B) {
	reasons := []string{"", "chan receive", "chan send", "sleep"}
	states := []tracer.State{tracer.StateRunning, tracer.StateRunnable, tracer.StateBlockedRecv, tracer.StateSleep}
	spans := make([]tracer.Span, 10_000)
	for i := range spans {
		spans[i] = tracer.Span{Start: int64(i) * 1733, End: int64(i)*1733 + 1500, State: states[i%4], Reason: reasons[i%4], Stack: i % 7}
	}
	spans[len(spans)-1].End = tracer.Open
	want, err := json.Marshal(spans)
	if err != nil {
		b.Fatal(err)
	}
	if got := appendSpans(nil, spans); string(got) != string(want) {
		b.Fatalf("the hand-written encoder differs:\n%.200s\nwant\n%.200s", got, want)
	}
	b.Run("encoding/json", func(b *testing.B) {
		b.SetBytes(int64(len(want)))
		for b.Loop() {
			if _, err := json.Marshal(spans); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
	})
	b.Run("by-hand", func(b *testing.B) {
		b.SetBytes(int64(len(want)))
		var buf []byte
		for b.Loop() {
			buf = appendSpans(buf[:0], spans)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
	})
}

// appendSpans encodes spans as encoding/json does, field by field. Its
// strconv.AppendQuote agrees with encoding/json on the runtime's plain
// block reasons only; an encoder for the server would escape as
// encoding/json does.
func appendSpans(buf []byte, spans []tracer.Span) []byte {
	buf = append(buf, '[')
	for i, s := range spans {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"start":`...)
		buf = strconv.AppendInt(buf, s.Start, 10)
		buf = append(buf, `,"end":`...)
		buf = strconv.AppendInt(buf, s.End, 10)
		buf = append(buf, `,"state":"`...)
		buf = append(buf, s.State.String()...)
		buf = append(buf, '"')
		if s.Reason != "" {
			buf = append(buf, `,"reason":`...)
			buf = strconv.AppendQuote(buf, s.Reason)
		}
		buf = append(buf, `,"stack":`...)
		buf = strconv.AppendInt(buf, int64(s.Stack), 10)
		buf = append(buf, '}')
	}
	return append(buf, ']')
}

// BenchmarkLiveBuilder measures the reader's half of the live pipeline
// alone: the trace of the busy child at 800k events/s (recorded once, by a
// real run) read with x/exp/trace and built into a timeline by the
// streaming builder, flushing an update per generation as the live reader
// does. ns/event is per goroutine event of the scenario.
//
//	go test ./tracer/internal/benchbig -run '^$' -bench LiveBuilder -count 5
//
// CONCVIZ_BENCH_TRACE names a file that keeps the recorded trace from one
// invocation to the next, so that two builds of the builder read the same
// trace.
func BenchmarkLiveBuilder(b *testing.B) {
	raw, spans := liveTrace(b)
	b.SetBytes(int64(raw.Len()))
	// CPU time (both threads of a GC included) is steadier than wall
	// time on a shared machine.
	cpu0, _ := liveCPU()
	for b.Loop() {
		bl := tracer.NewBuilder(true)
		r, err := trace.NewReader(bytes.NewReader(raw.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		gen := 0
		for {
			ev, err := r.ReadEvent()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if ev.Kind() == trace.EventSync && gen > 0 && bl.Dirty() {
				bl.Flush()
			}
			if ev.Kind() == trace.EventSync {
				gen++
			}
			bl.Event(&ev)
		}
		bl.Finish()
	}
	cpu1, _ := liveCPU()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/event")
	b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N*spans), "cpu-ns/event")
}

// liveTrace returns the trace of a run of the busy child at 800k events/s
// and the number of its scenario's goroutine events, from the file
// CONCVIZ_BENCH_TRACE names if it exists, else from a new run (saved there
// when it is set).
func liveTrace(b *testing.B) (*bytes.Buffer, int) {
	file := os.Getenv("CONCVIZ_BENCH_TRACE")
	if data, err := os.ReadFile(file); file != "" && err == nil {
		tl, err := tracer.ReadTrace(bytes.NewReader(data), tracer.ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		return bytes.NewBuffer(data), scenarioSpans(tl)
	}
	var raw bytes.Buffer
	res, err := tracer.Run(context.Background(), tracer.RunOptions{Scenario: liveScenarioID, Variant: liveVariant(800_000), TraceOut: &raw, Timeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	if file != "" {
		if err := os.WriteFile(file, raw.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return &raw, scenarioSpans(res.Timeline)
}

// scenarioSpans counts the spans of the visible goroutines.
func scenarioSpans(tl *tracer.Timeline) int {
	n := 0
	for _, g := range tl.Goroutines {
		if !g.Hidden {
			n += len(g.Spans)
		}
	}
	return n
}
