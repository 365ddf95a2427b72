package tracer

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// spinTrace records the broken select-default-spin with a CPU profile: its
// waiting goroutine burns a CPU for about 50 ms, so the trace holds CPU
// samples of scenarios.spinBroken, while the producer sleeps. At 100 Hz
// that is about five samples; on a busy machine a run may get none, so it
// runs again, a few times at most, until the spin was sampled twice.
func spinTrace(t *testing.T, wantSamples int) (*Result, []byte) {
	t.Helper()
	for try := 1; ; try++ {
		var raw bytes.Buffer
		res, err := Run(context.Background(), RunOptions{Scenario: "select-default-spin", Variant: "broken", Profile: ProfileCPU, TraceOut: &raw})
		if err != nil {
			t.Fatal(err)
		}
		p, err := profile.Parse(bytes.NewReader(res.Profile))
		if err != nil {
			t.Fatalf("the run's profile does not parse: %v", err)
		}
		n := 0
		for _, s := range p.Sample {
			if sampleHas(s, "scenarios.spinBroken") {
				n++
			}
		}
		if n >= wantSamples || try == 5 {
			return res, raw.Bytes()
		}
		t.Logf("run %d: the spin got %d CPU samples, running again", try, n)
	}
}

func windowProfile(t *testing.T, raw []byte, w Window, kind string) *profile.Profile {
	t.Helper()
	b, err := WindowProfile(bytes.NewReader(raw), w, kind)
	if err != nil {
		t.Fatalf("window profile %v: %v", w, err)
	}
	p, err := profile.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("window profile %v does not parse: %v", w, err)
	}
	return p
}

// TestWindowProfileKeepsItsWindow cuts a real run's trace in two at its
// middle: each half's profile holds only samples from that half, and the
// halves together hold every sample of the whole run's window profile.
func TestWindowProfileKeepsItsWindow(t *testing.T) {
	res, raw := spinTrace(t, 2)
	whole := Window{Start: 0, End: res.Timeline.Duration + 1}
	all := windowProfile(t, raw, whole, ProfileCPU)
	if !profileHas(all, "scenarios.spinBroken") {
		t.Fatalf("the whole trace's CPU samples never name scenarios.spinBroken (%d samples)", len(all.Sample))
	}
	// runtime/pprof writes the same samples into the trace and into the
	// profile, so the whole trace's window profile holds as many as the
	// run's profile (which adds up the samples of one stack).
	if run, err := profile.Parse(bytes.NewReader(res.Profile)); err != nil || sampleCount(run) != len(all.Sample) {
		t.Errorf("the whole trace has %d CPU samples, the run's profile %d (%v)", len(all.Sample), sampleCount(run), err)
	}
	if profileHas(all, "tracer.(*watchdog).poll") {
		t.Errorf("the harness's watchdog is in the window profile")
	}
	// The middle of the spin: the first CPU sample of spinBroken and the
	// last one bound it.
	first, last := int64(-1), int64(-1)
	for _, s := range all.Sample {
		if !sampleHas(s, "scenarios.spinBroken") {
			continue
		}
		tm := s.NumLabel[LabelTime][0]
		if first < 0 || tm < first {
			first = tm
		}
		last = max(last, tm)
	}
	mid := first + (last-first)/2 + 1
	halves := []Window{{Start: 0, End: mid}, {Start: mid, End: whole.End}}
	n := 0
	for _, w := range halves {
		p := windowProfile(t, raw, w, ProfileCPU)
		for _, s := range p.Sample {
			tm := s.NumLabel[LabelTime]
			if len(tm) != 1 || tm[0] < w.Start || tm[0] >= w.End {
				t.Errorf("window %v holds a sample at %v", w, tm)
			}
		}
		if p.DurationNanos != w.End-w.Start {
			t.Errorf("window %v: duration %d", w, p.DurationNanos)
		}
		n += len(p.Sample)
	}
	if n != len(all.Sample) {
		t.Errorf("the halves hold %d samples, the whole %d", n, len(all.Sample))
	}
	t.Logf("%d CPU samples, spinBroken from %v to %v", len(all.Sample), first, last)
	if first == last {
		t.Logf("only one CPU sample of spinBroken: the halves are not both busy")
	}
}

