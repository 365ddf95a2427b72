package web

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/concviz/concviz/tracer"
)

// readTimeout bounds every wait for a message in these tests.
const readTimeout = 20 * time.Second

// dialURL opens a websocket with the given Origin and closes it when the
// test ends.
func dialURL(t *testing.T, wsURL, origin string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Origin": {origin}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s (origin %q): %v (status %d)", wsURL, origin, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dial opens a websocket to a test server, as its own page would.
func dial(t *testing.T, ts *httptest.Server) *websocket.Conn {
	t.Helper()
	host := strings.TrimPrefix(ts.URL, "http://")
	return dialURL(t, "ws://"+host+"/ws", "http://localhost:"+port(ts))
}

func send(t *testing.T, c *websocket.Conn, m Message) {
	t.Helper()
	if err := c.WriteJSON(m); err != nil {
		t.Fatalf("send %s: %v", m.Type, err)
	}
}

// read reads the next message, failing the test on a timeout.
func read(t *testing.T, c *websocket.Conn) Message {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(readTimeout))
	var m Message
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("decode %q: %v", data, err)
	}
	return m
}

// expect reads the next message and checks its type.
func expect(t *testing.T, c *websocket.Conn, typ string) Message {
	t.Helper()
	m := read(t, c)
	if m.Type != typ {
		t.Fatalf("got a %q message (%+v), want %q", m.Type, m, typ)
	}
	return m
}

// blockingRun is a Run seam for tests of the socket itself: each run waits
// until its context ends, like a child that never finishes, and reports
// when it starts and ends.
type blockingRun struct {
	started chan tracer.RunOptions
	ended   chan error
}

func newBlockingRun() *blockingRun {
	return &blockingRun{started: make(chan tracer.RunOptions, 16), ended: make(chan error, 16)}
}

func (b *blockingRun) run(ctx context.Context, opt tracer.RunOptions) (*tracer.Result, error) {
	b.started <- opt
	<-ctx.Done()
	b.ended <- ctx.Err()
	return &tracer.Result{Timeline: &tracer.Timeline{}}, ctx.Err()
}

// TestOriginCheck opens websockets from pages of other sites.
func TestOriginCheck(t *testing.T) {
	_, ts := newTestServer(t, Options{Run: newBlockingRun().run})
	p := port(ts)
	wsURL := "ws://127.0.0.1:" + p + "/ws"
	tests := []struct {
		origin string
		want   int
	}{
		{"http://localhost:" + p, 101},
		{"http://127.0.0.1:" + p, 101},
		{"http://[::1]:" + p, 101},
		{"", 403},
		{"null", 403},
		{"http://evil.test", 403},
		{"http://evil.test:" + p, 403},
		{"http://localhost.evil.test:" + p, 403},
		{"http://localhost:1" + p, 403},
		{"https://localhost:" + p, 403},
		{"file://", 403},
		{"http://user@localhost:" + p, 403},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.origin != "" {
			h.Set("Origin", tt.origin)
		}
		c, resp, err := websocket.DefaultDialer.Dial(wsURL, h)
		if c != nil {
			c.Close()
		}
		got := 0
		if resp != nil {
			got = resp.StatusCode
		}
		if got != tt.want {
			t.Errorf("origin %q: status %d (%v), want %d", tt.origin, got, err, tt.want)
		}
	}
	// The Host check applies to the upgrade too.
	h := http.Header{"Origin": {"http://evil.test:" + p}}
	d := websocket.Dialer{NetDial: func(string, string) (net.Conn, error) { return net.Dial("tcp", "127.0.0.1:"+p) }}
	c, resp, _ := d.Dial("ws://evil.test:"+p+"/ws", h)
	if c != nil {
		c.Close()
	}
	if resp == nil || resp.StatusCode != 403 {
		t.Errorf("websocket with Host evil.test: %v, want 403", resp)
	}
}

