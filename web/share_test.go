package web

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	qr "github.com/piglig/go-qr"

	"github.com/concviz/concviz/tracer"
)

// countingRun is a Run seam that counts the runs it was asked for and sends
// n updates before it ends: the tests of the room check who may start a
// run, never what a run shows (run_test.go does that with real children).
type countingRun struct {
	calls atomic.Int64
	n     int
	// release, if set, holds the run open until it is closed.
	release chan struct{}
}

func (c *countingRun) run(ctx context.Context, opt tracer.RunOptions) (*tracer.Result, error) {
	c.calls.Add(1)
	for i := range c.n {
		opt.OnUpdate(floodUpdate(i))
	}
	if c.release != nil {
		select {
		case <-c.release:
		case <-ctx.Done():
		}
	}
	return &tracer.Result{Report: &tracer.Report{Outcome: "ok"}, Timeline: &tracer.Timeline{Duration: int64(c.n)}}, nil
}

func newShared(t *testing.T, opt Options) (*Server, *httptest.Server, *Share) {
	t.Helper()
	sh, err := NewShare()
	if err != nil {
		t.Fatal(err)
	}
	opt.Share = sh
	s, ts := newTestServer(t, opt)
	return s, ts, sh
}

func cookie(tok string) http.Header {
	return http.Header{"Cookie": {keyCookie + "=" + tok}}
}

// dialAs opens a websocket as the page of a browser that joined with tok.
func dialAs(t *testing.T, ts *httptest.Server, tok string) *websocket.Conn {
	t.Helper()
	host := strings.TrimPrefix(ts.URL, "http://")
	h := cookie(tok)
	h.Set("Origin", "http://localhost:"+port(ts))
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+host+"/ws", h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial as %.6s...: %v (status %d)", tok, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialViewer opens a viewer's websocket as its page does: it reads who it
// is, then asks for the room's state.
func dialViewer(t *testing.T, ts *httptest.Server, tok string) *websocket.Conn {
	t.Helper()
	c := dialAs(t, ts, tok)
	send(t, c, Message{Type: MsgSync})
	if m := expect(t, c, MsgRoom); m.Room == nil || m.Room.Role != "viewer" {
		t.Fatalf("first message %+v, want the viewer's room", m)
	}
	return c
}

func TestNewShareTokens(t *testing.T) {
	a, err := NewShare()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewShare()
	for _, tok := range []string{a.PresenterToken, a.ViewerToken} {
		if len(tok) != 2*tokenBytes {
			t.Errorf("token %q has %d characters, want %d", tok, len(tok), 2*tokenBytes)
		}
	}
	if a.PresenterToken == a.ViewerToken || a.PresenterToken == b.PresenterToken || a.ViewerToken == b.ViewerToken {
		t.Errorf("tokens repeat: %+v %+v", a, b)
	}
}

// TestNotSharedUnchanged: without --share, no token is asked for and the
// local user is the presenter.
func TestNotSharedUnchanged(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	for _, p := range []string{"/", "/api/scenarios", "/api/room"} {
		resp, body := get(t, ts, "GET", "", p, nil)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d %.100s", p, resp.StatusCode, body)
		}
	}
	_, body := get(t, ts, "GET", "", "/api/room", nil)
	var info RoomInfo
	json.Unmarshal([]byte(body), &info)
	if info.Role != "presenter" || info.Shared || info.ViewerURL != "" || info.Session == nil {
		t.Errorf("room of an unshared server: %+v", info)
	}
	resp, _ := get(t, ts, "GET", "", "/join?key=x", nil)
	if resp.StatusCode != 404 {
		t.Errorf("/join on an unshared server: %d, want 404", resp.StatusCode)
	}
}

