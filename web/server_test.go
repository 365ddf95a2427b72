package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concviz/concviz/scenarios"
	"github.com/concviz/concviz/tracer"
)

// newTestServer starts a server on a loopback port and stops it, and every
// session it holds, when the test ends.
func newTestServer(t *testing.T, opt Options) (*Server, *httptest.Server) {
	t.Helper()
	if opt.Logf == nil {
		opt.Logf = t.Logf
	}
	s := NewServer(opt)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return s, ts
}

// port returns the port of a test server.
func port(ts *httptest.Server) string {
	_, p, _ := net.SplitHostPort(ts.Listener.Addr().String())
	return p
}

// get fetches path from the test server with the given Host header ("" for
// the server's own address) and returns the response with its body read.
func get(t *testing.T, ts *httptest.Server, method, host, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, string(body)
}

// routeTests are the routes of the server and what they answer.
var routeTests = []struct {
	method, path string
	status       int
	ctype        string // regexp of the Content-Type
	body         string // regexp of the body
}{
	{"GET", "/", 200, `^text/html`, `(?i)<!doctype html>`},
	{"GET", "/index.html", 301, ``, ``}, // the file server's canonical redirect to /
	{"GET", "/no-such-file.js", 404, `^text/plain`, `not found`},
	{"GET", "/api/scenarios", 200, `^application/json`, `^\[\{"id":"[a-z-]+","title":.*"id":"deadlock-cross-wait"`},
	{"GET", "/api/scenarios/deadlock-cross-wait/source", 200, `^application/json`,
		`^\{"file":"deadlock_cross_wait.go","source":"package scenarios.*"bug_lines":\[\d+,\d+\],"fix_lines":\[\d+\]\}`},
	{"GET", "/api/scenarios/no-such-thing/source", 404, `^application/json`,
		`"error":"unknown scenario \\"no-such-thing\\"; valid ids: .*deadlock-cross-wait.*","valid":\["`},
	{"GET", "/api/states", 200, `^application/json`, `^\["none","running","runnable",.*"done"\]`},
	{"GET", "/api/big", 200, `^application/json`, `^\[\]`},
	{"GET", "/api/big/1", 404, `^application/json`, `"error":"no indexed trace \\"1\\""`},
	{"GET", "/api/big/1/window?start=0&end=10&px=10", 404, `^application/json`, `no indexed trace`},
	{"GET", "/api/big/1/lanes", 404, `^application/json`, `no indexed trace`},
	{"GET", "/api/big/1/lanes?match=G1", 404, `^application/json`, `no indexed trace`},
	{"GET", "/api/big/1/stacks/0", 404, `^application/json`, `no indexed trace`},
	{"GET", "/api/nothing-here", 404, `^application/json`, `"error":"no such API route: /api/nothing-here"`},
	{"POST", "/api/scenarios", 405, `^text/plain`, `(?i)method not allowed`},
	{"DELETE", "/", 405, `^text/plain`, ``},
	// A plain GET of /ws, from no page at all, has no Origin.
	{"GET", "/ws", 403, `^text/plain`, `origin`},
}

