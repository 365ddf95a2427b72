package web

// Hardening tests of the server against hostile peers: requests that name
// another host, pages of other sites, oversized and silent websocket
// clients, connection churn, slow headers and shutdown. Each prints the
// figure it measures with t.Logf; none asserts a duration except as a bound
// well past the deadline under test.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/concviz/concviz/tracer"
)

// staticPaths are files of the embedded UI, fetched by the checks that
// apply to every route: the file server is a route like any other.
var staticPaths = []string{"/", "/app.js", "/style.css", "/favicon.svg", "/timeline.js"}

// apiPaths are the API's routes.
var apiPaths = []string{"/api/scenarios", "/api/scenarios/deadlock-cross-wait/source", "/api/scenarios/deadlock-cross-wait/diff",
	"/api/states", "/api/start", "/api/recordings", "/api/recordings/0123456789abcdef", "/api/room", "/api/big", "/api/big/1", "/api/big/1/window", "/api/big/1/lanes", "/api/big/1/lanes?match=G1", "/api/big/1/window?match=worker", "/api/big/1/stacks/0",
	"/api/nothing-here", "/pprof/0123456789abcdef/"}

// rawRequest sends raw bytes as an HTTP request to addr and returns the
// response, its body read. It can send what http.Client cannot: no Host,
// an empty Host, a Host that is not a host at all.
func rawRequest(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("write request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response to %q: %v", raw, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// checkRouteHeaders checks the security headers of an answer of path. The
// pages of pprof's own web UI (under /pprof/) need inline scripts and
// styles, so their policy allows them; everything else about framing,
// sniffing, plugins and referrers is the same as on every route.
func checkRouteHeaders(path string, h http.Header) error {
	if !strings.HasPrefix(path, "/pprof/") || h.Get("Content-Security-Policy") == "" {
		return checkSecurityHeaders(h)
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			return fmt.Errorf("pprof page: CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-eval") {
		return fmt.Errorf("pprof page: CSP allows eval: %q", csp)
	}
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
		if h.Get(k) != v {
			return fmt.Errorf("pprof page: header %s = %q, want %q", k, h.Get(k), v)
		}
	}
	return nil
}

// TestHostEveryRoute sends the Host values of DNS-rebinding attacks to
// every route, static files and the websocket included. A refused request
// never reaches a handler (the body is the refusal), and every answer,
// refusal or not, carries the security headers.
func TestHostEveryRoute(t *testing.T) {
	runs := newBlockingRun()
	_, ts := newTestServer(t, Options{Run: runs.run})
	addr := ts.Listener.Addr().String()
	p := port(ts)
	wrong := "1"
	if p == "1" {
		wrong = "2"
	}
	hosts := []struct {
		host string // the Host header's value, sent as it is
		ok   bool
	}{
		{"127.0.0.1:" + p, true},
		{"localhost:" + p, true},
		{"[::1]:" + p, true},
		{"evil.test", false},
		{"evil.test:" + p, false},
		{"localhost.evil.test:" + p, false},
		{"127.0.0.1.nip.io:" + p, false},
		{"127.0.0.1.evil.test:" + p, false},
		{"localhost:" + wrong, false},
		{"127.0.0.1:" + wrong, false},
		{"127.0.0.1", false}, // port 80 implied
		{"localhost:" + p + "0", false},
		{"", false},
		{"[::1]:" + wrong, false},
		{"[::1]", false},
		{"::1:" + p, false}, // no brackets: not a host and port
		{"[::ffff:127.0.0.1]:" + p, false},
		{"[0:0:0:0:0:0:0:1]:" + p, false},
		{"[::1%25lo]:" + p, false},
		{"[::1]evil.test:" + p, false},
		{"0.0.0.0:" + p, false},
		{"127.1:" + p, false},
		{"2130706433:" + p, false}, // 127.0.0.1 as one decimal number
	}
	// Host values that net/http itself refuses as malformed (400), before
	// any handler: they reach nothing of ours.
	malformed := []string{
		"localhost:" + p + "@evil.test",
		"localhost:" + p + "\r\nHost: evil.test:" + p, // two Host headers
		"local host:" + p,
	}
	paths := append(append(append([]string(nil), staticPaths...), apiPaths...), "/ws")
	refused := 0
	for _, h := range hosts {
		for _, path := range paths {
			header := ""
			if path == "/ws" {
				// A complete handshake from our own page: only the
				// Host decides.
				header = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
					"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://localhost:" + p + "\r\n"
			}
			raw := "GET " + path + " HTTP/1.1\r\nHost: " + h.host + "\r\n" + header + "Connection: close\r\n\r\n"
			if path == "/ws" {
				raw = "GET " + path + " HTTP/1.1\r\nHost: " + h.host + "\r\n" + header + "\r\n"
			}
			resp, body := rawRequest(t, addr, raw)
			switch {
			case h.ok && path == "/ws":
				if resp.StatusCode != http.StatusSwitchingProtocols {
					t.Errorf("GET /ws with Host %q: status %d, want 101 (%.100q)", h.host, resp.StatusCode, body)
				}
				// The session ends when rawRequest closes the connection.
				continue
			case h.ok:
				if resp.StatusCode == http.StatusForbidden {
					t.Errorf("GET %s with Host %q: 403, want it served (%.100q)", path, h.host, body)
				}
			default:
				if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "does not answer to host") {
					t.Errorf("GET %s with Host %q: status %d (%.100q), want the 403 of the host check", path, h.host, resp.StatusCode, body)
				}
				refused++
			}
			if err := checkRouteHeaders(path, resp.Header); err != nil {
				t.Errorf("GET %s with Host %q: %v", path, h.host, err)
			}
		}
	}
	for _, h := range malformed {
		for _, path := range paths {
			raw := "GET " + path + " HTTP/1.1\r\nHost: " + h + "\r\nConnection: close\r\n\r\n"
			if resp, body := rawRequest(t, addr, raw); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("GET %s with Host %q: status %d (%.100q), want net/http's 400", path, h, resp.StatusCode, body)
			}
		}
	}
	// Without any Host, HTTP/1.1 is malformed (net/http answers 400) and
	// HTTP/1.0 has an empty host, which is no name of ours.
	if resp, _ := rawRequest(t, addr, "GET /api/scenarios HTTP/1.1\r\nConnection: close\r\n\r\n"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("HTTP/1.1 without Host: status %d, want 400", resp.StatusCode)
	}
	if resp, _ := rawRequest(t, addr, "GET /api/scenarios HTTP/1.0\r\n\r\n"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("HTTP/1.0 without Host: status %d, want 403", resp.StatusCode)
	}
	select {
	case opt := <-runs.started:
		t.Errorf("a refused request started a run: %+v", opt)
	default:
	}
	t.Logf("%d refused requests over %d Host values and %d routes", refused, len(hosts), len(paths))
}

