package main

import (
	"strings"
	"testing"
	"time"

	"github.com/concviz/concviz/tracer"
)

const ms = int64(time.Millisecond)

// span is a shorthand for a span of the hand-made timelines below.
func span(start, end int64, s tracer.State) tracer.Span {
	if end != tracer.Open {
		end *= ms
	}
	return tracer.Span{Start: start * ms, End: end, State: s, Stack: tracer.NoStack}
}

// testTimeline is a 100 ms run; at width 10 each column is 10 ms.
func testTimeline() *tracer.Timeline {
	return &tracer.Timeline{
		Duration: 100 * ms,
		Goroutines: []*tracer.Goroutine{
			{ID: 1, Name: "main.main", Spans: []tracer.Span{
				span(0, 20, tracer.StateRunning),
				span(20, tracer.Open, tracer.StateBlockedRecv),
			}},
			{ID: 2, Name: "runtime.bgsweep", Hidden: true, Spans: []tracer.Span{
				span(0, tracer.Open, tracer.StateBlockedSend),
			}},
			{ID: 7, Name: "main.worker", Parent: 1, Spans: []tracer.Span{
				span(10, 30, tracer.StateRunning),
				// A tie in column 3: the state that came first wins.
				span(30, 35, tracer.StateRunnable),
				span(35, 50, tracer.StateRunning),
				span(50, 95, tracer.StateBlockedMutex),
				// Finishing only wins a column nothing else covers.
				span(95, 100, tracer.StateDone),
			}},
			{ID: 8, Name: "main.(*pool).startWorkerWithAVeryLongName.func1", Spans: []tracer.Span{
				// Shorter than a column, yet shown.
				span(41, 43, tracer.StateRunning),
				span(43, 44, tracer.StateDone),
			}},
			{ID: 9, Name: "main.stuck", Spans: []tracer.Span{
				span(60, 62, tracer.StateRunnable),
				span(62, 70, tracer.StateSleep),
				span(70, tracer.Open, tracer.StateStuck),
			}},
		},
	}
}

func TestRenderTimelineRows(t *testing.T) {
	var b strings.Builder
	renderTimeline(&b, testTimeline(), 10)
	lines := strings.Split(b.String(), "\n")
	want := []struct{ label, lane string }{
		{"G1 main.main", "██RRRRRRRR"},
		{"G7 main.worker", " ██▒█MMMMM"},
		{"G8 …rWithAVeryLongName.func1", "    █     "},
		{"G9 main.stuck", "      zXXX"},
	}
	if len(lines) < len(want)+3 {
		t.Fatalf("%d lines, want %d rows, an axis and a legend:\n%s", len(lines), len(want), b.String())
	}
	for i, w := range want {
		label, lane, ok := strings.Cut(lines[i], " │")
		if !ok {
			t.Fatalf("row %d has no lane: %q", i, lines[i])
		}
		if got := strings.TrimRight(label, " "); got != w.label {
			t.Errorf("row %d label = %q, want %q", i, got, w.label)
		}
		if got := strings.TrimSuffix(lane, "│"); got != w.lane {
			t.Errorf("row %d (%s) lane = %q, want %q", i, w.label, got, w.lane)
		}
	}
	// Labels are padded to one width, so the lanes line up.
	col := runeIndex(lines[0], '│')
	for i := range want {
		if got := runeIndex(lines[i], '│'); got != col {
			t.Errorf("row %d lane starts at column %d, want %d", i, got, col)
		}
	}
	if !strings.HasPrefix(lines[4], strings.Repeat(" ", 29)+"└") {
		t.Errorf("the ruler does not start under the lanes: %q", lines[4])
	}
	if strings.Contains(b.String(), "bgsweep") {
		t.Error("a hidden goroutine was drawn")
	}
}

func TestRenderTimelineAxisAndLegend(t *testing.T) {
	var b strings.Builder
	renderTimeline(&b, testTimeline(), 40)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 4+3 {
		t.Fatalf("%d lines, want 4 rows, ruler, axis and legend:\n%s", len(lines), b.String())
	}
	ruler, axis, legend := lines[4], lines[5], lines[6]
	// The ruler's corner sits under the lanes' left border.
	if !strings.Contains(ruler, "└┴") || runeIndex(ruler, '└') != runeIndex(lines[0], '│') || !strings.HasSuffix(ruler, "┘") {
		t.Errorf("ruler %q does not frame the lanes", ruler)
	}
	// 40 columns: ticks at columns 0 and 20, labels 0 and 50ms, the end
	// label under the right corner.
	if got := strings.Count(ruler, "┴"); got != 2 {
		t.Errorf("ruler %q has %d ticks, want 2", ruler, got)
	}
	if got := strings.Fields(axis); len(got) != 3 || got[0] != "0" || got[1] != "50ms" || got[2] != "100ms" {
		t.Errorf("axis labels %q, want 0 50ms 100ms", got)
	}
	if utf8Len(axis) != utf8Len(ruler) {
		t.Errorf("axis %q does not end under the ruler's corner %q", axis, ruler)
	}
	if want := "█ running  ▒ runnable  R chan receive  M mutex  z sleep  X stuck"; legend != want {
		t.Errorf("legend = %q, want %q", legend, want)
	}
}

func TestRenderTimelineEdgeCases(t *testing.T) {
	tests := []struct {
		name  string
		tl    *tracer.Timeline
		width int
		want  string // a line the output must contain
	}{
		{"nil", nil, 10, "(no goroutines in the trace)"},
		{"all hidden", &tracer.Timeline{Duration: 5, Goroutines: []*tracer.Goroutine{{ID: 2, Hidden: true}}}, 10, "(no goroutines in the trace)"},
		{"zero duration", &tracer.Timeline{Goroutines: []*tracer.Goroutine{{ID: 1, Name: "main.main",
			Spans: []tracer.Span{{Start: 0, End: tracer.Open, State: tracer.StateRunning}}}}}, 10, "G1 main.main │██████████│"},
		{"narrow", testTimeline(), 0, "G1 main.main                 │██RRRRRR│"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			renderTimeline(&b, tt.tl, tt.width)
			if !strings.Contains(b.String(), tt.want) {
				t.Errorf("output does not contain %q:\n%s", tt.want, b.String())
			}
		})
	}
}

func TestRenderTimelineDeterministic(t *testing.T) {
	var a, b strings.Builder
	renderTimeline(&a, testTimeline(), 57)
	renderTimeline(&b, testTimeline(), 57)
	if a.String() != b.String() {
		t.Errorf("two renderings differ:\n%s\n%s", a.String(), b.String())
	}
}

func utf8Len(s string) int { return len([]rune(s)) }

// runeIndex is the column of the first r in s, or -1.
func runeIndex(s string, r rune) int {
	for i, c := range []rune(s) {
		if c == r {
			return i
		}
	}
	return -1
}

func TestRowLabel(t *testing.T) {
	tests := []struct {
		id   int64
		name string
		want string
	}{
		{1, "main.main", "G1 main.main"},
		{3, "", "G3"},
		{25, "scenarios.crossWaitBroken.func1", "G25 crossWaitBroken.func1"},
		{7, "github.com/a/b.(*T).m", "G7 github.com/a/b.(*T).m"},
		{123456, "scenarios.aVeryLongFunctionNameIndeed.func12", "G123456 …nctionNameIndeed.func12"},
	}
	for _, tt := range tests {
		g := &tracer.Goroutine{ID: tt.id, Name: tt.name}
		if got := rowLabel(g, 32); got != tt.want {
			t.Errorf("rowLabel(G%d %q) = %q, want %q", tt.id, tt.name, got, tt.want)
		}
	}
}
