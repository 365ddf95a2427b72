package tracer

import (
	"bufio"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The programs under testdata/dumps and testdata/races mark the lines the
// tests rely on with "// LINE:name"; their real output, written by gen.go in
// each directory, is saved as go1.NN-<case>.txt with the programs'
// directory shown as /src/.

var lineMark = regexp.MustCompile(`// LINE:(\S+)`)

// markers returns the line numbers of the "// LINE:name" marks of a program
// under testdata/<dir>.
func markers(t *testing.T, dir, prog string) map[string]int {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", dir, prog+".go"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := map[string]int{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if m := lineMark.FindStringSubmatch(sc.Text()); m != nil {
			lines[m[1]] = n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// mark returns the line of one marker, failing the test if the program has
// none of that name.
func mark(t *testing.T, lines map[string]int, name string) int {
	t.Helper()
	n, ok := lines[name]
	if !ok {
		t.Fatalf("no // LINE:%s marker", name)
	}
	return n
}

// outputs returns the saved outputs of one case, by file name, for every Go
// version that has one.
func outputs(t *testing.T, dir, name string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "go*-"+name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no output saved for %s/%s: run go run gen.go in testdata/%s", dir, name, dir)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(b)
	}
	return out
}

// allOutputs returns every saved output of a directory.
func allOutputs(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "go*-*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Join(dir, filepath.Base(f))] = string(b)
	}
	return out
}

// without deletes the outputs of the named cases, of every Go version.
func without(texts map[string]string, cases ...string) {
	for file := range texts {
		for _, c := range cases {
			if strings.HasSuffix(file, "-"+c+".txt") {
				delete(texts, file)
			}
		}
	}
}

// frame returns the first frame of fn, innermost first.
func frame(frames []Location, fn string) (Location, bool) {
	for _, f := range frames {
		if f.Func == fn {
			return f, true
		}
	}
	return Location{}, false
}

// withFrame returns the goroutines whose stack has a frame of fn.
func withFrame(gs []DumpGoroutine, fn string) []DumpGoroutine {
	var out []DumpGoroutine
	for _, g := range gs {
		if _, ok := frame(g.Frames, fn); ok {
			out = append(out, g)
		}
	}
	return out
}

var (
	scenarioLabels = map[string]string{"concviz": "scenario"}
	brokenLabels   = map[string]string{"concviz": "scenario", "variant": "broken"}
	crasherLabels  = map[string]string{"concviz": "scenario", "variant": "broken", "note": `say "hi", {ok}]: é`}
)