// TestWebsocketOriginForms opens the socket with Origins a hostile page or
// a non-browser client might send. Only a page of this server is let in.
func TestWebsocketOriginForms(t *testing.T) {
	_, ts := newTestServer(t, Options{Run: newBlockingRun().run})
	p := port(ts)
	wsURL := "ws://127.0.0.1:" + p + "/ws"
	tests := []struct {
		origin []string // nil: no Origin header at all
		want   int
	}{
		{[]string{"http://127.0.0.1:" + p}, 101},
		{[]string{"http://localhost:" + p + "/"}, 101},
		{nil, 403},
		{[]string{""}, 403},
		{[]string{"null"}, 403},
		{[]string{"NULL"}, 403},
		{[]string{"http://evil.test:" + p}, 403},
		{[]string{"http://127.0.0.1.nip.io:" + p}, 403},
		{[]string{"http://localhost.evil.test:" + p}, 403},
		{[]string{"http://localhost:" + p + "@evil.test"}, 403},
		{[]string{"http://evil.test#@localhost:" + p}, 403},
		{[]string{"http://localhost:" + p + "/path"}, 403},
		{[]string{"http://localhost:" + p + "?q"}, 403},
		{[]string{"http://localhost"}, 403},
		{[]string{"ws://localhost:" + p}, 403},
		{[]string{"chrome-extension://abcdef"}, 403},
		{[]string{"http://[::1]:" + p + "0"}, 403},
		// Two Origin headers: the first is ours, the second is not. The
		// server reads the first; a browser never sends two.
		{[]string{"http://evil.test:" + p, "http://localhost:" + p}, 403},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.origin != nil {
			h["Origin"] = tt.origin
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
		if got == 403 {
			if err := checkSecurityHeaders(resp.Header); err != nil {
				t.Errorf("origin %q: %v", tt.origin, err)
			}
		}
	}
}

// TestCrossSiteRequestsRefused sends state-changing requests to every route
// as a page of another site would: by Sec-Fetch-Site, and by a foreign
// Origin alone (older browsers). They are refused before any handler runs;
// the same requests from our own page reach the mux (which answers 405 for
// a method no route takes, so a 403 can only come from the guard).
func TestCrossSiteRequestsRefused(t *testing.T) {
	_, ts := newTestServer(t, Options{Run: newBlockingRun().run})
	p := port(ts)
	paths := append(append(append([]string(nil), staticPaths...), apiPaths...), "/ws", uploadPath+"?name=x.trace")
	crossSite := []http.Header{
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Sec-Fetch-Site": {"same-site"}}, // another port of this host is another origin
		{"Origin": {"http://evil.test"}},
		{"Origin": {"http://localhost:" + p + "0"}},
		{"Origin": {"null"}},
	}
	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		for _, path := range paths {
			for _, h := range crossSite {
				resp, body := get(t, ts, method, "", path, h)
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s %s with %v: status %d (%.80q), want 403", method, path, h, resp.StatusCode, body)
				}
				if err := checkRouteHeaders(path, resp.Header); err != nil {
					t.Errorf("%s %s with %v: %v", method, path, h, err)
				}
			}
			resp, _ := get(t, ts, method, "", path, http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {"http://127.0.0.1:" + p}})
			if resp.StatusCode == http.StatusForbidden {
				t.Errorf("%s %s from our own page: 403; the guard refuses everything, so it proves nothing", method, path)
			}
		}
	}
}

