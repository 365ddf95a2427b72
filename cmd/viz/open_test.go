package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concviz/concviz/tracer"
	"github.com/concviz/concviz/web"
)

// userTrace traces the test of testdata/pipeline, a small real package,
// with the local go command, the way a developer would.
func userTrace(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to trace a package's tests")
	}
	out := filepath.Join(t.TempDir(), "t.out")
	cmd := exec.Command(goTool, "test", "-count=1", "-trace="+out, "./testdata/pipeline")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test -trace: %v\n%s", err, b)
	}
	return out
}

// served is a `viz open` running in the test.
type served struct {
	base   string
	stderr *syncBuffer
	stop   func() error
}

// startOpen runs viz open with args on a free port and returns once it has
// printed its one line.
func startOpen(t *testing.T, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	stderr := &syncBuffer{}
	go func() {
		done <- Run(ctx, append([]string{"open", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, args...), outW, stderr)
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	if !lines.Scan() {
		cancel()
		t.Fatalf("open printed nothing; stderr: %s (%v)", stderr.String(), <-done)
	}
	m := regexp.MustCompile(`^viz: serving on (http://127\.0\.0\.1:\d+/)$`).FindStringSubmatch(lines.Text())
	if m == nil {
		cancel()
		t.Fatalf("first line %q, want viz: serving on http://127.0.0.1:PORT/", lines.Text())
	}
	go io.Copy(io.Discard, outR)
	s := &served{base: m[1], stderr: stderr}
	s.stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Error("open did not stop after cancel")
			return nil
		}
	})
	t.Cleanup(func() { s.stop() })
	return s
}

// getJSON fetches a route of the server into v and returns the status.
func (s *served) getJSON(t *testing.T, path string, v any) int {
	t.Helper()
	resp, err := http.Get(s.base + strings.TrimPrefix(path, "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decode: %v", path, err)
	}
	return resp.StatusCode
}

// TestOpenUserTrace is the developer's path: go test -trace, then viz open
// shows their goroutines, by their own function names, with their sources.
func TestOpenUserTrace(t *testing.T) {
	trace := userTrace(t)
	s := startOpen(t, trace)
	var start web.StartView
	s.getJSON(t, "/api/start", &start)
	if len(start.Open) != 1 {
		t.Fatalf("start view opens %q, want the one file", start.Open)
	}
	var view web.RecordingView
	if code := s.getJSON(t, "/api/recordings/"+start.Open[0], &view); code != http.StatusOK {
		t.Fatalf("GET recording: %d", code)
	}
	if view.Report != nil || view.Meta.Scenario != "" || view.Meta.Name != "t.out" {
		t.Errorf("a user's trace came back as %+v with report %v", view.Meta, view.Report)
	}
	names := map[string]bool{}
	var file string
	for _, g := range view.Timeline.Goroutines {
		names[g.Name] = true
	}
	for _, st := range view.Timeline.Stacks {
		for _, f := range st.Frames {
			if strings.HasSuffix(f.File, "pipeline_test.go") {
				file = f.File
			}
		}
	}
	for _, want := range []string{"pipeline.square", "pipeline.produce.func1", "pipeline.TestPipeline.func1"} {
		if !names[want] {
			t.Errorf("no goroutine %s among %v", want, names)
		}
	}
	if file == "" {
		t.Fatal("no stack names pipeline_test.go")
	}
	// The code pane may read the files the trace names, and nothing else.
	var src web.FileSource
	if code := s.getJSON(t, "/api/recordings/"+start.Open[0]+"/source?file="+url.QueryEscape(file), &src); code != http.StatusOK || !strings.Contains(src.Source, "func square(") {
		t.Errorf("source of %s: %d %.80q", file, code, src.Source)
	}
	abs, _ := filepath.Abs("open.go")
	var refused struct{ Error string }
	for _, p := range []string{"/etc/passwd", abs, file + "/../open.go"} {
		if code := s.getJSON(t, "/api/recordings/"+start.Open[0]+"/source?file="+url.QueryEscape(p), &refused); code != http.StatusNotFound {
			t.Errorf("source of %s, which the trace does not name: %d, want 404", p, code)
		}
	}
	if err := s.stop(); err != nil {
		t.Errorf("open returned %v after cancel", err)
	}
}

// TestOpenTwo opens a recording and a raw trace side by side: the start
// view names both, in order.
func TestOpenTwo(t *testing.T) {
	var raw strings.Builder
	res, err := tracer.Run(context.Background(), tracer.RunOptions{Scenario: "deadlock-cross-wait", Variant: "fixed", TraceOut: &raw})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	recPath := filepath.Join(dir, "fixed.concviz")
	if err := tracer.NewRecording([]byte(raw.String()), res.Report).SaveFile(recPath); err != nil {
		t.Fatal(err)
	}
	s := startOpen(t, userTrace(t), recPath)
	var start web.StartView
	s.getJSON(t, "/api/start", &start)
	if len(start.Open) != 2 {
		t.Fatalf("start view opens %q, want both files", start.Open)
	}
	var view web.RecordingView
	s.getJSON(t, "/api/recordings/"+start.Open[1], &view)
	if view.Report == nil || view.Report.Outcome != res.Report.Outcome || view.Meta.Variant != "fixed" {
		t.Errorf("second file came back as %+v, report %+v", view.Meta, view.Report)
	}
}

