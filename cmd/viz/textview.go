package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/concviz/concviz/tracer"
)

// The text timeline of "viz run": one row per goroutine, one character per
// slice of time, the state the goroutine spent most of that slice in.
//
//	G1 main.main      │██RRRRRRRR│
//	G7 main.worker    │ ██▒█MMMMM│
//	                  └┴─────────┘
//	                   0       10ms
//	█ running  ▒ runnable  R chan receive  M mutex

// glyphs is the character of each state; a blank means the goroutine did
// not exist yet or had finished.
var glyphs = [tracer.StateLast]rune{
	tracer.StateNone:             ' ',
	tracer.StateRunning:          '█',
	tracer.StateRunnable:         '▒',
	tracer.StateSyscall:          's',
	tracer.StateBlockedSend:      'S',
	tracer.StateBlockedRecv:      'R',
	tracer.StateBlockedSelect:    '?',
	tracer.StateBlockedMutex:     'M',
	tracer.StateBlockedRWMutex:   'W',
	tracer.StateBlockedWaitGroup: 'G',
	tracer.StateBlockedCond:      'C',
	tracer.StateBlockedSync:      'Y',
	tracer.StateSleep:            'z',
	tracer.StateBlockedIO:        'I',
	tracer.StateStuck:            'X',
	tracer.StateBlockedOther:     'o',
	tracer.StateDone:             ' ',
}

// glyphNames is what the legend says of each glyph, in words a learner
// reads faster than the model's state names.
var glyphNames = [tracer.StateLast]string{
	tracer.StateRunning:          "running",
	tracer.StateRunnable:         "runnable",
	tracer.StateSyscall:          "syscall",
	tracer.StateBlockedSend:      "chan send",
	tracer.StateBlockedRecv:      "chan receive",
	tracer.StateBlockedSelect:    "select",
	tracer.StateBlockedMutex:     "mutex",
	tracer.StateBlockedRWMutex:   "rwmutex",
	tracer.StateBlockedWaitGroup: "waitgroup",
	tracer.StateBlockedCond:      "cond",
	tracer.StateBlockedSync:      "sync",
	tracer.StateSleep:            "sleep",
	tracer.StateBlockedIO:        "io",
	tracer.StateStuck:            "stuck",
	tracer.StateBlockedOther:     "other wait",
}

const (
	// maxLabel caps the left column, in characters, so that the lanes
	// keep most of a terminal's width.
	maxLabel = 28
	// minWidth is the narrowest lane that still shows anything.
	minWidth = 8
	// tickEvery is about how many columns apart the axis labels are.
	tickEvery = 20
	// maxRows caps the lanes drawn: a thousand rows of one closure say no
	// more than twenty do, and the rest is summarised in one line.
	maxRows = 20
)

// commonNames summarises the start functions of goroutines, most common
// first: "999 scenarios.counterBroken.func1".
func commonNames(gs []*tracer.Goroutine) string {
	count := map[string]int{}
	var order []string
	for _, g := range gs {
		if count[g.Name] == 0 {
			order = append(order, g.Name)
		}
		count[g.Name]++
	}
	sort.SliceStable(order, func(i, j int) bool { return count[order[i]] > count[order[j]] })
	if len(order) > 3 {
		order = order[:3]
	}
	parts := make([]string, len(order))
	for i, n := range order {
		parts[i] = fmt.Sprintf("%d %s", count[n], n)
	}
	return strings.Join(parts, ", ")
}

// renderTimeline draws the visible goroutines of tl as rows of width state
// glyphs over [0, tl.Duration], then a time axis and a legend of the glyphs
// used. The output depends on tl and width only.
func renderTimeline(w io.Writer, tl *tracer.Timeline, width int) {
	width = max(width, minWidth)
	var rows []*tracer.Goroutine
	if tl != nil {
		for _, g := range tl.Goroutines {
			if !g.Hidden {
				rows = append(rows, g)
			}
		}
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "(no goroutines in the trace)")
		return
	}
	dur := max(tl.Duration, 1)
	var more []*tracer.Goroutine
	if len(rows) > maxRows {
		rows, more = rows[:maxRows], rows[maxRows:]
	}

	labels := make([]string, len(rows))
	labelWidth := 0
	for i, g := range rows {
		labels[i] = rowLabel(g, maxLabel)
		labelWidth = max(labelWidth, utf8.RuneCountInString(labels[i]))
	}

	var used [tracer.StateLast]bool
	var b strings.Builder
	for i, g := range rows {
		lane := laneStates(g.Spans, dur, width)
		b.WriteString(pad(labels[i], labelWidth))
		b.WriteString(" │")
		for _, s := range lane {
			used[s] = true
			b.WriteRune(glyphs[s])
		}
		b.WriteString("│\n")
	}
	if len(more) > 0 {
		fmt.Fprintf(&b, "%s   ... and %d more goroutines (%s)\n", strings.Repeat(" ", labelWidth), len(more), commonNames(more))
	}
	ruler, axis := timeAxis(dur, width)
	indent := strings.Repeat(" ", labelWidth+1)
	fmt.Fprintf(&b, "%s%s\n%s%s\n", indent, ruler, indent, axis)
	b.WriteString(legend(used))
	io.WriteString(w, b.String())
}