// heapAlloc returns the live heap after a full collection.
func heapAlloc() (live, total uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.TotalAlloc
}

// TestOversizedMessageHeap sends 1 MiB messages: each connection is closed
// with 1009, the server never reads such a message into memory (what the
// process allocates per message stays far below its size) and the heap
// does not grow. The client writes a frame built once, byte for byte, so
// that what is allocated per message is the server's.
func TestOversizedMessageHeap(t *testing.T) {
	s, ts := newTestServer(t, Options{Run: newBlockingRun().run})
	payload := []byte(`{"type":"run","scenario":"` + strings.Repeat("x", 1<<20) + `"}`)
	// A masked text frame with a 64-bit length and a zero mask key, which
	// leaves the payload as it is.
	frame := []byte{0x81, 0x80 | 127}
	frame = binary.BigEndian.AppendUint64(frame, uint64(len(payload)))
	frame = append(frame, 0, 0, 0, 0)
	frame = append(frame, payload...)
	const n = 16
	oneBig := func() {
		c := dial(t, ts)
		if _, err := c.NetConn().Write(frame); err != nil {
			// The server may cut the connection before the whole
			// message is written; the close code is what counts.
			t.Logf("write 1 MiB: %v", err)
		}
		c.SetReadDeadline(time.Now().Add(readTimeout))
		if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Errorf("after 1 MiB: %v, want close 1009 (message too big)", err)
		}
		c.Close()
	}
	oneBig() // warm up the buffers of both sides
	s.wg.Wait()
	heap0, total0 := heapAlloc()
	for range n {
		oneBig()
	}
	s.wg.Wait()
	heap1, total1 := heapAlloc()
	perMessage := (total1 - total0) / n
	t.Logf("%d messages of 1 MiB: heap %d KiB before, %d KiB after; %d KiB allocated per message and connection",
		n, heap0>>10, heap1>>10, perMessage>>10)
	if perMessage > 512<<10 {
		t.Errorf("%d KiB allocated per 1 MiB message: the server reads it whole", perMessage>>10)
	}
	if heap1 > heap0+1<<20 {
		t.Errorf("the heap grew by %d KiB over %d oversized messages", (heap1-heap0)>>10, n)
	}
}

