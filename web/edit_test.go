package web

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/concviz/concviz/scenarios"
	"github.com/concviz/concviz/tracer"
)

// crossWait returns deadlock-cross-wait's file with old replaced by new.
func crossWait(t *testing.T, old, new string) string {
	t.Helper()
	sc, err := scenarios.Lookup("deadlock-cross-wait")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sc.Source(), old) {
		t.Fatalf("the scenario's file lacks %q", old)
	}
	return strings.Replace(sc.Source(), old, new, 1)
}

// A shared server runs no edit, for the presenter either: the error says
// why and no run starts. A viewer's run is refused as any viewer's run is.
func TestSharedRefusesSource(t *testing.T) {
	cr := &countingRun{}
	_, ts, sh := newShared(t, Options{Run: cr.run})
	p := dialAs(t, ts, sh.PresenterToken)
	expect(t, p, MsgRoom)
	send(t, p, Message{Type: MsgRun, Scenario: "deadlock-cross-wait", Source: "package scenarios\n"})
	if m := expect(t, p, MsgError); !strings.Contains(m.Error, "shared server") {
		t.Errorf("presenter's edited run: error %q, want the shared server's refusal", m.Error)
	}
	v := dialViewer(t, ts, sh.ViewerToken)
	send(t, v, Message{Type: MsgRun, Scenario: "deadlock-cross-wait", Source: "package scenarios\n"})
	expect(t, v, MsgError)
	if n := cr.calls.Load(); n != 0 {
		t.Fatalf("edited runs on a shared server started %d runs", n)
	}
	// The catalog's code still runs for the presenter.
	send(t, p, Message{Type: MsgRun, Scenario: "deadlock-cross-wait"})
	readUntil(t, p, MsgEnd)
}

// A local server refuses a source over tracer.MaxSource with an error (the
// message itself is read: the connection stays), and hands a smaller one to
// the run.
func TestLocalSourceSize(t *testing.T) {
	var mu sync.Mutex
	var got []string
	run := &countingRun{}
	_, ts := newTestServer(t, Options{Run: func(ctx context.Context, opt tracer.RunOptions) (*tracer.Result, error) {
		mu.Lock()
		got = append(got, opt.Source)
		mu.Unlock()
		return run.run(ctx, opt)
	}})
	c := dial(t, ts)
	big := "package scenarios\n" + strings.Repeat("\t// x\n", tracer.MaxSource/6+1)
	send(t, c, Message{Type: MsgRun, Scenario: "deadlock-cross-wait", Source: big})
	if m := expect(t, c, MsgError); !strings.Contains(m.Error, "at most") {
		t.Errorf("oversized source: error %q, want the size refused", m.Error)
	}
	if run.calls.Load() != 0 {
		t.Fatalf("an oversized source started a run")
	}
	// Tabs and newlines escape to two bytes each: a source just under the
	// cap still fits the read limit.
	fits := "package scenarios\n" + strings.Repeat("\t\n", (tracer.MaxSource-20)/2)
	send(t, c, Message{Type: MsgRun, Scenario: "deadlock-cross-wait", Source: fits})
	if m := expect(t, c, MsgStarted); !m.Edited {
		t.Errorf("started %+v, want edited", m)
	}
	if m := expect(t, c, MsgEnd); !m.Edited {
		t.Errorf("end %+v, want edited", m)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != fits {
		t.Fatalf("the run got %d sources, want the one sent", len(got))
	}
}

// A learner's edit over the websocket, for real: one that does not build
// ends with the compiler's complaints on their lines; the fix runs ok.
func TestEditedRunOverSocket(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a child")
	}
	_, ts := newTestServer(t, Options{})
	c := dial(t, ts)

	bad := crossWait(t, "\t\tch2 <- v\n", "\t\tch2 <- nope\n")
	line := 1 + strings.Count(bad[:strings.Index(bad, "nope")], "\n")
	send(t, c, Message{Type: MsgRun, Scenario: "deadlock-cross-wait", Variant: "broken", Source: bad})
	expect(t, c, MsgStarted)
	end := readUntil(t, c, MsgEnd)
	e := end[len(end)-1]
	if e.Compile == nil || e.Error == "" {
		t.Fatalf("end %+v, want a compile error", e)
	}
	found := false
	for _, ce := range e.Compile.Errors {
		found = found || (ce.Line == line && strings.Contains(ce.Message, "nope"))
	}
	if !found {
		t.Errorf("compile errors %+v, want one about nope on line %d", e.Compile.Errors, line)
	}

	good := crossWait(t,
		"\tv := <-ch2 // BUG: waits for the helper, who waits for us\n\tch1 <- v\n",
		"\tch1 <- 1 // FIX: mine\n\t<-ch2\n")
	send(t, c, Message{Type: MsgRun, Scenario: "deadlock-cross-wait", Variant: "broken", Source: good})
	expect(t, c, MsgStarted)
	end = readUntil(t, c, MsgEnd)
	e = end[len(end)-1]
	if e.Error != "" || e.Report == nil {
		t.Fatalf("end %+v, want a report", e)
	}
	if e.Report.Outcome != scenarios.OK || !e.Edited || e.Recording == nil {
		t.Errorf("outcome %s, edited %v, recording %v; want ok, edited, recorded", e.Report.Outcome, e.Edited, e.Recording)
	}
}
