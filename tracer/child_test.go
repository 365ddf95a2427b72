package tracer

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testChildRun runs the test binary as a misbehaving child.
func testChildRun(t *testing.T, ctx context.Context, mode string, timeout time.Duration) (*childOutput, error) {
	t.Helper()
	c := &child{exe: os.Args[0], env: []string{envTestChild + "=" + mode}}
	out, err := c.run(ctx, timeout)
	if out == nil {
		t.Fatalf("child %s did not start: %v", mode, err)
	}
	return out, err
}

// processGone reports whether a process no longer runs (a zombie waiting
// for a reaper other than us counts as gone: it runs nothing).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	fields := strings.Fields(string(b))
	return len(fields) > 2 && fields[2] == "Z"
}

func TestChildThatHangsIsKilledAtItsTimeout(t *testing.T) {
	start := time.Now()
	out, err := testChildRun(t, context.Background(), "hang", 300*time.Millisecond)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !out.timedOut {
		t.Errorf("timedOut = false, want true")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("run took %v after a 300ms timeout", d)
	}
	if !out.timeline.Truncated {
		t.Errorf("a child that never traced should give a truncated timeline")
	}
}

func TestChildIsKilledWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	out, err := testChildRun(t, ctx, "hang", time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's error", err)
	}
	if out.timedOut {
		t.Errorf("a cancelled run is not a timeout")
	}
}

func TestChildOutputIsCapped(t *testing.T) {
	out, err := testChildRun(t, context.Background(), "flood", 10*time.Second)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if n := len(out.stdout); n < outputCap || n > outputCap+100 {
		t.Errorf("kept %d bytes of stdout, want about %d", n, outputCap)
	}
	if !strings.Contains(out.stdout, "output cut") {
		t.Errorf("capped output has no marker")
	}
	if !strings.Contains(strings.Join(out.warnings, "\n"), "cut") {
		t.Errorf("no warning about the cut output: %q", out.warnings)
	}
}

func TestChildGrandchildrenDieWithTheGroup(t *testing.T) {
	out, err := testChildRun(t, context.Background(), "fork", 10*time.Second)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out.stdout))
	if err != nil {
		t.Fatalf("child printed %q, want a pid", out.stdout)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("grandchild %d still runs after the run ended", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestChildMemoryHogIsStopped(t *testing.T) {
	c := &child{exe: os.Args[0], env: []string{envTestChild + "=alloc"}, memCap: 256 << 20}
	out, err := c.run(context.Background(), 30*time.Second)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if out.timedOut {
		t.Fatalf("the memory hog ran into the timeout instead of the memory cap")
	}
	if !strings.Contains(out.killedFor, "memory") {
		t.Errorf("killedFor = %q, want the memory cap", out.killedFor)
	}
}

func TestCappedReader(t *testing.T) {
	full := make(chan struct{})
	r := &cappedReader{r: strings.NewReader(strings.Repeat("x", 100)), limit: 10, full: full}
	b, err := io.ReadAll(r)
	if len(b) != 10 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read %d bytes, err %v; want 10 and ErrUnexpectedEOF", len(b), err)
	}
	select {
	case <-full:
	default:
		t.Errorf("full not closed at the cap")
	}
}
