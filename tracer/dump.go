package tracer

import (
	"strconv"
	"strings"
)

// This file parses the text the runtime prints for goroutines: the output
// of runtime.Stack(buf, true), which the child's watchdog polls, and the
// dump a panic or a fatal error writes to stderr with GOTRACEBACK=all. The
// format is the runtime's (runtime/traceback.go); it has no specification,
// so the tests parse real output saved by testdata/dumps/gen.go.

// DumpGoroutine is one goroutine of a runtime goroutine dump.
type DumpGoroutine struct {
	ID int64 `json:"id"`
	// Status is the wait reason or state as printed: "chan receive",
	// "running", "sync.Mutex.Lock", "select (no cases)". The wait time,
	// "locked to thread", the transient " (scan)" and the labels are
	// split off.
	Status string `json:"status"`
	// WaitMinutes is N of ", N minutes": how long the goroutine has been
	// blocked, which the runtime only prints from one minute on.
	WaitMinutes int `json:"wait_minutes,omitempty"`
	// Labels holds the goroutine's pprof labels, printed with
	// GODEBUG=tracebacklabels=1; nil if none.
	Labels map[string]string `json:"labels,omitempty"`
	// Frames is the stack, innermost first. It is empty when the runtime
	// could not take the stack (a goroutine running on another thread).
	Frames []Location `json:"frames"`
	// CreatedBy is the frame of the go statement that started the
	// goroutine, zero for the main goroutine and when not printed.
	CreatedBy Location `json:"created_by"`
	// Parent is the goroutine that ran the go statement ("in goroutine
	// N"), 0 if none was printed.
	Parent int64 `json:"parent,omitempty"`
}

// ParseDump parses a goroutine dump. Lines that belong to no goroutine
// (a panic message, the scenario's own output, a "runtime stack:" section)
// are skipped. A dump cut short keeps every complete goroutine and drops
// the one that was cut; a cut that falls exactly between two frames of the
// last goroutine cannot be told from its end, so that goroutine is kept
// with the frames that arrived. ParseDump never fails.
func ParseDump(text string) []DumpGoroutine {
	var p dumpParser
	for text != "" {
		line, rest, complete := strings.Cut(text, "\n")
		text = rest
		if !complete {
			// A last line without its newline was cut: whatever it
			// would have added is unknown, so the goroutine it belongs
			// to is incomplete.
			p.cut = true
			break
		}
		p.line(strings.TrimSuffix(line, "\r"))
	}
	p.end()
	return p.out
}

// dumpParser is the state of ParseDump between lines. A goroutine is built
// in cur from its header on and moved to out when it ends: at a blank line,
// at the next header, at a line that cannot belong to a stack, or at the
// end of the text if it is complete.
type dumpParser struct {
	out []DumpGoroutine
	cur *DumpGoroutine
	// want says what the next line must be for cur to be complete: a
	// file line after a function line or after "created by".
	want wantLine
	// fn is the function of the frame whose file line is awaited.
	fn string
	// unavailable says the runtime printed that cur's stack could not
	// be taken, so having no frames is its complete state.
	unavailable bool
	// cut says the text ended in the middle of a line.
	cut bool
}

type wantLine uint8

const (
	wantAny     wantLine = iota // a header, a frame, "created by" or the end
	wantFile                    // the file line of frame fn
	wantCreator                 // the file line of "created by"
)

// line consumes one line of the dump.
func (p *dumpParser) line(line string) {
	if g, ok := parseHeader(line); ok {
		p.finish()
		p.cur = &g
		return
	}
	if p.cur == nil {
		return
	}
	switch p.want {
	case wantFile, wantCreator:
		file, n, ok := parseFileLine(line)
		if !ok {
			// Not a stack after all: the last function line was
			// text that merely looked like one.
			p.want = wantAny
			p.finish()
			return
		}
		loc := Location{Func: p.fn, File: file, Line: n}
		if p.want == wantFile {
			p.cur.Frames = append(p.cur.Frames, loc)
		} else {
			p.cur.CreatedBy = loc
		}
		p.want = wantAny
		return
	}
	switch {
	case line == "":
		p.finish()
	case strings.HasPrefix(line, "\tgoroutine running on other thread"):
		p.unavailable = true
	case strings.HasPrefix(line, "...") && strings.HasSuffix(line, "elided..."):
		// "...N frames elided..." (Go 1.21 on) or "...additional frames
		// elided...": the middle of a deep stack is missing, the
		// frames around it are real.
	case strings.HasPrefix(line, "created by "):
		fn, parent := parseCreatedBy(strings.TrimPrefix(line, "created by "))
		p.cur.Parent = parent
		p.fn, p.want = fn, wantCreator
	default:
		fn, ok := parseFuncLine(line)
		if !ok {
			p.finish()
			return
		}
		p.fn, p.want = fn, wantFile
	}
}

// finish ends the current goroutine, which is complete.
func (p *dumpParser) finish() {
	if p.cur != nil && p.want == wantAny {
		p.out = append(p.out, *p.cur)
	}
	p.cur, p.want, p.fn, p.unavailable = nil, wantAny, "", false
}