// TestBadMessages sends messages the server cannot act on: each gets an
// error message, and the connection stays usable.
func TestBadMessages(t *testing.T) {
	_, ts := newTestServer(t, Options{Run: newBlockingRun().run})
	c := dial(t, ts)
	tests := []struct {
		kind int
		msg  string
		want string // substring of the error text
	}{
		{websocket.TextMessage, `{"type":"run"`, "malformed message"},
		{websocket.TextMessage, `hello`, "malformed message"},
		{websocket.TextMessage, `{"type":42}`, "malformed message"},
		{websocket.BinaryMessage, `{"type":"run"}`, "not binary"},
		{websocket.TextMessage, `{}`, `no "type"`},
		{websocket.TextMessage, `{"type":"launch"}`, `unknown message type "launch"`},
		{websocket.TextMessage, `{"type":"run","scenario":"no-such-thing"}`, `unknown scenario "no-such-thing"; valid ids: `},
		{websocket.TextMessage, `{"type":"run","scenario":"deadlock-cross-wait","variant":"mended"}`, `no variant "mended" (variants: broken, fixed)`},
		{websocket.TextMessage, `{"type":"cancel"}`, "no run in progress"},
	}
	for _, tt := range tests {
		if err := c.WriteMessage(tt.kind, []byte(tt.msg)); err != nil {
			t.Fatalf("send %q: %v", tt.msg, err)
		}
		m := expect(t, c, MsgError)
		if !strings.Contains(m.Error, tt.want) {
			t.Errorf("message %q: error %q, want it to contain %q", tt.msg, m.Error, tt.want)
		}
		if m.Run != 0 {
			t.Errorf("message %q: error carries run %d, want none", tt.msg, m.Run)
		}
	}
	// Still usable: a valid run starts.
	send(t, c, Message{Type: MsgRun, Scenario: "deadlock-cross-wait", Variant: "fixed"})
	if m := expect(t, c, MsgStarted); m.Run != 1 || m.Variant != "fixed" {
		t.Errorf("started %+v, want run 1 of variant fixed", m)
	}
}