// TestShareJoin: a link's key becomes a cookie; a wrong key or none gets
// nothing.
func TestShareJoin(t *testing.T) {
	_, ts, sh := newShared(t, Options{})
	client := *ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, tc := range []struct {
		key    string
		status int
	}{{sh.PresenterToken, 303}, {sh.ViewerToken, 303}, {"", 403}, {sh.ViewerToken + "0", 403}, {strings.ToUpper(sh.ViewerToken), 403}} {
		resp, err := client.Get(ts.URL + "/join?key=" + tc.key)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("join with %q: %d, want %d", tc.key, resp.StatusCode, tc.status)
			continue
		}
		if tc.status != 303 {
			if len(resp.Cookies()) != 0 {
				t.Errorf("join with a wrong key set a cookie")
			}
			continue
		}
		cs := resp.Cookies()
		if len(cs) != 1 || cs[0].Name != keyCookie || cs[0].Value != tc.key || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode {
			t.Errorf("join cookie %+v", cs)
		}
		if loc := resp.Header.Get("Location"); loc != "/" {
			t.Errorf("join redirects to %q, want /", loc)
		}
	}
	for _, p := range []string{"/", "/app.js", "/api/scenarios", "/api/room", "/ws"} {
		for _, h := range []http.Header{nil, cookie("nope")} {
			resp, _ := get(t, ts, "GET", "", p, h)
			if resp.StatusCode != 403 {
				t.Errorf("GET %s without a valid token: %d, want 403", p, resp.StatusCode)
			}
		}
	}
}

// TestViewerRoutes checks every route of the server as a viewer: the ones
// that read what the presenter shows answer, every other one is refused
// before it acts, and the presenter gets them all.
func TestViewerRoutes(t *testing.T) {
	_, ts, sh := newShared(t, Options{})
	for _, tc := range []struct {
		method, path string
		viewerOK     bool
	}{
		{"GET", "/", true},
		{"GET", "/app.js", true},
		{"GET", "/api/scenarios", true},
		{"GET", "/api/scenarios/deadlock-cross-wait/source", true},
		{"GET", "/api/scenarios/deadlock-cross-wait/diff", true},
		{"GET", "/api/states", true},
		{"GET", "/api/room", true},
		{"GET", "/api/room/qr.svg", true},
		// A recording by id is the presenter's side by side; this one
		// does not exist, and the answer says so rather than refusing.
		{"GET", "/api/recordings/r1", true},
		{"GET", "/api/recordings/r1/file", true},
		{"POST", "/api/recordings?name=x.trace", false},
		{"GET", "/api/recordings", false},
		{"GET", "/api/recordings/", false},
		{"GET", "/api/recordings/r1/source?file=/etc/passwd", false},
		{"GET", "/api/recordings/r1/other", false},
		{"GET", "/api/start", false},
		{"GET", "/api/scenarios/deadlock-cross-wait/source/../../../recordings", false},
		{"GET", "/api/anything-added-later", false},
		{"GET", "/anything-added-later", false},
		{"GET", "/pprof/r1/top", false},
		{"GET", "/join/../api/recordings", false},
		{"POST", "/api/room", false},
		{"PUT", "/", false},
		{"DELETE", "/api/recordings/r1", false},
	} {
		h := cookie(sh.ViewerToken)
		if tc.method == "POST" {
			h.Set("Sec-Fetch-Site", "same-origin")
		}
		resp, body := get(t, ts, tc.method, "", tc.path, h)
		refused := resp.StatusCode == 403 && strings.Contains(body, "viewer")
		if tc.viewerOK && (resp.StatusCode >= 500 || resp.StatusCode == 403) {
			t.Errorf("viewer %s %s: %d %.120s, want an answer", tc.method, tc.path, resp.StatusCode, body)
		}
		if !tc.viewerOK && !refused {
			t.Errorf("viewer %s %s: %d %.120s, want 403 for viewers", tc.method, tc.path, resp.StatusCode, body)
		}
		presp, pbody := get(t, ts, tc.method, "", tc.path, cookie(sh.PresenterToken))
		if presp.StatusCode == 403 {
			t.Errorf("presenter %s %s: 403 %.120s", tc.method, tc.path, pbody)
		}
	}

	// What each role learns about the room.
	var v, p RoomInfo
	_, body := get(t, ts, "GET", "", "/api/room", cookie(sh.ViewerToken))
	json.Unmarshal([]byte(body), &v)
	_, body = get(t, ts, "GET", "", "/api/room", cookie(sh.PresenterToken))
	json.Unmarshal([]byte(body), &p)
	if v.Role != "viewer" || v.Session != nil || v.ViewerURL != "" {
		t.Errorf("viewer's room: %+v, want the role without notes or links", v)
	}
	if p.Role != "presenter" || p.Session == nil || !strings.Contains(p.ViewerURL, sh.ViewerToken) {
		t.Errorf("presenter's room: %+v", p)
	}
	if strings.Contains(body, sh.PresenterToken) {
		t.Errorf("the room answer carries the presenter token")
	}
}