// waitSessions waits up to d for every session of s to end and reports
// whether they did.
func waitSessions(s *Server, d time.Duration) bool {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// TestSilentClientDropped checks the pong deadline with a short one: a
// client that never reads (so never sees a ping) and a client that reads
// but does not answer pings are both dropped within the deadline and some
// slack, and a client that answers stays connected for several deadlines.
func TestSilentClientDropped(t *testing.T) {
	const deadline = 400 * time.Millisecond
	const slack = 3 * time.Second // the close handshake's linger and a busy machine

	t.Run("never reads", func(t *testing.T) {
		s, ts := newTestServer(t, Options{Run: newBlockingRun().run, pongWait: deadline})
		begin := time.Now()
		dial(t, ts)
		if !waitSessions(s, deadline+slack) {
			t.Fatalf("a client that never reads is still connected %v after a pong deadline of %v", time.Since(begin), deadline)
		}
		t.Logf("dropped %v after it connected (pong deadline %v)", time.Since(begin), deadline)
	})
	t.Run("ignores pings", func(t *testing.T) {
		// Long enough that the ping, a tenth of the deadline before it,
		// surely goes out first.
		const deadline = time.Second
		s, ts := newTestServer(t, Options{Run: newBlockingRun().run, pongWait: deadline})
		c := dial(t, ts)
		var pings atomic.Int32
		c.SetPingHandler(func(string) error { pings.Add(1); return nil })
		begin := time.Now()
		readErr := make(chan error, 1)
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					readErr <- err
					return
				}
			}
		}()
		if !waitSessions(s, deadline+slack) {
			t.Fatalf("a client that ignores pings is still connected %v after a pong deadline of %v", time.Since(begin), deadline)
		}
		d := time.Since(begin)
		c.Close()
		<-readErr
		if pings.Load() == 0 {
			t.Errorf("the client saw no ping before it was dropped")
		}
		t.Logf("dropped %v after it connected, having ignored %d pings (pong deadline %v)", d, pings.Load(), deadline)
	})
	t.Run("answers pings", func(t *testing.T) {
		// The server pings at nine tenths of the deadline, so the pong has
		// a tenth of it to arrive: a longer deadline than above leaves a
		// busy machine (or -race) enough of a margin.
		const deadline = 1500 * time.Millisecond
		s, ts := newTestServer(t, Options{Run: newBlockingRun().run, pongWait: deadline})
		c := dial(t, ts)
		readErr := make(chan error, 1)
		go func() {
			for {
				// The default ping handler answers with a pong.
				if _, _, err := c.ReadMessage(); err != nil {
					readErr <- err
					return
				}
			}
		}()
		if waitSessions(s, 7*deadline/3) {
			t.Fatalf("a client that answers pings was dropped")
		}
		send(t, c, Message{Type: MsgCancel}) // still usable
		c.Close()
		<-readErr
	})
}

// countFDs counts this process's open file descriptors.
func countFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd to count descriptors: %v", err)
	}
	return len(es)
}

