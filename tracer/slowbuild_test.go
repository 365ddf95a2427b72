package tracer

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// A build that the go command's cache makes quick says nothing; a slow one
// says what the run waits for, once it has been slow for a while.
func TestWhileSlowSpeaksOnlyForSlowBuilds(t *testing.T) {
	var mu sync.Mutex
	var said []string
	heard := make(chan struct{}, 10)
	onStatus := func(s string) {
		mu.Lock()
		said = append(said, s)
		mu.Unlock()
		heard <- struct{}{}
	}
	say := func(waited time.Duration) string { return "Building the child." }

	out, err := whileSlow(onStatus, say, func() (string, error) { return "quick", nil })
	if out != "quick" || err != nil {
		t.Fatalf("whileSlow = %q, %v; want quick, nil", out, err)
	}
	mu.Lock()
	if len(said) != 0 {
		t.Errorf("a quick build said %q, want nothing", said)
	}
	mu.Unlock()

	// This build ends only once it has been announced, however loaded the
	// machine: no clock decides the test.
	begin := time.Now()
	out, err = whileSlow(onStatus, say, func() (string, error) {
		<-heard
		return "slow", nil
	})
	if out != "slow" || err != nil {
		t.Fatalf("whileSlow = %q, %v; want slow, nil", out, err)
	}
	if waited := time.Since(begin); waited < slowBuildAfter {
		t.Errorf("the build was announced after %v, before slowBuildAfter (%v)", waited, slowBuildAfter)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(said) != 1 || !strings.Contains(said[0], "Building") {
		t.Errorf("a slow build said %q, want one announcement", said)
	}
}
