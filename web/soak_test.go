package web

// Load and fault tests with real scenario runs in real child processes:
// a soak of many runs through one websocket, runs asked for on top of each
// other, and the server killed outright while its child runs.
//
// The soak runs 50 scenarios in the normal suite; the long form is
//
//	CONCVIZ_SOAK=1000 go test ./web -run TestSoak -timeout 30m -v

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/concviz/concviz/scenarios"
	"github.com/concviz/concviz/tracer"
)

// soakRuns is how many runs TestSoak makes: CONCVIZ_SOAK, or 50.
func soakRuns(t *testing.T) int {
	s := os.Getenv("CONCVIZ_SOAK")
	if s == "" {
		return 50
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("CONCVIZ_SOAK=%q is not a positive count", s)
	}
	return n
}

// soakVariants are the runs of the soak, taken in turn: quick scenarios of
// several kinds (deadlock, leak, ok, wrong result), no race build needed.
var soakVariants = []struct{ scenario, variant string }{
	{"deadlock-cross-wait", "broken"},
	{"deadlock-cross-wait", "fixed"},
	{"leak-unread-result", "broken"},
	{"nil-interface-error", "broken"},
	{"context-ignored", "fixed"},
	{"worker-pool", "broken"},
}

// heapInUse returns the live heap after full collections. Objects that
// only an object with a finalizer or cleanup (a closed file or socket)
// reaches are freed a cycle after it, so one collection is not enough.
func heapInUse() uint64 {
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestSoak runs scenarios through one websocket, one after another, and
// checks that the server's goroutines and descriptors come back to their
// baseline and that every run ended with its expected outcome. The server
// keeps every run's recording and timeline in its store, by design, so
// while it lives its heap grows with the runs: the test prints how much,
// against the trace bytes the store counts, bounds it, and checks that
// once the server is gone the heap is back to its baseline, so that
// nothing outside the store held on to a run.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("runs scenarios in child processes")
	}
	n := soakRuns(t)
	g0, f0 := settle(t, 0, 0, 0)
	h0 := heapInUse()
	soak(t, n)
	g1, f1 := settle(t, g0, f0, 5*time.Second)
	h1 := heapInUse()
	t.Logf("with the server gone: goroutines %d, descriptors %d, heap %d KiB; before the server: %d, %d, %d KiB", g1, f1, h1>>10, g0, f0, h0>>10)
	if g1 > g0 || f1 > f0 || h1 > h0+1<<20 {
		t.Errorf("the server left goroutines %d -> %d, descriptors %d -> %d, heap %d -> %d KiB", g0, g1, f0, f1, h0>>10, h1>>10)
	}
}