// settle waits up to d for the goroutines and descriptors of this process
// to come back to at most their baseline, and returns what they are.
func settle(t *testing.T, goroutines, fds int, d time.Duration) (int, int) {
	t.Helper()
	end := time.Now().Add(d)
	for {
		g, f := runtime.NumGoroutine(), countFDs(t)
		if (g <= goroutines && f <= fds) || time.Now().After(end) {
			return g, f
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// streamRun is a Run seam that streams updates until it is cancelled, so
// that the server is always in the middle of writing to the client.
func streamRun(ctx context.Context, opt tracer.RunOptions) (*tracer.Result, error) {
	for i := 0; ctx.Err() == nil; i++ {
		opt.OnUpdate(floodUpdate(i % 64))
		time.Sleep(100 * time.Microsecond)
	}
	return &tracer.Result{Timeline: &tracer.Timeline{}}, ctx.Err()
}

// TestConnectionChurn opens and closes websockets 2,000 times, a quarter
// each way: a clean close handshake; a TCP close without one; a reset
// halfway through a frame the client was writing; a reset while the server
// is streaming a run. Goroutines and descriptors come back to their
// baseline.
func TestConnectionChurn(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 400
	}
	s, ts := newTestServer(t, Options{Run: streamRun, MaxSockets: 4 * n})
	host := strings.TrimPrefix(ts.URL, "http://")
	origin := http.Header{"Origin": {"http://localhost:" + port(ts)}}
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	cycle := func(i int) error {
		c, _, err := dialer.Dial("ws://"+host+"/ws", origin)
		if err != nil {
			return fmt.Errorf("dial: %w", err)
		}
		nc := c.NetConn().(*net.TCPConn)
		switch i % 4 {
		case 0:
			c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			c.SetReadDeadline(time.Now().Add(readTimeout))
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					break
				}
			}
			c.Close()
		case 1:
			c.Close()
		case 2:
			// The header of a masked 1000-byte text frame and a part of
			// its payload, then a reset.
			nc.Write([]byte{0x81, 0xfe, 0x03, 0xe8, 1, 2, 3, 4, 'x', 'y', 'z'})
			nc.SetLinger(0)
			nc.Close()
		case 3:
			if err := c.WriteJSON(Message{Type: MsgRun, Scenario: "deadlock-cross-wait"}); err != nil {
				return fmt.Errorf("send run: %w", err)
			}
			c.SetReadDeadline(time.Now().Add(readTimeout))
			for range 3 {
				if _, _, err := c.ReadMessage(); err != nil {
					return fmt.Errorf("read the run's first messages: %w", err)
				}
			}
			nc.SetLinger(0)
			nc.Close()
		}
		return nil
	}
	// Warm up: the first cycles of each kind start the library's and the
	// runtime's lasting goroutines and buffers.
	for i := range 8 {
		if err := cycle(i); err != nil {
			t.Fatalf("warm-up cycle %d: %v", i, err)
		}
	}
	waitSessions(s, 10*time.Second)
	g0, f0 := settle(t, 0, 0, 200*time.Millisecond)
	begin := time.Now()
	for i := range n {
		if err := cycle(i); err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
	}
	elapsed := time.Since(begin)
	if !waitSessions(s, 30*time.Second) {
		t.Fatalf("sessions still open 30s after %d cycles", n)
	}
	g1, f1 := settle(t, g0, f0, 10*time.Second)
	t.Logf("%d connect/disconnect cycles in %v: goroutines %d before, %d after; open descriptors %d before, %d after", n, elapsed.Round(time.Millisecond), g0, g1, f0, f1)
	if g1 > g0 {
		t.Errorf("goroutines: %d after the cycles, %d before", g1, g0)
	}
	if f1 > f0 {
		t.Errorf("open descriptors: %d after the cycles, %d before", f1, f0)
	}
}

// TestSocketCapReleased fills the socket cap, is refused one more, closes
// every socket and fills the cap again: a closed socket gives its slot
// back, and a refused one takes none.
func TestSocketCapReleased(t *testing.T) {
	const limit = 4
	s, ts := newTestServer(t, Options{Run: newBlockingRun().run, MaxSockets: limit})
	h := http.Header{"Origin": {"http://localhost:" + port(ts)}}
	wsURL := "ws://" + strings.TrimPrefix(ts.URL, "http://") + "/ws"
	for round := range 3 {
		var open []*websocket.Conn
		for range limit {
			open = append(open, dial(t, ts))
		}
		refused := 0
		for range 3 {
			c, resp, _ := websocket.DefaultDialer.Dial(wsURL, h)
			if c != nil {
				c.Close()
				t.Fatalf("round %d: socket %d opened past a cap of %d", round, limit+1, limit)
			}
			if resp != nil && resp.StatusCode == http.StatusServiceUnavailable {
				refused++
			}
		}
		if refused != 3 {
			t.Errorf("round %d: %d of 3 sockets past the cap got 503", round, refused)
		}
		for _, c := range open {
			c.Close()
		}
		if !waitSessions(s, 10*time.Second) {
			t.Fatalf("round %d: the closed sockets' sessions did not end", round)
		}
	}
	t.Logf("a cap of %d sockets held over 3 rounds of filling and closing", limit)
}