func checkRoute(t *testing.T, ts *httptest.Server, i int) error {
	tt := routeTests[i]
	req, err := http.NewRequest(tt.method, ts.URL+tt.path, nil)
	if err != nil {
		return err
	}
	// Do not follow redirects: the route's own answer is under test.
	client := *ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %v", tt.method, tt.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read body: %v", tt.method, tt.path, err)
	}
	if resp.StatusCode != tt.status {
		return fmt.Errorf("%s %s: status %d, want %d (body %.200q)", tt.method, tt.path, resp.StatusCode, tt.status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !regexp.MustCompile(tt.ctype).MatchString(ct) {
		return fmt.Errorf("%s %s: Content-Type %q, want match of %q", tt.method, tt.path, ct, tt.ctype)
	}
	if !regexp.MustCompile(`(?s)` + tt.body).Match(body) {
		return fmt.Errorf("%s %s: body %.300q does not match %q", tt.method, tt.path, body, tt.body)
	}
	if err := checkSecurityHeaders(resp.Header); err != nil {
		return fmt.Errorf("%s %s: %v", tt.method, tt.path, err)
	}
	return nil
}

// checkSecurityHeaders checks the headers that every response must carry.
func checkSecurityHeaders(h http.Header) error {
	want := map[string]string{
		"Content-Security-Policy": `^default-src 'self'; script-src 'self'; .*frame-ancestors 'none'$`,
		"X-Content-Type-Options":  `^nosniff$`,
		"Referrer-Policy":         `^no-referrer$`,
		"X-Frame-Options":         `^DENY$`,
	}
	for k, re := range want {
		if v := h.Get(k); !regexp.MustCompile(re).MatchString(v) {
			return fmt.Errorf("header %s = %q, want match of %q", k, v, re)
		}
	}
	if csp := h.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		return fmt.Errorf("CSP allows inline code: %q", csp)
	}
	return nil
}

