package tracer

import (
	"path/filepath"
	"testing"

	"github.com/concviz/concviz/scenarios"
)

func TestFuncUsesChan(t *testing.T) {
	s, err := scenarios.Lookup("deadlock-cross-wait")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join("..", "scenarios", s.File)
	// In crossWaitBroken the helper closure receives from ch1 and sends on
	// ch2 (its receive is the first // BUG line); the caller receives from
	// ch2 (the second) and sends on ch1. The closure's operations are not
	// the caller's.
	bug := s.MarkedLines("// BUG")
	if len(bug) != 2 {
		t.Fatalf("deadlock-cross-wait has %d // BUG lines, want 2", len(bug))
	}
	helper, caller := bug[0], bug[1]
	tests := []struct {
		line int
		ch   string
		send bool
		want bool
	}{
		{caller, "ch1", true, true},
		{caller, "ch2", true, false},
		{caller, "ch2", false, true},
		{helper, "ch2", true, true},
		{helper, "ch1", true, false},
		{helper, "ch1", false, true},
	}
	for _, tt := range tests {
		if got := funcUsesChan(file, tt.line, tt.ch, tt.send); got != tt.want {
			t.Errorf("funcUsesChan(line %d, %s, send=%v) = %v, want %v", tt.line, tt.ch, tt.send, got, tt.want)
		}
	}
	if funcUsesChan("no/such/file.go", 1, "ch", true) {
		t.Errorf("a missing file uses a channel")
	}
}