// TestOpenBadFiles: a file that cannot be read exits 1 with one line on
// stderr that says why; a truncated one opens with a warning that says how
// much was lost.
func TestOpenBadFiles(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "notes.txt")
	os.WriteFile(garbage, []byte("this is not a trace\n"), 0o644)
	for name, args := range map[string][]string{
		"garbage": {garbage},
		"missing": {filepath.Join(dir, "missing.out")},
		"second":  {userTrace(t), garbage},
	} {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := viz(t, append([]string{"open", "--addr", "127.0.0.1:0", "--data", dir}, args...)...)
			if code != 1 || stdout != "" {
				t.Errorf("exit %d, stdout %q; want 1 and nothing", code, stdout)
			}
			if n := strings.Count(stderr, "\n"); n != 1 || !strings.HasPrefix(stderr, "viz: ") {
				t.Errorf("stderr %q, want one line", stderr)
			}
		})
	}
	if _, _, stderr := viz(t, "open", "--data", dir, "--addr", "127.0.0.1:0", garbage); !strings.Contains(stderr, "not a Go execution trace") {
		t.Errorf("garbage: stderr %q does not say it is not a trace", stderr)
	}

	whole, err := os.ReadFile(userTrace(t))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.out")
	os.WriteFile(cut, whole[:len(whole)*3/4], 0o644)
	s := startOpen(t, cut)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`viz: warning: .*cut\.out: (about .* \(\d+%\)|the last .* or less of .*,) after the last complete generation,? could not be used`).MatchString(s.stderr.String()) {
		t.Errorf("truncated file: stderr %q lacks the warning", s.stderr.String())
	}
}

func TestOpenUsage(t *testing.T) {
	for _, args := range [][]string{
		{"open"},
		{"open", "a", "b", "c"},
		{"open", "--addr", "nonsense", "a"},
		{"open", "--stats"},
	} {
		if code, _, stderr := viz(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", args, code, stderr)
		}
	}
}

// syncBuffer is a strings.Builder that the command under test writes from
// its goroutines while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOpenIndexed opens a trace over --index-above: the server listens at
// once with the usual line, indexes the file, and the start view names no
// recording, so that the page opens the indexed trace. A recording, and a
// trace under the threshold, keep the ordinary path.
func TestOpenIndexed(t *testing.T) {
	s := startOpen(t, "--index-above", "0", statsFixture)
	var start web.StartView
	s.getJSON(t, "/api/start", &start)
	if len(start.Open) != 0 {
		t.Errorf("start view opens %q; an indexed trace is not a recording", start.Open)
	}
	var in web.BigInfo
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s.getJSON(t, "/api/big/1", &in)
		if in.Stats.Done || time.Now().After(deadline) {
			break
		}
	}
	tl, err := tracer.ReadTraceFile(statsFixture, tracer.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !in.Stats.Done || in.Error != "" || in.Stats.Goroutines != len(tl.Goroutines) || in.Name != filepath.Base(statsFixture) {
		t.Errorf("indexed trace: %+v; want done, %d goroutines", in, len(tl.Goroutines))
	}
	if err := s.stop(); err != nil {
		t.Errorf("open returned %v after cancel", err)
	}
	if !strings.Contains(s.stderr.String(), "viz: indexed "+filepath.Base(statsFixture)) {
		t.Errorf("stderr %q does not say the trace was indexed", s.stderr.String())
	}

	// Under the default threshold the same file is read whole.
	small := startOpen(t, statsFixture)
	var list []web.BigInfo
	small.getJSON(t, "/api/big", &list)
	small.getJSON(t, "/api/start", &start)
	if len(list) != 0 || len(start.Open) != 1 {
		t.Errorf("a small trace: %d indexed, start view %q; want none and the recording", len(list), start.Open)
	}
}

func TestIndexable(t *testing.T) {
	dir := t.TempDir()
	var raw strings.Builder
	if _, err := tracer.Run(context.Background(), tracer.RunOptions{Scenario: "deadlock-cross-wait", Variant: "fixed", TraceOut: &raw}); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(dir, "run.concviz")
	if err := tracer.NewRecording([]byte(raw.String()), nil).SaveFile(rec); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "notes.txt")
	os.WriteFile(garbage, []byte("this is not a trace, but long enough\n"), 0o644)
	size := fileSize(statsFixture)
	for _, c := range []struct {
		path  string
		above int64
		want  bool
	}{
		{statsFixture, 0, true},
		{statsFixture, size - 1, true},
		{statsFixture, size, false},
		{statsFixture, defaultIndexAbove, false},
		{rec, 0, false},
		{garbage, 0, false},
		{filepath.Join(dir, "missing"), 0, false},
		{dir, 0, false},
	} {
		if got := indexable(c.path, c.above); got != c.want {
			t.Errorf("indexable(%s, %d) = %v, want %v", filepath.Base(c.path), c.above, got, c.want)
		}
	}
}

func TestByteSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		str  string
	}{
		{"0", 0, "0"},
		{"4096", 4096, "4KB"},
		{"32MB", 32 << 20, "32MB"},
		{"32m", 32 << 20, "32MB"},
		{"1.5GB", 3 << 29, "1536MB"},
		{"100B", 100, "100"},
	} {
		var b byteSize
		if err := b.Set(c.in); err != nil || int64(b) != c.want || b.String() != c.str {
			t.Errorf("Set(%q) = %d %q (%v), want %d %q", c.in, int64(b), b.String(), err, c.want, c.str)
		}
	}
	for _, bad := range []string{"", "MB", "-1", "ten", "1e30GB"} {
		var b byteSize
		if err := b.Set(bad); err == nil {
			t.Errorf("Set(%q) = %d, want an error", bad, int64(b))
		}
	}
	if code, _, stderr := viz(t, "open", "--index-above", "lots", statsFixture); code != 2 || !strings.Contains(stderr, "index-above") {
		t.Errorf("--index-above lots: exit %d, stderr %q; want 2 naming the flag", code, stderr)
	}
}
