package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concviz/concviz/scenarios"
	"github.com/concviz/concviz/web"
)

// The packages under testdata at the repository root have known leaks,
// hangs and races (see tracer's tests, which check every line); these
// tests check the command around them: words, JSON and exit codes.

func TestTestCommand(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{[]string{"test", "../../testdata/clean"}, 0, []string{"ok    github.com/concviz/concviz/testdata/clean  8 tests, no leaks, hangs or races"}, ""},
		{[]string{"test", "../../testdata/leaky/..."}, 1, []string{
			"--- LEAK: TestFirstResult", "leaky/leaky.go:", "  results <- i // LEAK", "  go func() { // STARTED",
			"--- LEAK: TestParallel/leaks", "FAIL  github.com/concviz/concviz/testdata/leaky  3 leaks",
		}, "problems found in 1 of 1 packages"},
		{[]string{"test", "-run", "TestCrossWait|TestFine", "../../testdata/hang"}, 1, []string{"--- DEADLOCK: TestCrossWait", "hang/hang_test.go:", "  v := <-pong // HANG"}, ""},
		{[]string{"test", "../../testdata/leaky", "-run", "^TestNoGoroutines$"}, 0, []string{"1 test, no leaks"}, ""},
		{[]string{"test", "../../testdata/clean", "--", "-short", "-count=2"}, 0, []string{"ok "}, ""},
		{[]string{"test", "../../testdata/prog"}, 0, []string{"[no test files]"}, ""},
		{[]string{"test", "--bogus"}, 2, nil, "flag provided but not defined"},
		{[]string{"test", "--hang-after", "0", "."}, 2, nil, "must be positive"},
		{[]string{"test", "../../testdata/no-such-dir"}, 1, []string{"[build failed]", "no-such-dir"}, "problems found"},
		{[]string{"test", "--help"}, 0, nil, "Usage: viz test"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := viz(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tt.stderr)
			}
		})
	}
}

// TestTestJSON checks that --json prints one object per test, whose
// findings have the shape of viz run --json's.
func TestTestJSON(t *testing.T) {
	code, stdout, stderr := viz(t, "test", "--json", "../../testdata/leaky")
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	outcomes := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not one JSON object per line: %v\n%s", err, sc.Text())
		}
		for _, k := range []string{"test", "package", "outcome", "findings", "result"} {
			if _, ok := line[k]; !ok {
				t.Errorf("line lacks %q: %s", k, sc.Text())
			}
		}
		outcomes[line["test"].(string)] = line["outcome"].(string)
		for _, f := range line["findings"].([]any) {
			f := f.(map[string]any)
			for _, k := range []string{"kind", "summary", "goroutines", "locations", "time_ns"} {
				if _, ok := f[k]; !ok {
					t.Errorf("finding lacks %q: %v", k, f)
				}
			}
			loc := f["locations"].([]any)[0].(map[string]any)
			for _, k := range []string{"func", "file", "line", "source"} {
				if _, ok := loc[k]; !ok {
					t.Errorf("location lacks %q: %v", k, loc)
				}
			}
		}
	}
	want := map[string]string{
		"TestFirstResult": "leak", "TestWatcher": "leak", "TestParallel": "ok",
		"TestParallel/leaks": "leak", "TestParallel/clean": "ok", "TestNoGoroutines": "ok",
	}
	for name, o := range want {
		if outcomes[name] != o {
			t.Errorf("%s: outcome %q, want %q", name, outcomes[name], o)
		}
	}
	if len(outcomes) != len(want) {
		t.Errorf("tests %v, want %v", outcomes, want)
	}
}

