package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/concviz/concviz/tracer"
)

// statsFixture is a trace recorded by concviz, kept with the tracer's tests.
const statsFixture = "../../tracer/testdata/traces/go1.26-deadlock-cross-wait-broken.trace"

func TestOpenStats(t *testing.T) {
	tl, err := tracer.ReadTraceFile(statsFixture, tracer.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := openStats(context.Background(), statsFixture, &stdout, &stderr); err != nil {
		t.Fatalf("openStats: %v", err)
	}
	if strings.Count(stdout.String(), "\n") != 1 {
		t.Fatalf("want one line, got %q", stdout.String())
	}
	var got statsLine
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("decode %q: %v", stdout.String(), err)
	}
	spans := 0
	for _, g := range tl.Goroutines {
		spans += len(g.Spans)
	}
	if got.Goroutines != len(tl.Goroutines) || got.Spans != int64(spans) || got.DurationNS != tl.Duration {
		t.Errorf("got %d goroutines, %d spans, %d ns; ReadTrace has %d, %d, %d",
			got.Goroutines, got.Spans, got.DurationNS, len(tl.Goroutines), spans, tl.Duration)
	}
	if got.Events < got.Spans || got.PeakRSSBytes <= 0 || got.IndexSeconds <= 0 || got.ReadySeconds > got.IndexSeconds {
		t.Errorf("implausible figures: %+v", got)
	}
	// Neither the line's keys nor stderr may change without notice: the
	// benchmark and the README read them.
	var keys map[string]any
	json.Unmarshal(stdout.Bytes(), &keys)
	for _, k := range []string{"events", "goroutines", "spans", "index_seconds", "peak_rss_bytes"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("the line has no %q", k)
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr is not a terminal, yet got %q", stderr.String())
	}
}

func TestOpenStatsBadInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.trace")
	os.WriteFile(garbage, []byte("not a trace\n"), 0o644)
	data, err := os.ReadFile(statsFixture)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.trace")
	os.WriteFile(cut, data[:len(data)*9/10], 0o644)

	var stdout, stderr bytes.Buffer
	if err := openStats(context.Background(), garbage, &stdout, &stderr); !errors.Is(err, tracer.ErrNotTrace) {
		t.Errorf("garbage: got %v, want an error wrapping ErrNotTrace", err)
	}
	if err := openStats(context.Background(), filepath.Join(dir, "missing"), &stdout, &stderr); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want an error wrapping ErrNotExist", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("failures printed %q", stdout.String())
	}

	if err := openStats(context.Background(), cut, &stdout, &stderr); err != nil {
		t.Fatalf("truncated: %v", err)
	}
	var got statsLine
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("decode %q: %v", stdout.String(), err)
	}
	if !got.Truncated || len(got.Warnings) == 0 || !strings.Contains(stderr.String(), "viz: warning: ") {
		t.Errorf("truncated: got %+v, stderr %q; want a warning in both", got, stderr.String())
	}
}

func TestProgressText(t *testing.T) {
	for _, tt := range []struct {
		read, total, events int64
		want                string
	}{
		{0, 200e6, 0, "indexing [..........]   0% 0.0/200.0 MB, 0.0M events"},
		{50e6, 200e6, 3e6, "indexing [##........]  25% 50.0/200.0 MB, 3.0M events"},
		{300e6, 200e6, 9e6, "indexing [##########] 100% 300.0/200.0 MB, 9.0M events"},
		{5e6, 0, 1e6, "indexing [..........]   0% 5.0/0.0 MB, 1.0M events"},
	} {
		if got := progressText(tt.read, tt.total, tt.events, 10); got != tt.want {
			t.Errorf("progressText(%d, %d, %d):\n got %q\nwant %q", tt.read, tt.total, tt.events, got, tt.want)
		}
	}
}

// A saved recording is indexed from the trace inside it: its figures are
// those of the raw trace.
func TestOpenStatsRecording(t *testing.T) {
	raw, err := os.ReadFile(statsFixture)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "run.concviz")
	if err := tracer.NewRecording(raw, nil).SaveFile(path); err != nil {
		t.Fatal(err)
	}
	stats := func(p string) statsLine {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := openStats(context.Background(), p, &stdout, &stderr); err != nil {
			t.Fatalf("openStats %s: %v", p, err)
		}
		var l statsLine
		if err := json.Unmarshal(stdout.Bytes(), &l); err != nil {
			t.Fatalf("decode %q: %v", stdout.String(), err)
		}
		return l
	}
	want, got := stats(statsFixture), stats(path)
	if got.Events != want.Events || got.Goroutines != want.Goroutines || got.Spans != want.Spans || got.DurationNS != want.DurationNS {
		t.Errorf("the recording gives %d events, %d goroutines, %d spans, %d ns; its trace %d, %d, %d, %d",
			got.Events, got.Goroutines, got.Spans, got.DurationNS, want.Events, want.Goroutines, want.Spans, want.DurationNS)
	}
}
