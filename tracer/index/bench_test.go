package index

import (
	"bufio"
	"context"
	"io"
	"os"
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