// end handles the end of the text: the current goroutine is kept only if
// nothing shows that it was cut.
func (p *dumpParser) end() {
	if p.cur == nil {
		return
	}
	if p.cut || p.want != wantAny || (len(p.cur.Frames) == 0 && !p.unavailable) {
		p.cur = nil
		return
	}
	p.finish()
}

// parseHeader parses a goroutine header:
//
//	goroutine 22 [chan receive, 2 minutes, locked to thread labels:{"k": "v"}]:
//	goroutine 5 gp=0xc000007c00 m=0 mp=0x5aa380 [running]:
func parseHeader(line string) (DumpGoroutine, bool) {
	rest, ok := strings.CutPrefix(line, "goroutine ")
	if !ok {
		return DumpGoroutine{}, false
	}
	idText, rest, ok := strings.Cut(rest, " ")
	if !ok {
		return DumpGoroutine{}, false
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id < 0 {
		return DumpGoroutine{}, false
	}
	// Skip "gp=... m=... mp=..." (GOTRACEBACK=system, or the goroutine
	// that threw) up to the bracket.
	for strings.HasPrefix(rest, "gp=") || strings.HasPrefix(rest, "m=") || strings.HasPrefix(rest, "mp=") {
		_, rest, ok = strings.Cut(rest, " ")
		if !ok {
			return DumpGoroutine{}, false
		}
	}
	inner, ok := strings.CutPrefix(rest, "[")
	if !ok {
		return DumpGoroutine{}, false
	}
	inner, ok = strings.CutSuffix(inner, "]:")
	if !ok {
		return DumpGoroutine{}, false
	}
	g := DumpGoroutine{ID: id}
	if state, labels, found := strings.Cut(inner, " labels:{"); found {
		inner = state
		g.Labels, ok = parseLabels(labels)
		if !ok {
			return DumpGoroutine{}, false
		}
	}
	parts := strings.Split(inner, ", ")
	// " (scan)" says the garbage collector was scanning the stack at
	// that instant: noise to anyone comparing two dumps.
	g.Status = strings.TrimSuffix(parts[0], " (scan)")
	if g.Status == "" {
		return DumpGoroutine{}, false
	}
	for _, part := range parts[1:] {
		if n, found := strings.CutSuffix(part, " minutes"); found {
			g.WaitMinutes, _ = strconv.Atoi(n)
		}
		// ", locked to thread" and ", synctest bubble N" say nothing
		// the views use.
	}
	return g, true
}

// parseLabels parses the inside of labels:{...}: quoted keys and values as
// the runtime prints them (Go escapes), `"k": "v", "k2": "v2"}`.
func parseLabels(s string) (map[string]string, bool) {
	labels := map[string]string{}
	for {
		key, rest, ok := cutQuoted(s)
		if !ok {
			return nil, false
		}
		rest, ok = strings.CutPrefix(rest, ": ")
		if !ok {
			return nil, false
		}
		value, rest, ok := cutQuoted(rest)
		if !ok {
			return nil, false
		}
		labels[key] = value
		if rest == "}" {
			return labels, true
		}
		if s, ok = strings.CutPrefix(rest, ", "); !ok {
			return nil, false
		}
	}
}

// cutQuoted unquotes the Go string literal at the start of s and returns
// the rest of s after it.
func cutQuoted(s string) (value, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", s, false
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			v, err := strconv.Unquote(s[:i+1])
			if err != nil {
				return "", s, false
			}
			return v, s[i+1:], true
		}
	}
	return "", s, false
}

// parseFuncLine parses the function line of a frame: "main.main.func1()",
// "sync.(*Mutex).Lock(...)", "panic({0x4c37a0?, 0x5a3390?})". Arguments
// never contain parentheses, so the call's are the last ones. Every Go
// function name has a package qualifier; the runtime prints gopanic as
// plain "panic".
func parseFuncLine(line string) (string, bool) {
	if !strings.HasSuffix(line, ")") || strings.HasPrefix(line, "\t") || strings.HasPrefix(line, " ") {
		return "", false
	}
	open := strings.LastIndexByte(line, '(')
	if open <= 0 {
		return "", false
	}
	fn := line[:open]
	if strings.ContainsAny(fn, " \t") || (!strings.Contains(fn, ".") && fn != "panic") {
		return "", false
	}
	return fn, true
}

// parseFileLine parses the file line of a frame:
//
//	<tab>/src/x.go:30 +0x133
//	<tab>/src/x.go:30
//	<tab>/src/x.go:30 +0x2d fp=0xc00005e7e0 sp=0xc00005e7a8 pc=0x489aed
func parseFileLine(line string) (file string, n int, ok bool) {
	s, ok := strings.CutPrefix(line, "\t")
	if !ok {
		return "", 0, false
	}
	if i := strings.Index(s, " +0x"); i >= 0 {
		s = s[:i]
	} else if i := strings.Index(s, " fp="); i >= 0 {
		s = s[:i]
	}
	colon := strings.LastIndexByte(s, ':')
	if colon <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(s[colon+1:])
	if err != nil {
		return "", 0, false
	}
	return s[:colon], n, true
}