func TestTestBinaryFlags(t *testing.T) {
	got := testBinaryFlags([]string{"-short", "--count=2", "-test.v", "-run", "X", "-bench", "."})
	want := []string{"-test.short", "-test.count=2", "-test.v", "-test.run", "X", "-test.bench", "."}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestTestTraceDir checks that --trace-dir keeps a trace per package and
// says where.
func TestTestTraceDir(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := viz(t, "test", "--trace-dir", dir, "../../testdata/clean")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := filepath.Join(dir, "github.com_concviz_concviz_testdata_clean.trace")
	if !strings.Contains(stdout, "trace: "+want) {
		t.Errorf("stdout does not name %s:\n%s", want, stdout)
	}
	if fi, err := os.Stat(want); err != nil || fi.Size() == 0 {
		t.Errorf("no trace kept: %v", err)
	}
}

// TestOpenTrace checks that a kept trace is served the way --open shows
// it (without starting a browser), and that the server ends with ctx.
func TestOpenTrace(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := viz(t, "test", "--trace-dir", dir, "../../testdata/leaky"); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	path := filepath.Join(dir, "github.com_concviz_concviz_testdata_leaky.trace")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out lockedText
	done := make(chan error, 1)
	go func() { done <- openTrace(ctx, path, false, &out, &out) }()
	url := ""
	for deadline := time.Now().Add(20 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, rest, ok := strings.Cut(out.String(), "serving on "); ok {
			url, _, _ = strings.Cut(rest, "\n")
		}
	}
	if url == "" {
		cancel()
		t.Fatalf("not serving: %s (%v)", out.String(), <-done)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", url, resp.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serving ended with %v", err)
	}
}

// TestTestOpen checks what viz test --open serves for a package with a
// problem: the recording kept beside its trace, whose report holds the
// leaks the terminal printed and whose lanes are named after the tests.
func TestTestOpen(t *testing.T) {
	testOpensBrowser = false
	defer func() { testOpensBrowser = true }()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out lockedText
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"test", "--open", "--trace-dir", dir, "../../testdata/leaky", "../../testdata/clean"}, &out, &out)
	}()
	url := ""
	for deadline := time.Now().Add(60 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, rest, ok := strings.Cut(out.String(), "serving on "); ok {
			url, _, _ = strings.Cut(rest, "\n")
		}
	}
	if url == "" {
		cancel()
		t.Fatalf("not serving: %s (%v)", out.String(), <-done)
	}
	recPath := filepath.Join(dir, "github.com_concviz_concviz_testdata_leaky.concviz")
	if !strings.Contains(out.String(), "recording, with this report: "+recPath) {
		t.Errorf("output does not name the recording %s:\n%s", recPath, out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "github.com_concviz_concviz_testdata_clean.concviz")); err == nil {
		t.Errorf("a recording was kept of the clean package")
	}

	var start web.StartView
	getJSON(t, url+"api/start", &start)
	if len(start.Open) != 1 {
		t.Fatalf("the page opens %v, want one recording", start.Open)
	}
	var v web.RecordingView
	getJSON(t, url+"api/recordings/"+start.Open[0], &v)
	if v.Report == nil {
		t.Fatalf("the served recording has no report: %+v", v.Recording)
	}
	if v.Report.Outcome != scenarios.Leak || v.Recording.Name != "github.com/concviz/concviz/testdata/leaky" {
		t.Errorf("served %q with outcome %s, want the leaky package with leak", v.Recording.Name, v.Report.Outcome)
	}
	lanes, byID := map[string]bool{}, map[int64]string{}
	for _, g := range v.Timeline.Goroutines {
		lanes[g.Name], byID[g.ID] = true, g.Name
	}
	for _, name := range []string{"TestFirstResult", "TestWatcher", "TestParallel", "TestParallel/leaks", "TestParallel/clean", "TestNoGoroutines"} {
		if !lanes[name] {
			t.Errorf("no lane named %s: %v", name, lanes)
		}
	}
	if lanes["testing.tRunner"] {
		t.Errorf("a lane is still named testing.tRunner: %v", lanes)
	}
	// Every leak the terminal printed is a finding on a lane of the page.
	printed := strings.Count(out.String(), "leak: G")
	if len(v.Report.Findings) != printed || printed == 0 {
		t.Errorf("%d findings in the page, %d leaks printed:\n%s", len(v.Report.Findings), printed, out.String())
	}
	for _, f := range v.Report.Findings {
		if f.Kind != scenarios.Leak || len(f.Goroutines) != 1 {
			t.Errorf("finding %+v, want a leak of one goroutine", f)
			continue
		}
		if name, ok := byID[f.Goroutines[0].ID]; !ok || name != f.Goroutines[0].Name {
			t.Errorf("finding names G%d %s, which is no lane of the page", f.Goroutines[0].ID, f.Goroutines[0].Name)
		}
		if !strings.Contains(out.String(), f.Summary) {
			t.Errorf("the page says %q, which the terminal did not", f.Summary)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, errFound) {
		t.Errorf("viz test --open ended with %v, want %v", err, errFound)
	}
}

// getJSON decodes the JSON answer of a GET.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// lockedText is output written by one goroutine and read by another.
type lockedText struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedText) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedText) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
