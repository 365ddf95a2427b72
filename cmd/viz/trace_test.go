package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTraceCommand(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{[]string{"trace", "--", "../../testdata/prog", "deadlock"}, 1, []string{
			"testdata/prog: DEADLOCK", "  fmt.Println(<-replies) // HANG", "G1 main",
		}, "problems found: deadlock"},
		{[]string{"trace", "../../testdata/prog", "ok"}, 0, []string{"45\n", "testdata/prog: OK"}, ""},
		{[]string{"trace", "--", "../../testdata/prog", "leak"}, 1, []string{"LEAK", "when main returned"}, ""},
		{[]string{"trace", "--", "../../testdata/prog"}, 1, []string{"exit status 2"}, "usage: prog"},
		{[]string{"trace"}, 2, nil, "trace needs a program"},
		{[]string{"trace", "--", "-o", "x", "../../testdata/prog"}, 2, nil, "not supported"},
		{[]string{"trace", "--", "../../testdata/leaky"}, 1, nil, "not a main package"},
		{[]string{"trace", "--help"}, 0, nil, "Usage: viz trace"},
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

// TestTraceJSON checks that --json keeps stdout for the report alone.
func TestTraceJSON(t *testing.T) {
	code, stdout, stderr := viz(t, "trace", "--json", "--", "../../testdata/prog", "ok")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, stdout)
	}
	if rep["outcome"] != "ok" || rep["output"] != "45" {
		t.Errorf("outcome %v, output %v", rep["outcome"], rep["output"])
	}
	if !strings.Contains(stderr, "45") {
		t.Errorf("the program's output is not on stderr: %q", stderr)
	}
}

func TestTraceOut(t *testing.T) {
	out := filepath.Join(t.TempDir(), "prog.trace")
	code, stdout, stderr := viz(t, "trace", "--trace-out", out, "--", "../../testdata/prog", "ok")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "trace: "+out) {
		t.Errorf("stdout does not name %s:\n%s", out, stdout)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
		t.Errorf("no trace kept: %v", err)
	}
}