// TestOversizedMessage sends 1 MiB: the server closes with 1009 and keeps
// serving other connections.
func TestOversizedMessage(t *testing.T) {
	_, ts := newTestServer(t, Options{Run: newBlockingRun().run})
	c := dial(t, ts)
	big := `{"type":"run","scenario":"` + strings.Repeat("x", 1<<20) + `"}`
	if err := c.WriteMessage(websocket.TextMessage, []byte(big)); err != nil {
		t.Fatalf("send 1 MiB: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(readTimeout))
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Errorf("after 1 MiB: %v, want close 1009 (message too big)", err)
	}

	// A message just under the limit is read (and refused as unknown).
	c2 := dial(t, ts)
	ok := `{"type":"run","scenario":"` + strings.Repeat("x", maxMessageSize-64) + `"}`
	if err := c2.WriteMessage(websocket.TextMessage, []byte(ok)); err != nil {
		t.Fatal(err)
	}
	if m := expect(t, c2, MsgError); !strings.Contains(m.Error, "unknown scenario") {
		t.Errorf("message under the limit: %q, want unknown scenario", m.Error)
	}
}

// TestCancel cancels a run that would never end on its own.
func TestCancel(t *testing.T) {
	runs := newBlockingRun()
	_, ts := newTestServer(t, Options{Run: runs.run})
	c := dial(t, ts)
	send(t, c, Message{Type: MsgRun, Scenario: "deadlock-cross-wait"})
	started := expect(t, c, MsgStarted)
	if started.Run != 1 || started.Scenario != "deadlock-cross-wait" || started.Variant != "broken" {
		t.Errorf("started %+v, want run 1 of deadlock-cross-wait/broken", started)
	}
	opt := <-runs.started
	if opt.Scenario != "deadlock-cross-wait" || opt.Variant != "broken" {
		t.Errorf("Run got %+v, want deadlock-cross-wait/broken", opt)
	}
	begin := time.Now()
	send(t, c, Message{Type: MsgCancel})
	end := expect(t, c, MsgEnd)
	if !end.Cancelled || end.Run != 1 || !strings.Contains(end.Error, "cancelled") {
		t.Errorf("end %+v, want run 1 cancelled", end)
	}
	if err := <-runs.ended; !errors.Is(err, context.Canceled) {
		t.Errorf("run's context ended with %v, want context.Canceled", err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("cancel took %v", d)
	}
}

// TestNewRunCancelsPrevious starts a run while one is in progress: the old
// one ends (cancelled) before the new one starts.
func TestNewRunCancelsPrevious(t *testing.T) {
	runs := newBlockingRun()
	_, ts := newTestServer(t, Options{Run: runs.run})
	c := dial(t, ts)
	send(t, c, Message{Type: MsgRun, Scenario: "deadlock-cross-wait"})
	expect(t, c, MsgStarted)
	<-runs.started
	send(t, c, Message{Type: MsgRun, Scenario: "deadlock-cross-wait", Variant: "fixed"})
	if m := expect(t, c, MsgEnd); m.Run != 1 || !m.Cancelled {
		t.Errorf("first message after the second run: %+v, want the end of run 1, cancelled", m)
	}
	if m := expect(t, c, MsgStarted); m.Run != 2 || m.Variant != "fixed" {
		t.Errorf("started %+v, want run 2 of variant fixed", m)
	}
	select {
	case err := <-runs.ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("run 1 ended with %v", err)
		}
	default:
		t.Error("run 2 started before run 1 ended")
	}
	if opt := <-runs.started; opt.Variant != "fixed" {
		t.Errorf("second Run got variant %q, want fixed", opt.Variant)
	}
}

// TestCloseMidRun closes the connection while a run is in progress: the
// run is cancelled and nothing of the session is left.
func TestCloseMidRun(t *testing.T) {
	runs := newBlockingRun()
	s, ts := newTestServer(t, Options{Run: runs.run})
	c := dial(t, ts)
	send(t, c, Message{Type: MsgRun, Scenario: "deadlock-cross-wait"})
	expect(t, c, MsgStarted)
	<-runs.started
	c.Close()
	select {
	case err := <-runs.ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("run ended with %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("closing the connection did not cancel the run")
	}
	s.wg.Wait()
	ts.Close()
	goleak.VerifyNone(t)
}

// TestServerClose checks that Close ends open sockets and their runs, and
// refuses new sockets.
func TestServerClose(t *testing.T) {
	runs := newBlockingRun()
	s, ts := newTestServer(t, Options{Run: runs.run})
	c := dial(t, ts)
	send(t, c, Message{Type: MsgRun, Scenario: "deadlock-cross-wait"})
	expect(t, c, MsgStarted)
	<-runs.started
	s.Close()
	select {
	case <-runs.ended:
	default:
		t.Error("Close returned with the run still going")
	}
	c.SetReadDeadline(time.Now().Add(readTimeout))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
				t.Errorf("after Close: %v, want close 1001", err)
			}
			break
		}
	}
	h := http.Header{"Origin": {"http://localhost:" + port(ts)}}
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+strings.TrimPrefix(ts.URL, "http://")+"/ws", h)
	if resp == nil || resp.StatusCode != 503 {
		t.Errorf("websocket after Close: %v %v, want 503", resp, err)
	}
}

// TestSocketCap opens more sockets than the cap allows.
func TestSocketCap(t *testing.T) {
	_, ts := newTestServer(t, Options{MaxSockets: 2})
	dial(t, ts)
	dial(t, ts)
	h := http.Header{"Origin": {"http://localhost:" + port(ts)}}
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+strings.TrimPrefix(ts.URL, "http://")+"/ws", h)
	if resp == nil || resp.StatusCode != 503 {
		t.Errorf("third websocket with a cap of 2: %v %v, want 503", resp, err)
	}
}

// floodRun is a Run seam that sends many large updates as fast as it can,
// then ends. It records how long the updates took to hand over: the socket
// must never hold a run up.
type floodRun struct {
	n       int
	handed  chan time.Duration
	release chan struct{}
}

