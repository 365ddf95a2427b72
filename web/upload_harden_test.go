package web

// Hardening tests of the upload route, POST /api/recordings: a body over
// the cap is refused before it is read, a body that trickles is cut,
// cross-site posts never reach the store, and a fuzz target runs arbitrary
// files through the whole path a user's file takes (upload, parse,
// timeline, the JSON the page reads).
//
// A short run of the fuzz target is part of go test; a longer one:
//
//	go test ./web -run '^$' -fuzz FuzzUpload -fuzztime 10m

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concviz/concviz/tracer"
)

// uploadPath is the upload route.
const uploadPath = "/api/recordings"

// TestUploadOverCapRefusedBeforeRead sends only the headers of an upload
// whose Content-Length is over the cap: the 413 arrives although not one
// byte of the body was sent, so the server did not wait to read it.
func TestUploadOverCapRefusedBeforeRead(t *testing.T) {
	const limit = 1 << 20
	s, ts := newTestServer(t, Options{MaxUpload: limit})
	addr := ts.Listener.Addr().String()
	before := len(s.store.List())
	for _, size := range []int64{limit + 1, 1 << 30, 1 << 62} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST %s?name=big.trace HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", uploadPath, addr, size)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		begin := time.Now()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			t.Fatalf("Content-Length %d with no body sent: %v (the server waited for the body?)", size, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		c.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "largest trace") {
			t.Errorf("Content-Length %d: status %d %q, want 413", size, resp.StatusCode, body)
		}
		t.Logf("Content-Length %d over a cap of %d: 413 after %v with no body sent", size, limit, time.Since(begin).Round(time.Microsecond))
	}
	if n := len(s.store.List()); n != before {
		t.Errorf("the store has %d recordings after refused uploads, %d before", n, before)
	}
}

// TestUploadChunkedOverCap streams a body without a length far past the
// cap: the server stops reading soon after the cap, answers 413, and its
// heap does not keep what it read.
func TestUploadChunkedOverCap(t *testing.T) {
	const limit = 1 << 20
	s, ts := newTestServer(t, Options{MaxUpload: limit})
	h0 := heapInUse()
	// sent is written by the writer and read once it has ended.
	var sent int64
	pr, pw := io.Pipe()
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		chunk := bytes.Repeat([]byte("z"), 32<<10)
		for sent < 256<<20 {
			n, err := pw.Write(chunk)
			sent += int64(n)
			if err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+uploadPath+"?name=endless.trace", pr)
	req.ContentLength = -1 // chunked
	resp, err := ts.Client().Do(req)
	pr.CloseWithError(io.ErrClosedPipe)
	<-wrote
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a chunked body past the cap: status %d %q, want 413", resp.StatusCode, body)
	}
	h1 := heapInUse()
	t.Logf("chunked upload over a cap of %d KiB: 413 after the client had written %d KiB; heap %d KiB before, %d KiB after",
		limit>>10, sent>>10, h0>>10, h1>>10)
	if sent >= 256<<20 {
		t.Errorf("the server read the whole 256 MiB body past a cap of 1 MiB")
	}
	if h1 > h0+2*limit {
		t.Errorf("the heap grew by %d KiB after a refused upload", (h1-h0)>>10)
	}
	if n := len(s.store.List()); n != 0 {
		t.Errorf("the store has %d recordings after a refused upload", n)
	}
}

// TestUploadCrossSiteRefused posts a valid trace as other sites' pages
// would, with a form's content type and with fetch's: every post is refused
// and the store stays empty, while the same post from our own page is
// kept.
func TestUploadCrossSiteRefused(t *testing.T) {
	s, ts := newTestServer(t, Options{})
	data := fixtureTrace(t, "deadlock-cross-wait-fixed")
	p := port(ts)
	post := func(h http.Header, host string) int {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+uploadPath+"?name=x.trace", bytes.NewReader(data))
		for k, v := range h {
			req.Header[k] = v
		}
		if host != "" {
			req.Host = host
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	refused := []struct {
		name string
		h    http.Header
		host string
	}{
		{"cross-site fetch", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"http://evil.test"}}, ""},
		{"cross-site form", http.Header{"Content-Type": {"text/plain"}, "Origin": {"http://evil.test"}}, ""},
		{"multipart form", http.Header{"Content-Type": {"multipart/form-data; boundary=x"}, "Sec-Fetch-Site": {"cross-site"}}, ""},
		{"same-site page on another port", http.Header{"Sec-Fetch-Site": {"same-site"}, "Origin": {"http://localhost:" + p + "1"}}, ""},
		{"sandboxed frame", http.Header{"Origin": {"null"}}, ""},
		{"rebinding host", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {"http://evil.test:" + p}}, "evil.test:" + p},
	}
	for _, tt := range refused {
		if code := post(tt.h, tt.host); code != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tt.name, code)
		}
	}
	if n := len(s.store.List()); n != 0 {
		t.Fatalf("the store has %d recordings after cross-site posts", n)
	}
	if code := post(http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {"http://127.0.0.1:" + p}}, ""); code != http.StatusOK {
		t.Errorf("the same post from our own page: status %d, want 200", code)
	}
	if n := len(s.store.List()); n != 1 {
		t.Errorf("the store has %d recordings after our own upload, want 1", n)
	}
}