func TestParseDump(t *testing.T) {
	// Each row is one goroutine of a saved output, found by a function on
	// its stack.
	tests := []struct {
		file, prog string
		fn         string // a function on the goroutine's stack
		status     string
		line       string // marker of fn's line
		created    string // marker of the go statement, "" for none
		labels     map[string]string
		minutes    int
	}{
		{"panic", "panic", "main.waitRecv", "chan receive", "recv", "go-recv", brokenLabels, 0},
		{"panic", "panic", "main.waitSend", "chan send", "send", "go-send", brokenLabels, 0},
		{"panic", "panic", "main.waitMutex", "sync.Mutex.Lock", "mutex", "go-mutex", brokenLabels, 0},
		{"panic", "panic", "main.waitRLock", "sync.RWMutex.RLock", "rlock", "go-rlock", brokenLabels, 0},
		{"panic", "panic", "main.waitGroup", "sync.WaitGroup.Wait", "waitgroup", "go-waitgroup", brokenLabels, 0},
		{"panic", "panic", "main.waitCond", "sync.Cond.Wait", "cond", "go-cond", brokenLabels, 0},
		{"panic", "panic", "main.waitSelect", "select", "select", "go-select", brokenLabels, 0},
		{"panic", "panic", "main.waitForever", "select (no cases)", "selectnone", "go-selectnone", brokenLabels, 0},
		{"panic", "panic", "main.waitNil", "chan receive (nil chan)", "nilchan", "go-nilchan", brokenLabels, 0},
		{"panic", "panic", "main.sleep", "sleep", "sleep", "go-sleep", nil, 0},
		{"panic", "panic", "main.crash", "running", "panic", "go-panic", crasherLabels, 0},
		{"panic", "panic", "main.main", "sleep", "main", "", crasherLabels, 0},
		{"stack", "stack", "main.waitRecv", "chan receive", "recv", "go-recv", scenarioLabels, 0},
		{"stack", "stack", "main.main", "running", "stack", "", scenarioLabels, 0},
		{"stack-minutes", "stack", "main.waitRecv", "chan receive", "recv", "go-recv", scenarioLabels, 1},
		{"deadlock", "deadlock", "main.main", "chan receive", "main", "", nil, 0},
		{"deadlock", "deadlock", "main.relay", "chan receive", "relay", "go-relay", nil, 0},
		{"deadlock-system", "deadlock", "main.main", "chan receive", "main", "", nil, 0},
		{"deadlock-system", "deadlock", "main.relay", "chan receive", "relay", "go-relay", nil, 0},
		{"nilderef", "nilderef", "main.walk", "running", "deref", "go-walk", nil, 0},
		{"repanicked", "repanicked", "main.load", "running", "deref", "", nil, 0},
		{"deep", "deep", "main.down", "running", "panic", "", nil, 0},
	}
	for _, tt := range tests {
		lines := markers(t, "dumps", tt.prog)
		for file, text := range outputs(t, "dumps", tt.file) {
			t.Run(file+"/"+tt.fn, func(t *testing.T) {
				gs := withFrame(ParseDump(text), tt.fn)
				if len(gs) != 1 {
					t.Fatalf("%d goroutines run %s, want 1", len(gs), tt.fn)
				}
				g := gs[0]
				if g.Status != tt.status {
					t.Errorf("status = %q, want %q", g.Status, tt.status)
				}
				f, _ := frame(g.Frames, tt.fn)
				if want := mark(t, lines, tt.line); f.Line != want || f.File != "/src/"+tt.prog+".go" {
					t.Errorf("frame %s at %s:%d, want /src/%s.go:%d", tt.fn, f.File, f.Line, tt.prog, want)
				}
				if !maps.Equal(g.Labels, tt.labels) || (g.Labels == nil) != (tt.labels == nil) {
					t.Errorf("labels = %q, want %q", g.Labels, tt.labels)
				}
				if g.WaitMinutes != tt.minutes {
					t.Errorf("wait minutes = %d, want %d", g.WaitMinutes, tt.minutes)
				}
				if tt.created == "" {
					if g.CreatedBy != (Location{}) || g.Parent != 0 {
						t.Errorf("created by %v in goroutine %d, want nothing", g.CreatedBy, g.Parent)
					}
					return
				}
				want := Location{Func: "main.main", File: "/src/" + tt.prog + ".go", Line: mark(t, lines, tt.created)}
				if g.CreatedBy != want || g.Parent != 1 {
					t.Errorf("created by %v in goroutine %d, want %v in goroutine 1", g.CreatedBy, g.Parent, want)
				}
			})
		}
	}
}

func TestParseDumpShapes(t *testing.T) {
	t.Run("elided", func(t *testing.T) {
		lines := markers(t, "dumps", "deep")
		for file, text := range outputs(t, "dumps", "deep") {
			gs := ParseDump(text)
			if len(gs) != 1 {
				t.Fatalf("%s: %d goroutines, want 1", file, len(gs))
			}
			fs := gs[0].Frames
			// 300 calls deep, the runtime prints the 100 innermost
			// and the 100 outermost frames (inlined calls count
			// apart).
			if len(fs) < 100 || len(fs) >= 300 {
				t.Errorf("%s: %d frames, want the ends of a stack elided in the middle", file, len(fs))
			}
			if fs[0].Func != "main.down" || fs[0].Line != mark(t, lines, "panic") {
				t.Errorf("%s: innermost frame %v, want main.down at the panic", file, fs[0])
			}
			if last := fs[len(fs)-1]; last.Func != "main.main" {
				t.Errorf("%s: outermost frame %v, want main.main", file, last)
			}
		}
	})
	t.Run("other thread", func(t *testing.T) {
		lines := markers(t, "dumps", "otherthread")
		for file, text := range outputs(t, "dumps", "otherthread") {
			var spinner *DumpGoroutine
			gs := ParseDump(text)
			for i := range gs {
				if gs[i].ID != 1 {
					spinner = &gs[i]
				}
			}
			if len(gs) != 2 || spinner == nil {
				t.Fatalf("%s: %d goroutines, want main and the spinner", file, len(gs))
			}
			if spinner.Status != "running" || len(spinner.Frames) != 0 {
				t.Errorf("%s: spinner %q with %d frames, want running without a stack", file, spinner.Status, len(spinner.Frames))
			}
			if spinner.CreatedBy.Line != mark(t, lines, "go-spin") || spinner.Parent != 1 {
				t.Errorf("%s: spinner created by %v in %d, want the go statement of main", file, spinner.CreatedBy, spinner.Parent)
			}
		}
	})
	t.Run("system", func(t *testing.T) {
		// GOTRACEBACK=system adds gp= and m= to headers, fp= sp= pc=
		// to frames, the runtime's own goroutines and, for a throw,
		// the "runtime stack:" of the thread, which is no goroutine.
		for _, name := range []string{"mapwrites-system", "deadlock-system"} {
			for file, text := range outputs(t, "dumps", name) {
				gs := ParseDump(text)
				if len(withFrame(gs, "runtime.forcegchelper")) != 1 {
					t.Errorf("%s: want the runtime's forcegc goroutine", file)
				}
				if n := len(withFrame(gs, "runtime.fatal")); name == "deadlock-system" && n != 0 {
					t.Errorf("%s: the runtime stack was taken for a goroutine", file)
				}
				for _, g := range gs {
					for _, f := range g.Frames {
						if f.Line == 0 || strings.Contains(f.File, " ") {
							t.Errorf("%s: goroutine %d: bad frame %+v", file, g.ID, f)
						}
					}
				}
			}
		}
	})
	t.Run("not dumps", func(t *testing.T) {
		texts := allOutputs(t, "races")
		without(texts, "racepanic")
		for file, text := range texts {
			if gs := ParseDump(text); len(gs) != 0 {
				t.Errorf("%s: %d goroutines in a race report", file, len(gs))
			}
		}
	})
}