// TestViewerCannotRun sends every message kind a client may send over a
// viewer's websocket: none starts a process, each refused one gets an
// error, and the connection stays usable.
func TestViewerCannotRun(t *testing.T) {
	cr := &countingRun{}
	_, ts, sh := newShared(t, Options{Run: cr.run})
	c := dialViewer(t, ts, sh.ViewerToken)
	for _, m := range []Message{
		{Type: MsgRun, Scenario: "deadlock-cross-wait"},
		{Type: MsgRun, Scenario: "deadlock-cross-wait", Variant: "fixed", Hidden: true},
		{Type: MsgCancel},
		{Type: MsgView, View: json.RawMessage(`{"scenario":"x"}`)},
		{Type: MsgPoll, Poll: &Poll{ID: "p", Options: []string{"a"}}},
		{Type: MsgStarted, Scenario: "deadlock-cross-wait"},
		{Type: MsgTally},
		{Type: "open"},
		{Type: ""},
		{Type: MsgVote, Poll: &Poll{ID: "none"}, Choice: "a"},
	} {
		send(t, c, m)
		if r := expect(t, c, MsgError); r.Error == "" {
			t.Errorf("%s: empty error", m.Type)
		}
	}
	c.WriteMessage(websocket.TextMessage, []byte(`{"type":"run","scenario":`))
	expect(t, c, MsgError)
	if n := cr.calls.Load(); n != 0 {
		t.Fatalf("a viewer's messages started %d runs", n)
	}

	// The presenter's socket does run.
	p := dialAs(t, ts, sh.PresenterToken)
	expect(t, p, MsgRoom)
	send(t, p, Message{Type: MsgRun, Scenario: "deadlock-cross-wait"})
	expect(t, p, MsgStarted)
	expect(t, p, MsgEnd)
	if n := cr.calls.Load(); n != 1 {
		t.Fatalf("the presenter's run message made %d runs, want 1", n)
	}
}

// readUntil reads messages until one of type typ, returning all of them.
func readUntil(t *testing.T, c *websocket.Conn, typ string) []Message {
	t.Helper()
	var out []Message
	for {
		m := read(t, c)
		out = append(out, m)
		if m.Type == typ {
			return out
		}
	}
}