// parseCreatedBy parses what follows "created by ": "main.main in
// goroutine 1", or "main.main" alone (before Go 1.21, or for goroutines
// whose creator is unknown).
func parseCreatedBy(s string) (fn string, parent int64) {
	fn, g, found := strings.Cut(s, " in goroutine ")
	if found {
		parent, _ = strconv.ParseInt(g, 10, 64)
	}
	return fn, parent
}

// Crash is what a child that died of a panic or a fatal error printed.
type Crash struct {
	// Kind is "panic" for a Go panic nobody recovered, "fatal" for a
	// runtime fatal error ("concurrent map writes", "all goroutines are
	// asleep - deadlock!"), which no recover can stop.
	Kind string `json:"kind"`
	// Message is the panic value or the fatal error's text. Of a chain
	// of panics ("panic: a [recovered]", "panic: b") it is the last one,
	// the panic that killed the process; the "[recovered]" marks are cut
	// off and the lines of a value that spans several are joined by
	// newlines.
	Message string `json:"message"`
	// Signal is the text inside the brackets of the runtime's signal
	// line, "signal SIGSEGV: segmentation violation code=0x1 addr=0x0
	// pc=0x484dd0", empty when the crash was no signal.
	Signal string `json:"signal,omitempty"`
	// Goroutine is the goroutine that panicked or crashed: the first one
	// dumped. It is 0 when the dump was lost.
	Goroutine int64 `json:"goroutine"`
	// Goroutines is the dump that followed the message, each goroutine
	// once.
	Goroutines []DumpGoroutine `json:"goroutines"`
}

const (
	panicPrefix = "panic: "
	fatalPrefix = "fatal error: "
)

// ParseCrash finds the crash in a child's stderr, which may also contain the
// scenario's own output and race reports before it. ok is false when stderr
// holds no panic or fatal error.
//
// A "panic: " line counts only when a goroutine dump follows it, so that a
// scenario that prints such a line itself is not taken for a crash; a
// "fatal error: " line also counts when it ends the text or a blank line
// follows, because some fatal errors ("no goroutines (main called
// runtime.Goexit) - deadlock!") print no dump.
func ParseCrash(stderr string) (c *Crash, ok bool) {
	lines := strings.Split(stderr, "\n")
	for i, line := range lines {
		var kind string
		switch {
		case strings.HasPrefix(line, panicPrefix):
			kind = "panic"
		case strings.HasPrefix(line, fatalPrefix):
			kind = "fatal"
		default:
			continue
		}
		if c, ok := parseCrashAt(lines, i, kind); ok {
			return c, true
		}
	}
	return nil, false
}

// parseCrashAt parses the crash whose first line is lines[i].
func parseCrashAt(lines []string, i int, kind string) (*Crash, bool) {
	c := &Crash{Kind: kind}
	var msg []string
	if kind == "panic" {
		msg = []string{strings.TrimPrefix(lines[i], panicPrefix)}
	} else {
		msg = []string{strings.TrimPrefix(lines[i], fatalPrefix)}
	}
	j := i + 1
	// The message goes on over lines indented by a tab: the rest of a
	// value with newlines, or the next panic of a chain.
	for ; j < len(lines) && strings.HasPrefix(lines[j], "\t"); j++ {
		next := lines[j][1:]
		if v, found := strings.CutPrefix(next, panicPrefix); found && kind == "panic" {
			msg = []string{v}
			continue
		}
		msg = append(msg, next)
	}
	for ; j < len(lines) && strings.HasPrefix(lines[j], "[signal "); j++ {
		if c.Signal == "" {
			c.Signal = strings.TrimSuffix(strings.TrimPrefix(lines[j], "["), "]")
		}
	}
	c.Message = strings.Join(msg, "\n")
	for _, mark := range []string{" [recovered, repanicked]", " [recovered]"} {
		c.Message = strings.TrimSuffix(c.Message, mark)
	}

	// A blank line, then the dump (GOTRACEBACK=system and crash print
	// the thread's "runtime stack:" first).
	switch {
	case j >= len(lines):
		// The last line was cut: the message may be incomplete.
		return nil, false
	case j == len(lines)-1 && lines[j] == "":
		return c, kind == "fatal"
	case lines[j] != "":
		return nil, false
	}
	next := ""
	if j+1 < len(lines) {
		next = lines[j+1]
	}
	_, isHeader := parseHeader(next)
	if !isHeader && next != "runtime stack:" {
		if kind == "fatal" {
			return c, true
		}
		return nil, false
	}
	seen := map[int64]bool{}
	// GOTRACEBACK=crash dumps the goroutines again after the signal it
	// raises; the first dump is the one of the crash.
	for _, g := range ParseDump(strings.Join(lines[j:], "\n")) {
		if seen[g.ID] {
			continue
		}
		seen[g.ID] = true
		c.Goroutines = append(c.Goroutines, g)
	}
	if len(c.Goroutines) > 0 {
		c.Goroutine = c.Goroutines[0].ID
	}
	return c, true
}