func TestParseDumpHeader(t *testing.T) {
	tests := []struct {
		line    string
		ok      bool
		id      int64
		status  string
		minutes int
		labels  map[string]string
	}{
		{"goroutine 1 [running]:", true, 1, "running", 0, nil},
		{"goroutine 22 [chan receive, 2 minutes]:", true, 22, "chan receive", 2, nil},
		{"goroutine 7 [select (no cases), 15 minutes, locked to thread]:", true, 7, "select (no cases)", 15, nil},
		{"goroutine 5 gp=0xc000007c00 m=0 mp=0x5aa380 [running]:", true, 5, "running", 0, nil},
		{"goroutine 6 [chan receive (scan), 4 minutes]:", true, 6, "chan receive", 4, nil},
		{"goroutine 1 gp=0x275e1f6621e0 m=nil [chan receive]:", true, 1, "chan receive", 0, nil},
		{`goroutine 9 [sleep labels:{"a": "1", "b": "x, \"y\"}"}]:`, true, 9, "sleep", 0, map[string]string{"a": "1", "b": `x, "y"}`}},
		{`goroutine 9 [chan send, 3 minutes labels:{"k": "\u00e9\t"}]:`, true, 9, "chan send", 3, map[string]string{"k": "é\t"}},
		{"goroutine 1 [running]", false, 0, "", 0, nil},
		{"goroutine x [running]:", false, 0, "", 0, nil},
		{"goroutine 1 []:", false, 0, "", 0, nil},
		{`goroutine 1 [running labels:{"a": }]:`, false, 0, "", 0, nil},
		{"Goroutine 8 (running) created at:", false, 0, "", 0, nil},
		{"goroutine running on other thread; stack unavailable", false, 0, "", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			g, ok := parseHeader(tt.line)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if g.ID != tt.id || g.Status != tt.status || g.WaitMinutes != tt.minutes || !maps.Equal(g.Labels, tt.labels) {
				t.Errorf("got %d %q %d %q, want %d %q %d %q", g.ID, g.Status, g.WaitMinutes, g.Labels, tt.id, tt.status, tt.minutes, tt.labels)
			}
		})
	}
}

func TestParseDumpFrames(t *testing.T) {
	text := "goroutine 3 [running]:\n" +
		"sync.(*Mutex).Lock(...)\n\t/goroot/src/sync/mutex.go:46\n" +
		"main.F[...](0xc000010000, {0x1, 0x2})\n\t/src/a b/x.go:7 +0x1d\n" +
		"panic({0x4c37a0?, 0x5a3390?})\n\t/goroot/src/runtime/panic.go:860 +0x13a\n" +
		"created by main.main\n\t/src/x.go:3 +0x25\n" +
		"\nexit status 2\n"
	gs := ParseDump(text)
	want := []DumpGoroutine{{
		ID:     3,
		Status: "running",
		Frames: []Location{
			{Func: "sync.(*Mutex).Lock", File: "/goroot/src/sync/mutex.go", Line: 46},
			{Func: "main.F[...]", File: "/src/a b/x.go", Line: 7},
			{Func: "panic", File: "/goroot/src/runtime/panic.go", Line: 860},
		},
		CreatedBy: Location{Func: "main.main", File: "/src/x.go", Line: 3},
	}}
	if !reflect.DeepEqual(gs, want) {
		t.Errorf("got  %+v\nwant %+v", gs, want)
	}
}