// floodUpdate is update i of the flood: goroutine 1's open span closes and
// a new one opens; every other update also changes goroutine 2 from its
// first span on, and each brings a stack, a link and a log.
func floodUpdate(i int) *tracer.Update {
	pad := strings.Repeat("r", 4<<10)
	u := &tracer.Update{
		Generation: i + 1,
		Now:        int64(i + 1),
		StackBase:  i,
		Stacks:     []tracer.Stack{{Frames: []tracer.Location{{Func: "f" + strconv.Itoa(i)}}, User: 0}},
		Links:      []tracer.Link{{Kind: tracer.LinkWake, From: 1, To: 2, Time: int64(i), Stack: i}},
		Logs:       []tracer.LogEntry{{Time: int64(i), G: 1, Category: "i", Message: strconv.Itoa(i)}},
	}
	var spans []tracer.Span
	from := 0
	if i > 0 {
		from = i - 1
		spans = append(spans, tracer.Span{Start: int64(i - 1), End: int64(i), State: tracer.StateRunning, Reason: pad, Stack: i - 1})
	}
	spans = append(spans, tracer.Span{Start: int64(i), End: tracer.Open, State: tracer.StateBlockedRecv, Reason: pad, Stack: i})
	u.Goroutines = append(u.Goroutines, tracer.GoroutineDelta{ID: 1, Name: "main.main", FromSpan: from, Spans: spans})
	if i%2 == 0 {
		u.Goroutines = append(u.Goroutines, tracer.GoroutineDelta{ID: 2, Name: "main.worker", Parent: 1, FromSpan: 0,
			Spans: []tracer.Span{{Start: 0, End: tracer.Open, State: tracer.StateSleep, Reason: strconv.Itoa(i), Stack: i}}})
	}
	// A hidden goroutine, which must not reach the client, with a link.
	u.Goroutines = append(u.Goroutines, tracer.GoroutineDelta{ID: 99, Name: "harness", Hidden: true, FromSpan: i,
		Spans: []tracer.Span{{Start: int64(i), End: tracer.Open, State: tracer.StateRunning}}})
	u.Links = append(u.Links, tracer.Link{Kind: tracer.LinkWake, From: 99, To: 1, Time: int64(i)})
	return u
}

func (f *floodRun) run(ctx context.Context, opt tracer.RunOptions) (*tracer.Result, error) {
	begin := time.Now()
	for i := range f.n {
		opt.OnUpdate(floodUpdate(i))
	}
	f.handed <- time.Since(begin)
	select {
	case <-f.release:
	case <-ctx.Done():
	}
	return &tracer.Result{Report: &tracer.Report{Outcome: "ok"}, Timeline: &tracer.Timeline{}}, nil
}

// view is what a page builds from updates, reduced to what the tests
// compare.
type view struct {
	spans  map[int64][]tracer.Span
	stacks int
	links  []tracer.Link
	logs   []tracer.LogEntry
	now    int64
}

func newView() *view { return &view{spans: map[int64][]tracer.Span{}} }

// apply applies an update as the page does, checking the invariants the
// protocol promises.
func (v *view) apply(t *testing.T, u *tracer.Update) {
	t.Helper()
	if u.StackBase != v.stacks {
		t.Fatalf("update at generation %d: stack_base %d, want %d", u.Generation, u.StackBase, v.stacks)
	}
	v.stacks += len(u.Stacks)
	for _, d := range u.Goroutines {
		have := v.spans[d.ID]
		if d.FromSpan > len(have) {
			t.Fatalf("goroutine %d: from_span %d beyond the %d spans the view has", d.ID, d.FromSpan, len(have))
		}
		v.spans[d.ID] = append(have[:d.FromSpan:d.FromSpan], d.Spans...)
	}
	v.links = append(v.links, u.Links...)
	v.logs = append(v.logs, u.Logs...)
	v.now = u.Now
}