// TestHTTPServerTimeouts checks the HTTP server that ListenAndServe runs:
// it has header and idle timeouts and a header size limit, a client that
// trickles its headers is cut at the header timeout while others are
// served, and an oversized header is refused.
func TestHTTPServerTimeouts(t *testing.T) {
	t.Parallel()
	s := NewServer(Options{Logf: t.Logf, Run: newBlockingRun().run})
	defer s.Close()
	hs := s.httpServer()
	if hs.ReadHeaderTimeout <= 0 || hs.IdleTimeout <= 0 || hs.MaxHeaderBytes <= 0 {
		t.Fatalf("http.Server has ReadHeaderTimeout %v, IdleTimeout %v, MaxHeaderBytes %d; want all set",
			hs.ReadHeaderTimeout, hs.IdleTimeout, hs.MaxHeaderBytes)
	}
	t.Logf("header timeout %v, idle timeout %v, header limit %d KiB", hs.ReadHeaderTimeout, hs.IdleTimeout, hs.MaxHeaderBytes>>10)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	defer func() {
		hs.Close()
		<-served
	}()
	addr := ln.Addr().String()

	// The slow client: one header byte every 200 ms, far slower than the
	// timeout allows for the whole header.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	begin := time.Now()
	io.WriteString(c, "GET /api/states HTTP/1.1\r\nHost: "+addr+"\r\n")
	cut := make(chan time.Duration, 1)
	go func() {
		defer close(cut)
		for {
			if _, err := c.Write([]byte("X")); err != nil {
				cut <- time.Since(begin)
				return
			}
			// A closed connection shows on a read before a write fails.
			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			var b [512]byte
			if n, err := c.Read(b[:]); n > 0 || (err != nil && !errors.Is(err, os.ErrDeadlineExceeded)) {
				cut <- time.Since(begin)
				return
			}
		}
	}()

	// Meanwhile, others are served.
	resp, body := rawRequest(t, addr, "GET /api/states HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Errorf("a request during the trickle: status %d (%.80q)", resp.StatusCode, body)
	}
	// An oversized header is refused.
	resp, _ = rawRequest(t, addr, "GET / HTTP/1.1\r\nHost: "+addr+"\r\nX-Big: "+strings.Repeat("b", 2*hs.MaxHeaderBytes)+"\r\n\r\n")
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a header of %d KiB: status %d, want 431", 2*hs.MaxHeaderBytes>>10, resp.StatusCode)
	}

	select {
	case d := <-cut:
		t.Logf("a client trickling its headers was cut after %v (header timeout %v)", d.Round(time.Millisecond), hs.ReadHeaderTimeout)
		if d < hs.ReadHeaderTimeout/2 {
			t.Errorf("the trickling client was cut after %v, before the header timeout: by something else?", d)
		}
	case <-time.After(hs.ReadHeaderTimeout + 10*time.Second):
		t.Fatalf("a client trickling its headers is still connected %v after it began", time.Since(begin))
	}
}

// TestShutdownClosesSockets starts the real server with idle sockets and
// one running, and cancels it: ListenAndServe returns and every socket is
// told the server is going away.
func TestShutdownClosesSockets(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runs := newBlockingRun()
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- ListenAndServe(ctx, "127.0.0.1:0", Options{Run: runs.run, Logf: t.Logf}, func(u string) { urls <- u })
	}()
	var base string
	select {
	case base = <-urls:
	case err := <-done:
		t.Fatalf("ListenAndServe: %v", err)
	}
	u, _ := url.Parse(base)
	const idle = 6
	var conns []*websocket.Conn
	for range idle + 1 {
		conns = append(conns, dialURL(t, "ws://"+u.Host+"/ws", "http://"+u.Host))
	}
	send(t, conns[idle], Message{Type: MsgRun, Scenario: "deadlock-cross-wait"})
	expect(t, conns[idle], MsgStarted)
	<-runs.started

	begin := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenAndServe after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("ListenAndServe did not return within 15s of the cancel")
	}
	t.Logf("shutdown with %d open sockets took %v", len(conns), time.Since(begin).Round(time.Millisecond))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(readTimeout))
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
						t.Errorf("socket %d after shutdown: %v, want close 1001 (going away)", i, err)
					}
					return
				}
			}
		})
	}
	wg.Wait()
	if _, err := http.Get(base + "api/states"); err == nil {
		t.Errorf("the server still answers after its shutdown")
	}
}