// soak starts a server, makes n runs through one websocket and closes the
// server again, checking what TestSoak says while the server lives.
func soak(t *testing.T, n int) {
	s := NewServer(Options{Logf: t.Logf})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	defer s.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+ts.Listener.Addr().String()+"/ws", http.Header{"Origin": {"http://localhost:" + port(ts)}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	var lags []time.Duration
	mismatches := 0
	runOne := func(i int) {
		sv := soakVariants[i%len(soakVariants)]
		sc, err := scenarios.Lookup(sv.scenario)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := sc.Variant(sv.variant)
		_, end := runOverSocket(t, c, sv.scenario, sv.variant, &lags)
		if end.Error != "" || end.Report == nil {
			t.Fatalf("run %d (%s/%s): error %q, report %v", i, sv.scenario, sv.variant, end.Error, end.Report != nil)
		}
		if end.Report.Outcome != v.Expect {
			// The outcomes themselves are TestEveryVariantYieldsItsOutcome's
			// to check; here they are a figure.
			t.Logf("run %d (%s/%s): outcome %s, want %s", i, sv.scenario, sv.variant, end.Report.Outcome, v.Expect)
			mismatches++
		}
	}
	// One warm-up round, so that lazily made state (the scenario catalog's
	// sources, the encoder's caches) is in the baseline.
	for i := range len(soakVariants) {
		runOne(i)
	}
	g0, f0 := settle(t, 0, 0, 0)
	h0 := heapInUse()
	stored0 := storedTraceBytes(s)
	begin := time.Now()
	for i := range n {
		runOne(i)
	}
	elapsed := time.Since(begin)
	g1, f1 := settle(t, g0, f0, 5*time.Second)
	h1 := heapInUse()
	stored := storedTraceBytes(s) - stored0
	t.Logf("%d runs in %v (%v a run), %d with another outcome than expected: goroutines %d before, %d after; descriptors %d before, %d after",
		n, elapsed.Round(time.Millisecond), (elapsed / time.Duration(n)).Round(time.Millisecond), mismatches, g0, g1, f0, f1)
	t.Logf("heap %d KiB before, %d KiB after: %d KiB a run held by the server, whose store keeps every run and counts %d KiB of trace a run against its cap",
		h0>>10, h1>>10, int64(h1-h0)/int64(n)>>10, stored/int64(n)>>10)
	if g1 > g0 || f1 > f0 {
		t.Errorf("leaked over %d runs: goroutines %d -> %d, descriptors %d -> %d", n, g0, g1, f0, f1)
	}
	if h1 > h0 && int64(h1-h0) > 32*stored+4<<20 {
		t.Errorf("the heap grew by %d KiB over %d runs, more than 32 times the %d KiB of trace the store keeps", (h1-h0)>>10, n, stored>>10)
	}
	if pids := childPIDs(t); len(pids) > 0 {
		t.Errorf("child processes left after the soak: %v", pids)
	}
}

// storedTraceBytes sums the trace bytes of the recordings in the server's
// store.
func storedTraceBytes(s *Server) int64 {
	var sum int64
	for _, info := range s.store.List() {
		sum += info.TraceBytes
	}
	return sum
}

// TestRunsNeverInterleave asks one socket for several real runs at once:
// the runs happen one at a time (the Run seam, which passes each to
// tracer.Run, sees at most one in progress), and the messages of each run
// come together, started first and end last, in the order asked.
func TestRunsNeverInterleave(t *testing.T) {
	if testing.Short() {
		t.Skip("runs scenarios in child processes")
	}
	var mu sync.Mutex
	inProgress, most := 0, 0
	run := func(ctx context.Context, opt tracer.RunOptions) (*tracer.Result, error) {
		mu.Lock()
		inProgress++
		most = max(most, inProgress)
		mu.Unlock()
		defer func() {
			mu.Lock()
			inProgress--
			mu.Unlock()
		}()
		return tracer.Run(ctx, opt)
	}
	_, ts := newTestServer(t, Options{Run: run})
	c := dial(t, ts)
	// The first run's child is running (its first update has arrived)
	// when three more are asked for at once.
	const asked = 4
	send(t, c, Message{Type: MsgRun, Scenario: "deadlock-cross-wait", Variant: "broken"})
	expect(t, c, MsgStarted)
	first := read(t, c)
	for i := 1; i < asked; i++ {
		variant := []string{"broken", "fixed"}[i%2]
		send(t, c, Message{Type: MsgRun, Scenario: "deadlock-cross-wait", Variant: variant})
	}
	var current int64 = 1
	ended := map[int64]Message{}
	if first.Type == MsgEnd {
		ended[1] = first
	} else if first.Type != MsgUpdate || first.Run != 1 {
		t.Fatalf("the first message after run 1 started: %+v, want its update", first)
	}
	for len(ended) < asked {
		m := read(t, c)
		switch m.Type {
		case MsgStarted:
			if m.Run != current+1 {
				t.Fatalf("run %d started after run %d", m.Run, current)
			}
			if _, ok := ended[current]; current > 0 && !ok {
				t.Fatalf("run %d started before run %d ended", m.Run, current)
			}
			current = m.Run
		case MsgUpdate, MsgEnd:
			if m.Run != current {
				t.Fatalf("a %s message of run %d during run %d", m.Type, m.Run, current)
			}
			if m.Type == MsgEnd {
				ended[m.Run] = m
			}
		default:
			t.Fatalf("unexpected message %+v", m)
		}
	}
	if first.Type == MsgEnd {
		t.Logf("run 1 ended before the others were asked for; the test shows less")
	}
	for id := int64(1); id < asked; id++ {
		if !ended[id].Cancelled && !(id == 1 && first.Type == MsgEnd) {
			t.Errorf("run %d was superseded but its end is not marked cancelled: %+v", id, ended[id])
		}
	}
	last := ended[asked]
	if last.Cancelled || last.Error != "" || last.Report == nil || last.Report.Outcome != scenarios.OK {
		t.Errorf("the last run asked for should finish with ok: %+v", last)
	}
	if most != 1 {
		t.Errorf("%d runs were in progress at once, want 1", most)
	}
	t.Logf("%d runs asked for while run 1 was running: at most %d in progress, the first %d cancelled in order, the last finished", asked-1, most, asked-1)
	if pids := childPIDs(t); len(pids) > 0 {
		t.Errorf("child processes left: %v", pids)
	}
}

// TestVizKilledKillsChild builds viz, serves with it, starts a run over the
// socket and kills viz with SIGKILL while the run's child is alive: the
// kernel kills the child too (its parent-death signal). This test process
// makes itself the subreaper of the orphans, so it can see how the child
// ended: killed by SIGKILL, not exited on its own.
func TestVizKilledKillsChild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds viz and runs a scenario")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to build viz: %v", err)
	}
	viz := filepath.Join(t.TempDir(), "viz")
	build := exec.Command(goTool, "build", "-o", viz, "../cmd/viz")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ../cmd/viz: %v\n%s", err, out)
	}
	if err := setSubreaper(true); err != nil {
		t.Skipf("cannot become a subreaper: %v", err)
	}
	defer setSubreaper(false)

	const attempts = 5
	for attempt := 1; attempt <= attempts; attempt++ {
		status, ok := killVizDuringRun(t, viz)
		if !ok {
			t.Logf("attempt %d: the run ended before viz was killed; again", attempt)
			continue
		}
		if !status.Signaled() || status.Signal() != syscall.SIGKILL {
			t.Fatalf("after viz was killed its child ended with %v (exited %v, code %d), want killed by SIGKILL", status, status.Exited(), status.ExitStatus())
		}
		t.Logf("attempt %d: viz was killed during a run; its child died of %v", attempt, status.Signal())
		return
	}
	t.Fatalf("in %d attempts, no run was still going when viz was killed", attempts)
}

