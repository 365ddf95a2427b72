package web

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/concviz/concviz/scenarios"
)

// These tests run real scenarios in real child processes over the
// websocket, through tracer.Run: what the page sees is what they assert.

// runOverSocket runs one variant over c and returns the updates that came
// before the end, and the end. It appends to lags how far each update
// arrived behind the child's clock at its latest event.
func runOverSocket(t *testing.T, c *websocket.Conn, scenario, variant string, lags *[]time.Duration) ([]Message, Message) {
	t.Helper()
	send(t, c, Message{Type: MsgRun, Scenario: scenario, Variant: variant})
	started := expect(t, c, MsgStarted)
	var updates []Message
	for {
		m := read(t, c)
		if m.Run != started.Run {
			t.Fatalf("message of run %d during run %d: %+v", m.Run, started.Run, m)
		}
		switch m.Type {
		case MsgUpdate:
			if m.Update.Wall != 0 {
				*lags = append(*lags, time.Duration(time.Now().UnixNano()-m.Update.Wall))
			}
			updates = append(updates, m)
		case MsgEnd:
			return updates, m
		default:
			t.Fatalf("got a %q message during the run: %+v", m.Type, m)
		}
	}
}

// TestRealScenario runs deadlock-cross-wait, broken and fixed, several
// times, since schedules vary: the broken variant deadlocks, the fixed one
// is ok, updates arrive while the child runs, and no goroutine of the
// harness reaches the page.
func TestRealScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("runs scenarios in child processes")
	}
	_, ts := newTestServer(t, Options{})
	c := dial(t, ts)
	const rounds = 3
	var lags []time.Duration
	for round := range rounds {
		for _, tt := range []struct {
			variant string
			want    scenarios.Outcome
		}{
			{"broken", scenarios.Deadlock},
			{"fixed", scenarios.OK},
		} {
			begin := time.Now()
			updates, end := runOverSocket(t, c, "deadlock-cross-wait", tt.variant, &lags)
			t.Logf("round %d, %s: %d updates, end after %v", round, tt.variant, len(updates), time.Since(begin))
			if end.Error != "" {
				t.Fatalf("%s: end with error %q", tt.variant, end.Error)
			}
			if end.Report == nil || end.Timeline == nil {
				t.Fatalf("%s: end without a report or a timeline: %+v", tt.variant, end)
			}
			if got := end.Report.Outcome; got != tt.want {
				t.Errorf("%s: outcome %q, want %q (findings %+v)", tt.variant, got, tt.want, end.Report.Findings)
			}
			if len(updates) == 0 {
				t.Errorf("%s: no update arrived before the end", tt.variant)
			}
			for _, g := range end.Timeline.Goroutines {
				if g.Hidden {
					t.Errorf("%s: hidden goroutine %d (%s) in the end timeline", tt.variant, g.ID, g.Name)
				}
			}
			for _, u := range updates {
				for _, d := range u.Update.Goroutines {
					if d.Hidden {
						t.Errorf("%s: hidden goroutine %d (%s) in an update", tt.variant, d.ID, d.Name)
					}
				}
			}
			if tt.want == scenarios.Deadlock {
				checkDeadlockLanes(t, updates, end)
			}
		}
	}
	if pids := childPIDs(t); len(pids) > 0 {
		t.Errorf("child processes left after the runs: %v", pids)
	}
	// A figure, not an assertion: how far behind the child an update
	// reaches a client of the socket.
	if len(lags) > 0 {
		slices.Sort(lags)
		t.Logf("update lag behind the child's latest event over %d updates: p50 %v, p95 %v, max %v",
			len(lags), lags[len(lags)/2], lags[len(lags)*95/100], lags[len(lags)-1])
	}
}

// checkDeadlockLanes checks what the page draws of the deadlock: the two
// goroutines of the scenario, both blocked receiving in the scenario's file,
// in the live view built from the updates as in the end timeline.
func checkDeadlockLanes(t *testing.T, updates []Message, end Message) {
	t.Helper()
	v := newView()
	for _, m := range updates {
		v.apply(t, m.Update)
	}
	if len(v.spans) == 0 {
		t.Error("the updates drew no goroutine")
	}
	blocked := 0
	for _, g := range end.Timeline.Goroutines {
		if len(g.Spans) == 0 {
			continue
		}
		last := g.Spans[len(g.Spans)-1]
		if !last.State.Blocked() {
			continue
		}
		st := end.Timeline.Stack(last.Stack)
		loc, ok := st.UserFrame()
		if ok && strings.HasSuffix(loc.File, "/deadlock_cross_wait.go") {
			blocked++
		}
	}
	if blocked < 2 {
		t.Errorf("end timeline: %d goroutines end blocked in deadlock_cross_wait.go, want 2", blocked)
	}
}

// TestRealCancel cancels a real run as soon as it has started and closes a
// connection in the middle of another: the runs end, and no child process
// is left.
func TestRealCancel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs scenarios in child processes")
	}
	s, ts := newTestServer(t, Options{})
	c := dial(t, ts)
	for _, variant := range []string{"broken", "fixed"} {
		send(t, c, Message{Type: MsgRun, Scenario: "deadlock-cross-wait", Variant: variant})
		expect(t, c, MsgStarted)
		send(t, c, Message{Type: MsgCancel})
		begin := time.Now()
		var end Message
		for end.Type != MsgEnd {
			end = read(t, c)
		}
		t.Logf("%s: end %v after the cancel (cancelled: %v)", variant, time.Since(begin), end.Cancelled)
		if d := time.Since(begin); d > 3*time.Second {
			t.Errorf("%s: the run ended %v after the cancel", variant, d)
		}
		if end.Cancelled {
			if end.Error != "" && !strings.Contains(end.Error, "cancelled") {
				t.Errorf("%s: cancelled end with error %q", variant, end.Error)
			}
		} else if m := expect(t, c, MsgError); !strings.Contains(m.Error, "no run in progress") {
			// The run was over before the cancel arrived.
			t.Errorf("%s: cancel after the end: %q, want no run in progress", variant, m.Error)
		}
		if pids := childPIDs(t); len(pids) > 0 {
			t.Errorf("%s: child processes left after the cancel: %v", variant, pids)
		}
	}

	c2 := dial(t, ts)
	send(t, c2, Message{Type: MsgRun, Scenario: "deadlock-cross-wait"})
	expect(t, c2, MsgStarted)
	c2.Close()
	c.Close()
	s.Close() // waits for the sessions, so for their runs
	if pids := childPIDs(t); len(pids) > 0 {
		t.Errorf("child processes left after closing the connection: %v", pids)
	}
	ts.Close()
	goleak.VerifyNone(t)
}