// TestSlowClientCoalesces floods a client that is not reading: the run
// hands its updates over at once, and the client, once it reads, builds the
// same view as from every update one by one.
func TestSlowClientCoalesces(t *testing.T) {
	const n = 2000
	f := &floodRun{n: n, handed: make(chan time.Duration, 1), release: make(chan struct{})}
	_, ts := newTestServer(t, Options{Run: f.run})
	c := dial(t, ts)
	send(t, c, Message{Type: MsgRun, Scenario: "deadlock-cross-wait"})
	// Do not read until every update is handed over: about 16 MB of
	// updates, far more than the socket buffers hold.
	select {
	case d := <-f.handed:
		t.Logf("%d updates handed over in %v while the client read nothing", n, d)
		if d > 5*time.Second {
			t.Errorf("handing over %d updates took %v: the socket held the run up", n, d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the run was blocked by a client that does not read")
	}
	close(f.release)

	want := newView()
	hidden := map[int64]bool{}
	for i := range n {
		want.apply(t, filterUpdate(floodUpdate(i), false, hidden))
	}
	got := newView()
	expect(t, c, MsgStarted)
	updates := 0
	for {
		m := read(t, c)
		if m.Type == MsgEnd {
			break
		}
		if m.Type != MsgUpdate {
			t.Fatalf("got %+v, want an update or the end", m)
		}
		updates++
		for _, d := range m.Update.Goroutines {
			if d.Hidden || d.ID == 99 {
				t.Fatalf("hidden goroutine %d reached the client", d.ID)
			}
		}
		got.apply(t, m.Update)
	}
	t.Logf("%d updates arrived as %d messages", n, updates)
	if updates >= n {
		t.Errorf("%d updates arrived as %d messages: nothing was merged", n, updates)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the merged updates built a different view: %d goroutines, %d stacks, %d links, now %d; want %d, %d, %d, %d",
			len(got.spans), got.stacks, len(got.links), got.now, len(want.spans), want.stacks, len(want.links), want.now)
	}
	if len(want.links) != n || len(want.spans[1]) != n {
		t.Errorf("want view has %d links and %d spans of goroutine 1, want %d each", len(want.links), len(want.spans[1]), n)
	}
}

// TestSlowClientDropped runs one scenario after another, each ending in a
// large end message, for a client that reads nothing: once the socket
// buffers and then the send queue are full, the server drops the
// connection instead of waiting for the client.
func TestSlowClientDropped(t *testing.T) {
	dropped := make(chan struct{})
	var once sync.Once
	big := &tracer.Timeline{Warnings: []string{strings.Repeat("w", 256<<10)}}
	called := make(chan struct{}, 1)
	s, ts := newTestServer(t, Options{
		Run: func(ctx context.Context, opt tracer.RunOptions) (*tracer.Result, error) {
			called <- struct{}{}
			return &tracer.Result{Report: &tracer.Report{Outcome: "ok"}, Timeline: big}, nil
		},
		Logf: func(format string, args ...any) {
			if strings.Contains(format, "reads too slowly") {
				once.Do(func() { close(dropped) })
			}
			t.Logf(format, args...)
		},
	})
	c := dial(t, ts)
	runs := 0
loop:
	for ; runs < 2000; runs++ {
		if err := c.WriteJSON(Message{Type: MsgRun, Scenario: "deadlock-cross-wait"}); err != nil {
			break
		}
		select {
		case <-called:
		case <-dropped:
			break loop
		case <-time.After(10 * time.Second):
			t.Fatalf("run %d was not started: the session is stuck", runs+1)
		}
	}
	select {
	case <-dropped:
	case <-time.After(10 * time.Second):
		t.Fatalf("a client that reads nothing was not dropped after %d runs", runs)
	}
	t.Logf("dropped after %d runs of 256 KiB each", runs)
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the dropped client's session did not end")
	}
	// What was written before the drop can still be read, then the
	// connection ends.
	c.SetReadDeadline(time.Now().Add(readTimeout))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			break
		}
	}
}

// childPIDs lists the processes whose parent is this test process, so that
// tests of real runs can check that no child outlives its run.
func childPIDs(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc to list child processes: %v", err)
	}
	me := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command name, which is in parentheses.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(me) {
			pids = append(pids, pid)
		}
	}
	return pids
}