func TestRoutes(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	for i, tt := range routeTests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			if err := checkRoute(t, ts, i); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestRoutesConcurrent fetches every route again from many goroutines at
// once; under -race it shows that handlers share no unguarded state.
func TestRoutesConcurrent(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	const rounds = 8
	var wg sync.WaitGroup
	errs := make(chan error, rounds*len(routeTests))
	for range rounds {
		for i := range routeTests {
			wg.Go(func() {
				if err := checkRoute(t, ts, i); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestScenariosAPI checks that the catalog route carries the whole catalog.
func TestScenariosAPI(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	_, body := get(t, ts, "GET", "", "/api/scenarios", nil)
	var got []ScenarioInfo
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decode /api/scenarios: %v", err)
	}
	var want []ScenarioInfo
	for _, sc := range scenarios.Catalog() {
		want = append(want, scenarioInfo(sc))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("/api/scenarios:\ngot  %+v\nwant %+v", got, want)
	}
	for _, sc := range got {
		if s, _ := scenarios.Lookup(sc.ID); s != nil && s.Lesson {
			// A lesson's variants are named after their settings.
			continue
		}
		if sc.Statement == "" || len(sc.Variants) < 2 || sc.Variants[0].Name != "broken" {
			t.Errorf("scenario %s: want a statement and a broken variant first, got %+v", sc.ID, sc)
		}
	}
}

// TestSourceAPI checks the source route against the files' markers.
func TestSourceAPI(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	for _, sc := range scenarios.Catalog() {
		_, body := get(t, ts, "GET", "", "/api/scenarios/"+sc.ID+"/source", nil)
		var got SourceInfo
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("decode source of %s: %v", sc.ID, err)
		}
		if got.File != sc.File || got.Source != sc.Source() {
			t.Errorf("source of %s: file %q and %d bytes, want %q and %d bytes", sc.ID, got.File, len(got.Source), sc.File, len(sc.Source()))
		}
		if len(got.BugLines) == 0 && !sc.Lesson {
			t.Errorf("source of %s: no BUG lines", sc.ID)
		}
		lines := strings.Split(got.Source, "\n")
		for _, n := range got.BugLines {
			if n < 1 || n > len(lines) || !strings.Contains(lines[n-1], "// BUG") {
				t.Errorf("source of %s: bug line %d is %q", sc.ID, n, lines[n-1])
			}
		}
	}
}

func TestStatesAPI(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	_, body := get(t, ts, "GET", "", "/api/states", nil)
	var got []string
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decode /api/states: %v", err)
	}
	if want := tracer.StateNames(); !reflect.DeepEqual(got, want) {
		t.Errorf("/api/states = %q, want %q", got, want)
	}
}

// TestStatic checks that --static serves a directory instead of the
// embedded files.
func TestStatic(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html><title>from disk</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, ts := newTestServer(t, Options{Static: dir})
	resp, body := get(t, ts, "GET", "", "/", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "from disk") {
		t.Errorf("GET / with Static: status %d, body %q; want the file from disk", resp.StatusCode, body)
	}
}

// TestHostCheck sends requests whose Host names another site: the names a
// DNS-rebinding attack uses.
func TestHostCheck(t *testing.T) {
	_, ts := newTestServer(t, Options{Hosts: []string{"viz.lan"}})
	p := port(ts)
	wrong := "1"
	if p == "1" {
		wrong = "2"
	}
	tests := []struct {
		host string
		want int
	}{
		{"127.0.0.1:" + p, 200},
		{"localhost:" + p, 200},
		{"LocalHost:" + p, 200},
		{"[::1]:" + p, 200},
		{"viz.lan:" + p, 200},
		{"evil.test:" + p, 403},
		{"localhost.evil.test:" + p, 403},
		{"127.0.0.1.evil.test:" + p, 403},
		{"localhost:" + wrong, 403},
		{"localhost", 403}, // port 80 implied
		{"evil.test", 403},
		{"localhost.:" + p, 403},
		{"viz.lan.evil.test:" + p, 403},
	}
	for _, tt := range tests {
		for _, path := range []string{"/", "/api/scenarios", "/api/states", "/api/scenarios/deadlock-cross-wait/source"} {
			resp, body := get(t, ts, "GET", tt.host, path, nil)
			if resp.StatusCode != tt.want {
				t.Errorf("GET %s with Host %q: status %d, want %d (%q)", path, tt.host, resp.StatusCode, tt.want, body)
			}
			if err := checkSecurityHeaders(resp.Header); err != nil {
				t.Errorf("GET %s with Host %q: %v", path, tt.host, err)
			}
		}
	}
}

// TestCrossOriginProtection checks that a state-changing request from
// another site is refused before it reaches a handler.
func TestCrossOriginProtection(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	resp, _ := get(t, ts, "POST", "", "/api/scenarios", http.Header{"Sec-Fetch-Site": {"cross-site"}})
	if resp.StatusCode != 403 {
		t.Errorf("cross-site POST: status %d, want 403", resp.StatusCode)
	}
	resp, _ = get(t, ts, "POST", "", "/api/scenarios", http.Header{"Origin": {"http://evil.test"}})
	if resp.StatusCode != 403 {
		t.Errorf("POST with a foreign Origin: status %d, want 403", resp.StatusCode)
	}
}

// TestListenAndServe starts the real server on a free port, opens a
// websocket with a run in progress, and checks that cancelling the context
// shuts everything down: the socket is told, the run is cancelled.
func TestListenAndServe(t *testing.T) {
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
	if !regexp.MustCompile(`^http://127\.0\.0\.1:[1-9]\d*/$`).MatchString(base) {
		t.Fatalf("ready URL %q, want http://127.0.0.1:PORT/", base)
	}
	resp, err := http.Get(base + "api/states")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET api/states: status %d", resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()

	u, _ := url.Parse(base)
	c := dialURL(t, "ws://"+u.Host+"/ws", "http://"+u.Host)
	send(t, c, Message{Type: MsgRun, Scenario: "deadlock-cross-wait"})
	expect(t, c, MsgStarted)
	<-runs.started

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenAndServe after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not return within 10s of the cancel")
	}
	select {
	case <-runs.ended:
	default:
		t.Error("the run was not cancelled by the shutdown")
	}
	// The socket's end message may or may not have been written before
	// the close; either way the connection ends with "going away".
	for {
		_, _, err := c.ReadMessage()
		if err != nil {
			if !strings.Contains(err.Error(), "1001") {
				t.Errorf("socket after shutdown: %v, want close 1001 (going away)", err)
			}
			break
		}
	}
	c.Close()
}