// dumpBlocks returns the byte offset at which each goroutine of a complete
// dump ends: after its last line and newline, at the blank line or the
// header that follows it, or at the end of the text.
func dumpBlocks(text string) []int {
	var ends []int
	in := false
	for off := 0; off < len(text); {
		line, _, _ := strings.Cut(text[off:], "\n")
		if _, ok := parseHeader(line); ok {
			if in {
				ends = append(ends, off)
			}
			in = true
		} else if in && line == "" {
			ends = append(ends, off)
			in = false
		}
		off += len(line) + 1
	}
	if in {
		ends = append(ends, len(text))
	}
	return ends
}

// checkPrefix checks that gs, parsed from text cut at k, holds the
// goroutines of full that ended before k, unchanged, and at most one more:
// the last, cut exactly between two of its frames.
func checkPrefix(t *testing.T, gs, full []DumpGoroutine, ends []int, text string, k int) {
	t.Helper()
	complete := 0
	for _, e := range ends {
		if e <= k {
			complete++
		}
	}
	if len(gs) < complete || len(gs) > complete+1 || len(gs) > len(full) {
		t.Fatalf("cut at %d: %d goroutines, want %d or one more (of %d)", k, len(gs), complete, len(full))
	}
	for i, g := range gs {
		if reflect.DeepEqual(g, full[i]) {
			continue
		}
		f := full[i]
		if i < complete || !strings.HasSuffix(text[:k], "\n") || g.ID != f.ID || g.Status != f.Status ||
			len(g.Frames) > len(f.Frames) || !slices.Equal(g.Frames, f.Frames[:len(g.Frames)]) ||
			(g.CreatedBy != Location{} && g.CreatedBy != f.CreatedBy) {
			t.Fatalf("cut at %d: goroutine %d is\n%+v\nwant\n%+v", k, i, g, f)
		}
	}
}

func TestParseDumpTruncated(t *testing.T) {
	texts := allOutputs(t, "dumps")
	maps.Copy(texts, outputs(t, "races", "racepanic"))
	for file, text := range texts {
		t.Run(file, func(t *testing.T) {
			full := ParseDump(text)
			ends := dumpBlocks(text)
			if len(ends) != len(full) {
				t.Fatalf("%d goroutine blocks, %d goroutines parsed", len(ends), len(full))
			}
			for k := 0; k <= len(text); k++ {
				checkPrefix(t, ParseDump(text[:k]), full, ends, text, k)
			}
		})
	}
}

func TestParseCrash(t *testing.T) {
	tests := []struct {
		dir, file, prog string
		kind, message   string
		signal          string // prefix
		fn, line        string // a function of the crashing goroutine and its marker
		labels          map[string]string
		minGoroutines   int
	}{
		{"dumps", "panic", "panic", "panic", "boom", "", "main.crash", "panic", crasherLabels, 12},
		{"dumps", "nilderef", "nilderef", "panic", "runtime error: invalid memory address or nil pointer dereference",
			"signal SIGSEGV: segmentation violation", "main.walk", "deref", nil, 2},
		{"dumps", "repanic", "repanic", "panic", "second", "", "main.main.func1", "second", nil, 1},
		{"dumps", "repanicked", "repanicked", "panic", "runtime error: invalid memory address or nil pointer dereference",
			"signal SIGSEGV: segmentation violation", "main.load", "deref", nil, 1},
		{"dumps", "errvalue", "errvalue", "panic", "main.MyErr{Op: \"read\",\n    Code: 7}", "", "main.main", "panic", nil, 1},
		{"dumps", "mapwrites", "mapwrites", "fatal", "concurrent map writes", "", "main.fill", "write", scenarioLabels, 2},
		{"dumps", "mapwrites-system", "mapwrites", "fatal", "concurrent map writes", "", "main.fill", "write", scenarioLabels, 5},
		{"dumps", "deadlock", "deadlock", "fatal", "all goroutines are asleep - deadlock!", "", "main.main", "main", nil, 2},
		{"dumps", "deadlock-system", "deadlock", "fatal", "all goroutines are asleep - deadlock!", "", "main.main", "main", nil, 5},
		{"dumps", "deep", "deep", "panic", "bottom", "", "main.down", "panic", nil, 1},
		{"dumps", "otherthread", "otherthread", "panic", "while spinning", "", "main.main", "panic", nil, 2},
		{"races", "racepanic", "racepanic", "panic", "total is 2, want 0", "", "main.main", "panic", nil, 1},
	}
	for _, tt := range tests {
		lines := markers(t, tt.dir, tt.prog)
		for file, text := range outputs(t, tt.dir, tt.file) {
			t.Run(file, func(t *testing.T) {
				c, ok := ParseCrash(text)
				if !ok {
					t.Fatal("no crash found")
				}
				if c.Kind != tt.kind || c.Message != tt.message {
					t.Errorf("crash = %s %q, want %s %q", c.Kind, c.Message, tt.kind, tt.message)
				}
				if !strings.HasPrefix(c.Signal, tt.signal) || (tt.signal == "") != (c.Signal == "") {
					t.Errorf("signal = %q, want %q...", c.Signal, tt.signal)
				}
				if len(c.Goroutines) < tt.minGoroutines {
					t.Errorf("%d goroutines, want at least %d", len(c.Goroutines), tt.minGoroutines)
				}
				ids := map[int64]bool{}
				for _, g := range c.Goroutines {
					if ids[g.ID] {
						t.Errorf("goroutine %d twice", g.ID)
					}
					ids[g.ID] = true
				}
				if len(c.Goroutines) == 0 || c.Goroutines[0].ID != c.Goroutine {
					t.Fatalf("crashing goroutine %d is not the first dumped", c.Goroutine)
				}
				g := c.Goroutines[0]
				f, found := frame(g.Frames, tt.fn)
				if want := mark(t, lines, tt.line); !found || f.Line != want {
					t.Errorf("crashing goroutine %d: %s at line %d (found %v), want line %d", g.ID, tt.fn, f.Line, found, want)
				}
				if !maps.Equal(g.Labels, tt.labels) {
					t.Errorf("crashing goroutine labels = %q, want %q", g.Labels, tt.labels)
				}
			})
		}
	}
}