// laneStates returns, for each of width equal slices of [0, dur), the
// state that covered most of the slice. Not existing yet and having
// finished only win a slice that nothing else covers: a goroutine that
// lived for less than a slice still shows. On a tie the state that came
// first wins, so the output is stable.
//
// Times are scaled by width, so that column c is [c*dur, (c+1)*dur) and no
// column is empty however short the run.
func laneStates(spans []tracer.Span, dur int64, width int) []tracer.State {
	w := int64(width)
	lane := make([]tracer.State, width)
	var cover [tracer.StateLast]int64
	first := 0 // spans before it end before the current column
	for c := range lane {
		lo, hi := int64(c)*dur, int64(c+1)*dur
		cover = [tracer.StateLast]int64{}
		var order []tracer.State
		for i := first; i < len(spans); i++ {
			sp := spans[i]
			end := sp.End
			if end == tracer.Open || end > dur {
				end = dur
			}
			start, end := sp.Start*w, end*w
			if end <= lo {
				if i == first {
					first++
				}
				continue
			}
			if start >= hi {
				break
			}
			if sp.State >= tracer.StateLast {
				continue
			}
			if cover[sp.State] == 0 {
				order = append(order, sp.State)
			}
			cover[sp.State] += min(end, hi) - max(start, lo)
		}
		best, bestCover := tracer.StateNone, int64(-1)
		for _, s := range order {
			if glyphs[s] != ' ' && cover[s] > bestCover {
				best, bestCover = s, cover[s]
			}
		}
		if bestCover < 0 && len(order) > 0 {
			best = order[0]
		}
		lane[c] = best
	}
	return lane
}

// colStart is the time at which column c of width begins.
func colStart(c int, dur int64, width int) int64 {
	return dur * int64(c) / int64(width)
}

// timeAxis returns a ruler with a tick about every tickEvery columns and the
// line of time labels under it, both width+2 characters wide to match a
// lane and its borders.
func timeAxis(dur int64, width int) (ruler, axis string) {
	n := max(width/tickEvery, 1)
	ticks := make([]int, n)
	for i := range ticks {
		ticks[i] = i * width / n
	}
	r := []rune(strings.Repeat("─", width))
	for _, c := range ticks {
		r[c] = '┴'
	}
	ruler = "└" + string(r) + "┘"

	unit := axisUnit(dur)
	line := []rune(strings.Repeat(" ", width+2))
	next := 0 // the first column a label may use
	put := func(at int, s string) {
		rs := []rune(s)
		if at < next || at+len(rs) > len(line) {
			return
		}
		copy(line[at:], rs)
		next = at + len(rs) + 1
	}
	// The end label matters most: the others only go where they leave
	// room for it.
	end := formatTime(dur, unit)
	endAt := len(line) - utf8.RuneCountInString(end)
	for _, c := range ticks {
		s := formatTime(colStart(c, dur, width), unit)
		if c+1+utf8.RuneCountInString(s) < endAt {
			put(c+1, s)
		}
	}
	put(endAt, end)
	return ruler, strings.TrimRight(string(line), " ")
}

// axisUnit picks the rounding of the axis labels: three or four
// significant digits of the whole duration.
func axisUnit(dur int64) time.Duration {
	unit := time.Duration(1)
	for int64(unit)*1000 < dur {
		unit *= 10
	}
	return unit
}

func formatTime(t int64, unit time.Duration) string {
	if t == 0 {
		return "0"
	}
	return time.Duration(t).Round(unit).String()
}

// legend lists the glyphs used, in the order of the states.
func legend(used [tracer.StateLast]bool) string {
	var parts []string
	for s, u := range used {
		if u && glyphs[s] != ' ' {
			parts = append(parts, fmt.Sprintf("%c %s", glyphs[s], glyphNames[s]))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "  ") + "\n"
}

// rowLabel is "G<id> <name>" in at most n characters. A name too long
// loses its package first, then its beginning: the end of a function name
// ("worker.func2") is what tells two goroutines apart.
func rowLabel(g *tracer.Goroutine, n int) string {
	id := fmt.Sprintf("G%d", g.ID)
	name := strings.TrimSpace(g.Name)
	if name == "" {
		return id
	}
	room := n - utf8.RuneCountInString(id) - 1
	if utf8.RuneCountInString(name) > room {
		slash := strings.LastIndexByte(name, '/')
		if dot := strings.IndexByte(name[slash+1:], '.'); dot >= 0 {
			name = name[slash+1+dot+1:]
		}
	}
	if r := []rune(name); len(r) > room {
		name = "…" + string(r[len(r)-max(room-1, 0):])
	}
	return id + " " + name
}

// pad right-pads s with spaces to n characters.
func pad(s string, n int) string {
	return s + strings.Repeat(" ", max(n-utf8.RuneCountInString(s), 0))
}