// killVizDuringRun starts viz serve, starts a run, kills viz once the
// run's child is alive and waits for the child. It reports false when the
// child had ended (and was reaped by viz) before the kill.
func killVizDuringRun(t *testing.T, viz string) (syscall.WaitStatus, bool) {
	t.Helper()
	cmd := exec.Command(viz, "serve", "--addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start viz serve: %v", err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
		}
		cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	m := regexp.MustCompile(`serving on http://([^/]+)/`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("viz serve printed %q (%v); stderr: %s", line, err, stderr.String())
	}
	c, _, err := websocket.DefaultDialer.Dial("ws://"+m[1]+"/ws", map[string][]string{"Origin": {"http://" + m[1]}})
	if err != nil {
		t.Fatalf("dial viz: %v", err)
	}
	defer c.Close()
	send(t, c, Message{Type: MsgRun, Scenario: "deadlock-cross-wait", Variant: "broken"})

	child := 0
	deadline := time.Now().Add(20 * time.Second)
	for child == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no scenario child of viz (pid %d) appeared; stderr: %s", cmd.Process.Pid, stderr.String())
		}
		child = scenarioChildOf(cmd.Process.Pid)
		if child == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill viz: %v", err)
	}
	killed = true
	cmd.Wait()
	var ws syscall.WaitStatus
	wait := make(chan error, 1)
	go func() {
		_, err := syscall.Wait4(child, &ws, 0, nil)
		wait <- err
	}()
	select {
	case err := <-wait:
		if err == syscall.ECHILD {
			return ws, false
		}
		if err != nil {
			t.Fatalf("wait for the child %d: %v", child, err)
		}
	case <-time.After(10 * time.Second):
		syscall.Kill(child, syscall.SIGKILL)
		<-wait
		t.Fatalf("the child %d still runs 10s after viz was killed", child)
	}
	return ws, true
}

// scenarioChildOf returns the pid of a scenario child of process parent,
// 0 if it has none right now.
func scenarioChildOf(parent int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", parent, parent))
	if err != nil {
		return 0
	}
	// The children file lists the children of one thread; read them all.
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", parent))
	for _, task := range tasks {
		if more, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", parent, task.Name())); err == nil {
			b = append(append(b, ' '), more...)
		}
	}
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err == nil && (strings.Contains(string(env), "\x00CONCVIZ_CHILD=") || strings.HasPrefix(string(env), "CONCVIZ_CHILD=")) {
			return pid
		}
	}
	return 0
}

// setSubreaper makes this process the reaper of its orphaned descendants
// (PR_SET_CHILD_SUBREAPER), or stops it being one.
func setSubreaper(on bool) error {
	const prSetChildSubreaper = 36
	arg := uintptr(0)
	if on {
		arg = 1
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, arg, 0); errno != 0 {
		return errno
	}
	return nil
}