// TestRoomFollows: viewers receive the presenter's run (every update,
// building the same view as the presenter's page), its view and polls; a
// late joiner gets the state at once; votes reach the presenter's tally.
func TestRoomFollows(t *testing.T) {
	const n = 40
	cr := &countingRun{n: n, release: make(chan struct{})}
	_, ts, sh := newShared(t, Options{Run: cr.run})
	p := dialAs(t, ts, sh.PresenterToken)
	expect(t, p, MsgRoom)
	v1 := dialViewer(t, ts, sh.ViewerToken)
	if m := expect(t, p, MsgRoom); m.Room.Viewers != 1 {
		t.Errorf("presenter told %d viewers, want 1", m.Room.Viewers)
	}

	send(t, p, Message{Type: MsgRun, Scenario: "deadlock-cross-wait"})
	started := expect(t, v1, MsgStarted)
	if started.Scenario != "deadlock-cross-wait" || started.Variant != "broken" || started.Run != 1 {
		t.Errorf("viewer's started: %+v", started)
	}
	want := newView()
	hidden := map[int64]bool{}
	for i := range n {
		want.apply(t, filterUpdate(floodUpdate(i), false, hidden))
	}
	got := newView()
	for got.now != want.now {
		m := expect(t, v1, MsgUpdate)
		got.apply(t, m.Update)
	}
	if got.stacks != want.stacks || len(got.links) != len(want.links) || len(got.spans[1]) != len(want.spans[1]) {
		t.Errorf("viewer's view: %d stacks %d links %d spans, want %d %d %d", got.stacks, len(got.links), len(got.spans[1]), want.stacks, len(want.links), len(want.spans[1]))
	}

	// A late joiner, mid-run, gets the run so far at once.
	v2 := dialViewer(t, ts, sh.ViewerToken)
	expect(t, v2, MsgStarted)
	late := newView()
	for late.now != want.now {
		late.apply(t, expect(t, v2, MsgUpdate).Update)
	}
	if late.stacks != want.stacks || len(late.links) != len(want.links) {
		t.Errorf("late joiner's view: %d stacks %d links, want %d %d", late.stacks, len(late.links), want.stacks, len(want.links))
	}
	close(cr.release)
	for _, c := range []*websocket.Conn{v1, v2} {
		end := readUntil(t, c, MsgEnd)
		if e := end[len(end)-1]; e.Report == nil || e.Report.Outcome != "ok" || e.Run != 1 {
			t.Errorf("viewer's end: %+v", e)
		}
	}

	// The view, as the page writes it, reaches the viewers unchanged.
	view := json.RawMessage(`{"scenario":"deadlock-cross-wait","cursor":12345,"selected":24}`)
	send(t, p, Message{Type: MsgView, View: view})
	for _, c := range []*websocket.Conn{v1, v2} {
		m := readUntil(t, c, MsgView)
		if got := m[len(m)-1].View; !bytes.Equal(got, view) {
			t.Errorf("viewer's view %s, want %s", got, view)
		}
	}

	// A poll: viewers see it, vote, the presenter sees the tally.
	send(t, p, Message{Type: MsgPoll, Poll: &Poll{ID: "q1", Question: "What will happen?", Options: []string{"deadlock", "ok"}}})
	readUntil(t, p, MsgTally)
	for i, c := range []*websocket.Conn{v1, v2} {
		m := readUntil(t, c, MsgPoll)
		if m[len(m)-1].Poll == nil || m[len(m)-1].Poll.ID != "q1" {
			t.Fatalf("viewer %d: poll %+v", i, m[len(m)-1])
		}
	}
	send(t, v1, Message{Type: MsgVote, Poll: &Poll{ID: "q1"}, Choice: "deadlock"})
	send(t, v2, Message{Type: MsgVote, Poll: &Poll{ID: "q1"}, Choice: "ok"})
	send(t, v2, Message{Type: MsgVote, Poll: &Poll{ID: "q1"}, Choice: "deadlock"}) // a change of mind
	var tally *Tally
	for tally == nil || tally.Voters < 2 || tally.Counts["deadlock"] < 2 {
		tally = readUntil(t, p, MsgTally)[0].Tally
		if tally == nil {
			t.Fatal("tally message without a tally")
		}
	}
	if tally.Counts["deadlock"] != 2 || tally.Counts["ok"] != 0 || tally.Viewers != 2 {
		t.Errorf("tally %+v, want 2 votes for deadlock of 2 viewers", tally)
	}
	send(t, v1, Message{Type: MsgVote, Poll: &Poll{ID: "q1"}, Choice: "rm -rf"})
	expect(t, v1, MsgError)

	// A third joiner after the run gets its end, the view and the poll.
	v3 := dialViewer(t, ts, sh.ViewerToken)
	kinds := []string{}
	for _, m := range readUntil(t, v3, MsgPoll) {
		kinds = append(kinds, m.Type)
	}
	if got, want := strings.Join(kinds, " "), "started end view poll"; got != want {
		t.Errorf("late joiner after the run got %q, want %q", got, want)
	}
	if n := cr.calls.Load(); n != 1 {
		t.Errorf("%d runs, want the presenter's 1", n)
	}
}

