package scenarios

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

var gcPacing = Scenario{
	ID:       "gc-pacing",
	Title:    "GOGC and GOMEMLIMIT pace the collector",
	Category: "Performance",
	Statement: "A program keeps 16 MB of data live and churns through 160 MB of short-lived " +
		"64 KB buffers. Run it with GOGC=100 (the default), with GOGC=25, and with GOGC=100 " +
		"plus a 24 MB memory limit. Which runs more garbage collections, and which lets the " +
		"heap grow largest? Watch the GC and heap lanes.",
	Failure: "GOGC sets how far the heap may grow past what was live after the last " +
		"collection before the next cycle is due: 100 lets it double, 25 lets it grow by a " +
		"quarter. With 16 MB live, GOGC=100 collects after about every 16 MB of allocation, " +
		"and the heap grows to well over twice the live data (the program keeps allocating " +
		"while a cycle runs); GOGC=25 collects about four times as often and keeps the heap " +
		"smaller: less memory for more CPU. The run prints the cycles it counted and the " +
		"largest heap it saw.",
	Fix: "GOMEMLIMIT (here debug.SetMemoryLimit) is a soft ceiling on the runtime's memory: " +
		"GOGC still paces the collector, but near the limit the collector runs as often as it " +
		"must to stay under it. With a 24 MB limit and 16 MB live, that is far more often than " +
		"either GOGC setting alone. The lesson: GOGC trades CPU for memory all the time; a " +
		"memory limit does so only near the ceiling, and a limit set too close to the live " +
		"data makes the collector run almost without pause.",
	File:         "gc_pacing.go",
	Lesson:       true,
	DefaultFixed: "gogc-25",
	Variants: []Variant{
		{Name: "gogc-100", Expect: OK, Run: gcDefault},
		{Name: "gogc-25", Expect: OK, Run: gcFrequent},
		{Name: "memlimit", Expect: OK, Run: gcLimited},
	},
}

// sink keeps the churned buffers from being optimised away.
var sink []byte

// churn keeps live MB of data and allocates total MB of garbage, then
// shows how many collections ran and how large the heap grew. It reads
// runtime/metrics, which, unlike runtime.ReadMemStats, does not stop the
// world: the pauses on the timeline are the collector's own.
func churn(ctx context.Context, live, total int) error {
	kept := make([][]byte, live)
	for i := range kept {
		kept[i] = make([]byte, 1<<20)
	}
	sample := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	before := sample[0].Value.Uint64()
	var peak uint64
	for i := range total * 16 {
		sink = make([]byte, 64<<10)
		if i%64 == 0 {
			metrics.Read(sample)
			peak = max(peak, sample[1].Value.Uint64())
		}
	}
	metrics.Read(sample)
	show(ctx, "gc", "%d collections, heap peaked near %d MB with %d MB live",
		sample[0].Value.Uint64()-before, peak>>20, len(kept))
	runtime.KeepAlive(kept)
	runtime.KeepAlive(sink)
	return nil
}

func gcDefault(ctx context.Context) error {
	debug.SetGCPercent(100) // the default: the heap may double
	return churn(ctx, 16, 160)
}

func gcFrequent(ctx context.Context) error {
	debug.SetGCPercent(25) // collect when the heap has grown by a quarter
	return churn(ctx, 16, 160)
}

func gcLimited(ctx context.Context) error {
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(24 << 20) // a soft ceiling: collect sooner near it
	return churn(ctx, 16, 160)
}
