package index

import (
	"bufio"
	"context"
	"io"
	"os"
	"slices"
	"testing"

	"golang.org/x/exp/trace"
)

// BenchmarkBuild indexes the trace named by CONCVIZ_BIG_TRACE (for example
// one written by tracer/internal/bigtrace), for profiling the per-event
// work: go test -run NONE -bench Build -cpuprofile cpu.out ./tracer/index.
func BenchmarkBuild(b *testing.B) {
	path := os.Getenv("CONCVIZ_BIG_TRACE")
	if path == "" {
		b.Skip("set CONCVIZ_BIG_TRACE to a trace file")
	}
	for b.Loop() {
		x, err := Open(context.Background(), path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(x.Stats().Events), "events/op")
	}
}

// BenchmarkBareLoop reads the same trace with nothing but ReadEvent: the
// floor that BenchmarkBuild is compared with.
func BenchmarkBareLoop(b *testing.B) {
	path := os.Getenv("CONCVIZ_BIG_TRACE")
	if path == "" {
		b.Skip("set CONCVIZ_BIG_TRACE to a trace file")
	}
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		tr, err := trace.NewReader(bufio.NewReaderSize(f, 256<<10))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			if _, err := tr.ReadEvent(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
			n++
		}
		f.Close()
		b.ReportMetric(float64(n), "events/op")
	}
}

// BenchmarkWindowFull asks for the whole of the trace named by
// CONCVIZ_BIG_TRACE at 1920 pixels, for the 50 lanes with the most spans:
// the most a zoomed-out view can cost.
func BenchmarkWindowFull(b *testing.B) {
	path := os.Getenv("CONCVIZ_BIG_TRACE")
	if path == "" {
		b.Skip("set CONCVIZ_BIG_TRACE to a trace file")
	}
	x, err := Open(context.Background(), path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	lanes := x.Lanes(0, x.LaneCount(false), false)
	slices.SortFunc(lanes, func(a, b Lane) int { return b.Spans - a.Spans })
	var ids []int64
	for _, l := range lanes[:min(50, len(lanes))] {
		ids = append(ids, l.ID)
	}
	now := x.Stats().Now
	b.ResetTimer()
	for b.Loop() {
		x.Window(Query{Start: 0, End: now, Pixels: 1920, IDs: ids})
	}
}

// BenchmarkWindowZoom asks for a tenth of the trace named by
// CONCVIZ_BIG_TRACE, at 1920 pixels, for the 50 lanes with the most spans:
// a zoom at which the busiest lanes have many spans per pixel, but fewer
// than a segment holds, so that their segments must be decoded.
func BenchmarkWindowZoom(b *testing.B) {
	path := os.Getenv("CONCVIZ_BIG_TRACE")
	if path == "" {
		b.Skip("set CONCVIZ_BIG_TRACE to a trace file")
	}
	x, err := Open(context.Background(), path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	lanes := x.Lanes(0, x.LaneCount(false), false)
	slices.SortFunc(lanes, func(a, b Lane) int { return b.Spans - a.Spans })
	var ids []int64
	for _, l := range lanes[:min(50, len(lanes))] {
		ids = append(ids, l.ID)
	}
	now := x.Stats().Now
	b.ResetTimer()
	for b.Loop() {
		x.Window(Query{Start: now / 2, End: now/2 + now/10, Pixels: 1920, IDs: ids})
	}
}