func TestParseCrashNone(t *testing.T) {
	texts := map[string]string{
		"empty":         "",
		"output only":   "starting\nworking\ndone\n",
		"printed panic": "recovered:\npanic: not really\nthe program went on\n",
		"panic last":    "a line\npanic: printed by the program\n",
	}
	maps.Copy(texts, outputs(t, "dumps", "stack"))
	maps.Copy(texts, outputs(t, "dumps", "stack-minutes"))
	maps.Copy(texts, allOutputs(t, "races"))
	without(texts, "racepanic")
	for name, text := range texts {
		t.Run(name, func(t *testing.T) {
			if c, ok := ParseCrash(text); ok {
				t.Errorf("found a crash: %+v", c)
			}
		})
	}
}

func TestParseCrashNoDump(t *testing.T) {
	// Some fatal errors print no goroutines at all.
	c, ok := ParseCrash("output\nfatal error: no goroutines (main called runtime.Goexit) - deadlock!\n")
	if !ok {
		t.Fatal("no crash found")
	}
	if c.Kind != "fatal" || c.Message != "no goroutines (main called runtime.Goexit) - deadlock!" || c.Goroutine != 0 || len(c.Goroutines) != 0 {
		t.Errorf("got %+v", c)
	}
}

func TestParseCrashTruncated(t *testing.T) {
	texts := allOutputs(t, "dumps")
	without(texts, "stack", "stack-minutes")
	maps.Copy(texts, outputs(t, "races", "racepanic"))
	for file, text := range texts {
		t.Run(file, func(t *testing.T) {
			full, ok := ParseCrash(text)
			if !ok {
				t.Fatal("no crash in the whole output")
			}
			ends := dumpBlocks(text)
			for k := 0; k <= len(text); k++ {
				c, ok := ParseCrash(text[:k])
				if !ok {
					continue
				}
				// A crash is only reported once its message is
				// whole: a panic once its dump began.
				if c.Kind != full.Kind || c.Message != full.Message || c.Kind == "panic" && c.Signal != full.Signal {
					t.Fatalf("cut at %d: crash %s %q %q, want %s %q %q", k, c.Kind, c.Message, c.Signal, full.Kind, full.Message, full.Signal)
				}
				if len(c.Goroutines) > 0 && c.Goroutine != full.Goroutine {
					t.Fatalf("cut at %d: crashing goroutine %d, want %d", k, c.Goroutine, full.Goroutine)
				}
				checkPrefix(t, c.Goroutines, full.Goroutines, ends, text, k)
			}
		})
	}
}

// BenchmarkParseDump measures a parse of the watchdog's poll: it runs every
// few milliseconds in the child.
func BenchmarkParseDump(b *testing.B) {
	text, err := os.ReadFile(filepath.Join("testdata", "dumps", "go1.26-panic.txt"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		ParseDump(string(text))
	}
}