// TestStalledViewerDropped: a viewer that stops reading stops answering
// pings and is dropped within seconds, while another viewer keeps getting
// every message of a live run.
func TestStalledViewerDropped(t *testing.T) {
	dropped := make(chan time.Time, 1)
	cr := &countingRun{n: 1, release: make(chan struct{})}
	s, ts, sh := newShared(t, Options{Run: cr.run})
	p := dialAs(t, ts, sh.PresenterToken)
	expect(t, p, MsgRoom)
	stalled := dialAs(t, ts, sh.ViewerToken) // never read again
	live := dialViewer(t, ts, sh.ViewerToken)
	begin := time.Now()
	go func() {
		// Until the room lets go of it, the stalled viewer counts.
		for s.room.viewerCount() > 1 {
			time.Sleep(20 * time.Millisecond)
		}
		dropped <- time.Now()
	}()
	send(t, p, Message{Type: MsgRun, Scenario: "deadlock-cross-wait"})
	expect(t, live, MsgStarted)
	for i := 0; i < 30; i++ {
		send(t, p, Message{Type: MsgView, View: json.RawMessage(`{"cursor":` + string(rune('0'+i%10)) + `}`)})
		readUntil(t, live, MsgView)
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case at := <-dropped:
		t.Logf("stalled viewer dropped after %v", at.Sub(begin).Round(time.Millisecond))
		if d := at.Sub(begin); d > viewerPongWait+2*time.Second {
			t.Errorf("dropped after %v, want within %v", d, viewerPongWait+2*time.Second)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a viewer that reads nothing was not dropped")
	}
	close(cr.release)
	stalled.Close()
}

// TestQR: the codes the server draws hold the viewer link.
func TestQR(t *testing.T) {
	_, ts, sh := newShared(t, Options{})
	resp, body := get(t, ts, "GET", "", "/api/room/qr.svg", cookie(sh.PresenterToken))
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "image/svg+xml") || !strings.Contains(body, "<path") {
		t.Fatalf("qr.svg: %d %s %.80s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	// Decode the same module grid the SVG draws, as a phone would.
	link := JoinURL(ts.URL, sh.ViewerToken)
	code, err := qr.EncodeText(link, qr.Medium)
	if err != nil {
		t.Fatal(err)
	}
	text, err := qr.Decode(moduleImage(code, 8))
	if err != nil || text != link {
		t.Errorf("decoded %q, %v; want %q", text, err, link)
	}
	term, err := TerminalQR(link)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(term), "\n")
	if len(lines) < (code.Size()+1)/2 || !strings.Contains(term, "█") {
		t.Errorf("terminal QR of %d lines for a code of %d modules", len(lines), code.Size())
	}
}

// moduleImage draws a code as an image with a quiet zone, module by module.
func moduleImage(code *qr.QrCode, scale int) image.Image {
	n := code.Size()
	img := image.NewGray(image.Rect(0, 0, (n+8)*scale, (n+8)*scale))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for y := range n {
		for x := range n {
			if !code.Module(x, y) {
				continue
			}
			for dy := range scale {
				for dx := range scale {
					img.SetGray((x+4)*scale+dx, (y+4)*scale+dy, color.Gray{})
				}
			}
		}
	}
	return img
}

func TestParseSession(t *testing.T) {
	ps, err := ParseSession([]byte(`{"title":"Week 3","scenarios":[{"id":"deadlock-cross-wait","notes":"mine"},{"id":"leak-unread-result"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps.Scenarios) != 2 || ps.Scenarios[0].Notes != "mine" || ps.Scenarios[1].Notes != Notes()["leak-unread-result"] || ps.Scenarios[1].Notes == "" {
		t.Errorf("session %+v", ps)
	}
	for _, bad := range []string{`{}`, `{"scenarios":[{"id":"nope"}]}`, `{"scenarios":[{"id":"deadlock-cross-wait","speed":2}]}`, `[`} {
		if _, err := ParseSession([]byte(bad)); err == nil {
			t.Errorf("ParseSession(%s) succeeded", bad)
		}
	}
	for id := range Notes() {
		if _, err := ParseSession([]byte(`{"scenarios":[{"id":"` + id + `"}]}`)); err != nil {
			t.Errorf("built-in notes name an unknown scenario: %v", err)
		}
	}
}

// TestShareHosts: a shared server answers to the machine's own addresses
// (here one given in Hosts, as viz serve --share adds them), still refuses
// other names whatever the cookie, since DNS rebinding needs a name.
func TestShareHosts(t *testing.T) {
	_, ts, sh := newShared(t, Options{Hosts: []string{"192.0.2.7"}})
	for _, tc := range []struct {
		host string
		want int
	}{
		{"192.0.2.7:" + port(ts), 200},
		{"127.0.0.1:" + port(ts), 200},
		{"evil.test:" + port(ts), 403},
		{"192.0.2.7.evil.test:" + port(ts), 403},
		{"192.0.2.7:1", 403},
	} {
		resp, body := get(t, ts, "GET", tc.host, "/api/scenarios", cookie(sh.ViewerToken))
		if resp.StatusCode != tc.want {
			t.Errorf("Host %s: %d %.80s, want %d", tc.host, resp.StatusCode, body, tc.want)
		}
	}
}
