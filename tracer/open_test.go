package tracer

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestReadTraceOfARecording(t *testing.T) {
	tl, err := ReadTraceFile(fixture(t, "deadlock-cross-wait", "broken"), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Read as a user's file, a concviz recording still shows only the
	// scenario's goroutines.
	if n := len(visible(tl)); n != 2 {
		t.Errorf("visible goroutines = %d, want the scenario's 2", n)
	}
	if tl.Truncated {
		t.Errorf("a complete recording reads as truncated: %q", tl.Warnings)
	}
	if tl.Scenario != "deadlock-cross-wait" || tl.Variant != "broken" {
		t.Errorf("recording names run %q/%q, want deadlock-cross-wait/broken", tl.Scenario, tl.Variant)
	}
}

func TestReadTraceRejectsGarbage(t *testing.T) {
	for name, input := range map[string][]byte{
		"empty":   nil,
		"text":    []byte("this is not a trace\n"),
		"random":  bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 1000),
		"go1.10+": []byte("go 1.10 trace\x00\x00\x00\x01\x02\x03"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ReadTrace(bytes.NewReader(input), ReadOptions{})
			if !errors.Is(err, ErrNotTrace) {
				t.Errorf("err = %v, want ErrNotTrace", err)
			}
		})
	}
}

func TestReadTraceOfAnEmptyTrace(t *testing.T) {
	// A header and nothing else is a trace, with nothing in it.
	tl, err := ReadTrace(strings.NewReader("go 1.26 trace\x00\x00\x00"), ReadOptions{})
	if err != nil {
		t.Fatalf("err = %v, want an empty timeline", err)
	}
	if len(tl.Goroutines) != 0 {
		t.Errorf("an empty trace has %d goroutines", len(tl.Goroutines))
	}
}

// TestReadTraceTruncated cuts a real trace at many offsets: never a panic,
// never an error once the first generation is whole, and a warning saying
// how much was lost.
func TestReadTraceTruncated(t *testing.T) {
	data, err := os.ReadFile(fixture(t, "leak-unread-result", "broken"))
	if err != nil {
		t.Fatal(err)
	}
	full, err := ReadTrace(bytes.NewReader(data), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for cut := len(data) - 1; cut > 0; cut -= 97 {
		tl, err := ReadTrace(bytes.NewReader(data[:cut]), ReadOptions{})
		if err != nil {
			if !errors.Is(err, ErrNotTrace) {
				t.Fatalf("cut at %d: err = %v, want a timeline or ErrNotTrace", cut, err)
			}
			continue
		}
		if tl.Generations > full.Generations || len(tl.Goroutines) > len(full.Goroutines) {
			t.Fatalf("cut at %d: more than the whole trace", cut)
		}
		if tl.Truncated && !strings.Contains(strings.Join(tl.Warnings, " "), "could not be used") {
			t.Fatalf("cut at %d: truncated without saying how much was lost: %q", cut, tl.Warnings)
		}
	}
}