// TestWindowProfileWallSeesBlocking checks that a wall-clock window profile
// charges the producer's sleep to the line that sleeps, and clips every
// blocked stretch to the window.
func TestWindowProfileWallSeesBlocking(t *testing.T) {
	res, raw := spinTrace(t, 0)
	// The middle half of the producer's sleep, as the timeline shows it.
	var w Window
	for _, g := range res.Timeline.Goroutines {
		for _, s := range g.Spans {
			if !g.Hidden && s.State == StateSleep {
				w = Window{Start: s.Start + (s.End-s.Start)/4, End: s.End - (s.End-s.Start)/4}
			}
		}
	}
	if w.End <= w.Start {
		t.Fatal("the timeline shows no goroutine asleep")
	}
	p := windowProfile(t, raw, w, ProfileWall)
	sleep := false
	for _, s := range p.Sample {
		from, to := s.NumLabel[LabelTime], s.NumLabel[LabelTimeEnd]
		if s.Label[LabelState][0] == StateRunning.String() {
			continue
		}
		if len(from) != 1 || len(to) != 1 || from[0] < w.Start || to[0] > w.End || s.Value[1] != to[0]-from[0] {
			t.Errorf("blocked sample [%v, %v) worth %d outside the window %v", from, to, s.Value[1], w)
		}
		if s.Label[LabelState][0] == StateSleep.String() && sampleHas(s, "scenarios.produceLater.func1") {
			sleep = true
		}
	}
	if !sleep {
		t.Errorf("the wall profile of %v never sees produceLater's goroutine sleep", w)
	}
}

func TestWindowProfileRefusesBadInput(t *testing.T) {
	if _, err := WindowProfile(bytes.NewReader(nil), Window{Start: 0, End: 1}, ProfileCPU); err == nil {
		t.Error("an empty trace gave a profile")
	}
	if _, err := WindowProfile(bytes.NewReader(nil), Window{Start: 5, End: 5}, ProfileCPU); err == nil {
		t.Error("an empty window gave a profile")
	}
	if _, err := WindowProfile(bytes.NewReader(nil), Window{Start: 0, End: 5}, "heap"); err == nil {
		t.Error("an unknown kind gave a profile")
	}
}

func sampleHas(s *profile.Sample, fn string) bool {
	p := &profile.Profile{Sample: []*profile.Sample{s}}
	return profileHas(p, fn)
}

// sampleCount adds up the first value (the count) of every sample.
func sampleCount(p *profile.Profile) int {
	n := 0
	for _, s := range p.Sample {
		n += int(s.Value[0])
	}
	return n
}

// TestWindowProfileWallWithoutCPUSamples profiles a run recorded without
// a CPU profile: the wall profile still charges the spin's running time to
// its function, under a frame that says a CPU profile would say where.
func TestWindowProfileWallWithoutCPUSamples(t *testing.T) {
	var raw bytes.Buffer
	res, err := Run(context.Background(), RunOptions{Scenario: "select-default-spin", Variant: "broken", TraceOut: &raw})
	if err != nil {
		t.Fatal(err)
	}
	p := windowProfile(t, raw.Bytes(), Window{Start: 0, End: res.Timeline.Duration + 1}, ProfileWall)
	var spun, slept int64
	for _, s := range p.Sample {
		switch {
		case sampleHas(s, "(running: record a CPU profile to see where)") && sampleHas(s, "scenarios.spinBroken"):
			spun += s.Value[1]
		case sampleHas(s, "(runnable: waiting for a CPU)") && sampleHas(s, "scenarios.spinBroken"):
			spun += s.Value[1]
		case s.Label[LabelState][0] == StateSleep.String() && sampleHas(s, "scenarios.produceLater.func1"):
			slept += s.Value[1]
		}
	}
	// The spin lasts until the producer's 50 ms sleep ends.
	if spun < int64(40*time.Millisecond) || slept < int64(40*time.Millisecond) {
		t.Errorf("the wall profile has spinBroken running or runnable for %v and the producer asleep for %v; want 40ms or more of each",
			time.Duration(spun), time.Duration(slept))
	}
}
