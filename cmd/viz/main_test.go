package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/concviz/concviz/tracer"
)

func TestMain(m *testing.M) {
	// The test binary is the child of the scenario runs below.
	tracer.MaybeRunChild()
	goleak.VerifyTestMain(m)
}

// viz runs the command in-process and returns its exit status and output.
func viz(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(context.Background(), args, &out, &errOut)
	code = exitCode(err, &errOut)
	return code, out.String(), errOut.String()
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		wantStderr string
	}{
		{[]string{"run", "no-such-scenario"}, 2, "valid ids: "},
		{[]string{"run"}, 2, "needs a scenario id"},
		{[]string{"run", "deadlock-cross-wait", "--variant", "nope"}, 2, "has no variant"},
		{[]string{"run", "deadlock-cross-wait", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"record", "deadlock-cross-wait"}, 2, "needs -o FILE"},
		{[]string{"list", "--help"}, 0, "Usage: viz list"},
		{[]string{"help"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := viz(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.wantStderr)
			}
		})
	}
}

func TestListJSON(t *testing.T) {
	code, stdout, stderr := viz(t, "list", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var entries []listEntry
	if err := json.Unmarshal([]byte(stdout), &entries); err != nil {
		t.Fatalf("list --json is not JSON: %v", err)
	}
	ids := map[string]bool{}
	for _, e := range entries {
		ids[e.ID] = true
	}
	for _, id := range []string{"deadlock-main-recv", "deadlock-cross-wait", "race-counter", "leak-unread-result", "nil-interface-error"} {
		if !ids[id] {
			t.Errorf("list lacks %s", id)
		}
	}
}

// TestRunJSON checks the report's JSON shape on a real run: the fields the
// browser and scripts rely on.
func TestRunJSON(t *testing.T) {
	code, stdout, stderr := viz(t, "run", "deadlock-cross-wait", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("run --json is not one JSON object: %v\n%s", err, stdout)
	}
	for _, k := range []string{"scenario", "variant", "outcome", "findings", "goroutines", "duration_ns"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	if rep["outcome"] != "deadlock" {
		t.Errorf("outcome %v, want deadlock", rep["outcome"])
	}
	f := rep["findings"].([]any)[0].(map[string]any)
	for _, k := range []string{"kind", "summary", "goroutines", "locations"} {
		if _, ok := f[k]; !ok {
			t.Errorf("finding lacks %q", k)
		}
	}
	loc := f["locations"].([]any)[0].(map[string]any)
	for _, k := range []string{"func", "file", "line"} {
		if _, ok := loc[k]; !ok {
			t.Errorf("location lacks %q", k)
		}
	}
}

func TestRunText(t *testing.T) {
	code, stdout, stderr := viz(t, "run", "leak-unread-result", "--variant", "fixed")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "OK (as expected)") {
		t.Errorf("text report lacks the verdict:\n%s", stdout)
	}
}

// TestRecordOpensInGoToolTrace records a run and has go tool trace parse it
// completely, which is what its viewer does before serving.
func TestRecordOpensInGoToolTrace(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run.trace")
	code, _, stderr := viz(t, "record", "deadlock-cross-wait", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to run go tool trace")
	}
	b, err := exec.Command(goTool, "tool", "trace", "-d=parsed", out).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool trace -d=parsed: %v\n%s", err, b)
	}
	if !bytes.Contains(b, []byte("GoCreate")) && !bytes.Contains(b, []byte("StateTransition")) {
		t.Errorf("go tool trace parsed no goroutine events:\n%.500s", b)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
		t.Errorf("no trace written: %v", err)
	}
}

func TestVerify(t *testing.T) {
	code, stdout, stderr := viz(t, "verify", "--count", "2", "deadlock-main-recv")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	for _, want := range []string{"deadlock-main-recv  broken   deadlock  deadlock 2  2/2   ok", "every variant produced its expected outcome"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, stdout)
		}
	}
	if code, _, _ := viz(t, "verify", "--count", "0"); code != 2 {
		t.Errorf("--count 0: exit %d, want 2", code)
	}
}

func TestWrap(t *testing.T) {
	text := "  deadlock: " + strings.Repeat("word ", 40) + "end"
	got := wrap(text, 30, "    ")
	lines := strings.Split(got, "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "  deadlock: ") {
		t.Fatalf("wrap kept no indent or did not wrap: %q", got)
	}
	for i, l := range lines {
		if len(l) > 30 {
			t.Errorf("line %d is %d columns, want at most 30: %q", i, len(l), l)
		}
		if i > 0 && !strings.HasPrefix(l, "    ") {
			t.Errorf("line %d lacks the indent: %q", i, l)
		}
	}
	if strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(text), " ") {
		t.Errorf("wrap changed the words")
	}
}