// TestUploadTrickledBodyCut sends an upload's headers and then its body one
// byte at a time: the HTTP server's read timeout cuts it, so a client
// cannot hold a handler and its memory for ever. The real server's timeout
// is minutes; the test runs the same server with a short one, after
// checking that the real one is set.
func TestUploadTrickledBodyCut(t *testing.T) {
	t.Parallel()
	s := NewServer(Options{Logf: t.Logf})
	defer s.Close()
	hs := s.httpServer()
	if hs.ReadTimeout <= 0 {
		t.Fatalf("the HTTP server has no ReadTimeout: a client trickling a request body holds its handler for ever")
	}
	t.Logf("read timeout of a whole request: %v", hs.ReadTimeout)
	hs.ReadTimeout = time.Second
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
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000\r\n\r\n", uploadPath, addr)
	begin := time.Now()
	var answer []byte
	for time.Since(begin) < 20*time.Second {
		if _, err := c.Write([]byte("g")); err != nil {
			break
		}
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		b := make([]byte, 512)
		n, err := c.Read(b)
		answer = append(answer, b[:n]...)
		if n > 0 || (err != nil && !os.IsTimeout(err)) {
			break
		}
	}
	d := time.Since(begin)
	t.Logf("a body trickled at 10 bytes a second was cut after %v (read timeout %v): %.60q", d.Round(time.Millisecond), hs.ReadTimeout, answer)
	if d >= 20*time.Second {
		t.Errorf("a trickled body was still being read after %v", d)
	}
}

// FuzzUpload posts arbitrary bytes as a user's file and, when the server
// keeps it, fetches the recording as the page does. The server must answer
// 200 or a readable 400, never fail or panic, and what it keeps must come
// back as a well-formed timeline. Seeds are the trace fixtures, a recording
// made of one, cuts of both and garbage.
func FuzzUpload(f *testing.F) {
	fixtures, _ := filepath.Glob(filepath.Join("..", "tracer", "testdata", "traces", "*.trace"))
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range fixtures {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var rec bytes.Buffer
		if err := tracer.NewRecording(data, &tracer.Report{Scenario: "deadlock-cross-wait", Variant: "broken"}).Save(&rec); err != nil {
			f.Fatal(err)
		}
		for _, in := range [][]byte{data, rec.Bytes()} {
			f.Add(in)
			for range 4 {
				f.Add(in[:rng.IntN(len(in))])
			}
		}
	}
	f.Add([]byte("not a trace"))
	f.Add([]byte{})
	f.Add([]byte("go 1.26 trace\x00\x00\x00"))

	s := NewServer(Options{Logf: func(string, ...any) {}})
	f.Cleanup(s.Close)
	h := s.Handler()
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7070}
	do := func(method, target string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, bytes.NewReader(body))
		req.Host = "127.0.0.1:7070"
		req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, local))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w := do(http.MethodPost, uploadPath+"?name=f.trace", data)
		switch w.Code {
		case http.StatusBadRequest:
			var e apiError
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("400 without a readable error: %q", w.Body.Bytes())
			}
			return
		case http.StatusOK:
		default:
			t.Fatalf("upload: status %d %q, want 200 or 400", w.Code, w.Body.Bytes())
		}
		var up UploadResult
		if err := json.Unmarshal(w.Body.Bytes(), &up); err != nil || up.Recording.ID == "" {
			t.Fatalf("upload answer %q: %v", w.Body.Bytes(), err)
		}
		w = do(http.MethodGet, uploadPath+"/"+up.Recording.ID, nil)
		if w.Code != http.StatusOK {
			t.Fatalf("get the kept recording: status %d %q", w.Code, w.Body.Bytes())
		}
		var view RecordingView
		if err := json.Unmarshal(w.Body.Bytes(), &view); err != nil || view.Timeline == nil {
			t.Fatalf("recording view %.200q: %v", w.Body.Bytes(), err)
		}
		checkTimelineShape(t, view.Timeline)
	})
}

// checkTimelineShape checks what the page relies on in a timeline it reads:
// spans in order, inside the stack list, and of a known state.
func checkTimelineShape(t *testing.T, tl *tracer.Timeline) {
	t.Helper()
	seen := map[int64]bool{}
	for _, g := range tl.Goroutines {
		if seen[g.ID] {
			t.Fatalf("G%d appears twice", g.ID)
		}
		seen[g.ID] = true
		for i, sp := range g.Spans {
			if sp.End < sp.Start {
				t.Fatalf("G%d span %d: [%d, %d] is reversed", g.ID, i, sp.Start, sp.End)
			}
			if sp.State >= tracer.StateLast {
				t.Fatalf("G%d span %d has state %d", g.ID, i, sp.State)
			}
			if sp.Stack != tracer.NoStack && (sp.Stack < 0 || sp.Stack >= len(tl.Stacks)) {
				t.Fatalf("G%d span %d: stack %d of %d", g.ID, i, sp.Stack, len(tl.Stacks))
			}
		}
	}
}

// TestWebsocketOutlivesReadTimeout checks that the read timeout of plain
// requests does not cut websockets: the upgrade clears the deadline, and a
// socket stays usable long past it.
func TestWebsocketOutlivesReadTimeout(t *testing.T) {
	s := NewServer(Options{Logf: t.Logf, Run: newBlockingRun().run})
	defer s.Close()
	hs := s.httpServer()
	hs.ReadTimeout = 300 * time.Millisecond
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
	c := dialURL(t, "ws://"+addr+"/ws", "http://"+addr)
	time.Sleep(3 * hs.ReadTimeout)
	send(t, c, Message{Type: MsgCancel})
	if m := expect(t, c, MsgError); !strings.Contains(m.Error, "no run in progress") {
		t.Errorf("after %v: %+v", 3*hs.ReadTimeout, m)
	}
	c.Close()
	waitSessions(s, 5*time.Second)
}
