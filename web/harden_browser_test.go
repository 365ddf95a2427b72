package web

// A browser test of the server's network exposure: in a real chromium, a
// page of another origin (a second server on another port) tries to open
// the websocket, read the API and post an upload, and a DNS-rebinding host
// name (evil.test, which chromium is told resolves to 127.0.0.1) tries to
// read the server as its own origin. Neither gets anything, and the server
// itself, not only the browser, is seen to refuse them. The same attempts
// from the server's own page succeed, so the test can tell.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// attackJS tries, from whatever page it runs in, to open the websocket of
// the server at the host:port %q and start a run, to read its API, to read
// it without CORS, and to post an upload. It resolves to a JSON object that
// says what each attempt got.
const attackJS = `(async (target) => {
	const out = {};
	out.ws = await new Promise((resolve) => {
		let ws;
		try { ws = new WebSocket("ws://" + target + "/ws"); } catch (e) { resolve("throw " + e.name); return; }
		ws.onopen = () => { ws.send(JSON.stringify({type: "run", scenario: "deadlock-cross-wait"})); resolve("open"); };
		ws.onerror = () => resolve("error");
		ws.onclose = (e) => resolve("close " + e.code);
		setTimeout(() => resolve("timeout"), 5000);
	});
	try {
		const r = await fetch("http://" + target + "/api/scenarios");
		out.fetch = "read " + r.status + " " + (await r.text()).slice(0, 40);
	} catch (e) { out.fetch = "blocked " + e.name; }
	try {
		const r = await fetch("http://" + target + "/api/scenarios", {mode: "no-cors"});
		out.nocors = r.type + " " + r.status + " " + (await r.text()).length;
	} catch (e) { out.nocors = "blocked " + e.name; }
	try {
		const r = await fetch("http://" + target + "/api/recordings?name=x.trace", {method: "POST", mode: "no-cors", body: "not a trace"});
		out.post = r.type + " " + r.status;
	} catch (e) { out.post = "blocked " + e.name; }
	return JSON.stringify(out);
})(%q)`

// attackResult is what attackJS resolves to.
type attackResult struct {
	WS     string `json:"ws"`
	Fetch  string `json:"fetch"`
	NoCORS string `json:"nocors"`
	Post   string `json:"post"`
}

// logRecorder keeps the server's log lines, for checks that the server
// itself refused a request.
type logRecorder struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	l.t.Log(line)
}

// has reports whether a log line contains s.
func (l *logRecorder) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// newAttackBrowser starts a headless chromium in which evil.test resolves
// to 127.0.0.1, and returns its first tab; it is stopped when the test
// ends.
func newAttackBrowser(t *testing.T) context.Context {
	t.Helper()
	path := findChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("host-resolver-rules", "MAP evil.test 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	if _, err := chromedp.Run(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// attack opens url in the tab and runs attackJS there against target.
func attack(t *testing.T, ctx context.Context, url, target string) attackResult {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(attackJS, target), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("run the attack from %s: %v", url, err)
	}
	var r attackResult
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	t.Logf("from %s against %s: %+v", url, target, r)
	return r
}

func TestBrowserCrossOriginAndRebinding(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chromium")
	}
	ctx := newAttackBrowser(t)
	logs := &logRecorder{t: t}
	runs := newBlockingRun()
	srv := NewServer(Options{Logf: logs.logf, Run: runs.run})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close)
	target := ts.Listener.Addr().String() // 127.0.0.1:PORT
	port := port(ts)

	// The other origin: a page on another port of the same machine.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>another site</title><p>nothing to see</p>")
	}))
	t.Cleanup(evil.Close)

	t.Run("another origin", func(t *testing.T) {
		r := attack(t, ctx, evil.URL+"/", target)
		if r.WS == "open" {
			t.Errorf("a page of %s opened the websocket", evil.URL)
		}
		if !strings.HasPrefix(r.Fetch, "blocked") {
			t.Errorf("a page of %s read the API: %q", evil.URL, r.Fetch)
		}
		if r.NoCORS != "opaque 0 0" && !strings.HasPrefix(r.NoCORS, "blocked") {
			t.Errorf("a no-cors fetch from %s got %q, want an opaque answer", evil.URL, r.NoCORS)
		}
		if !logs.has(`refused websocket from origin "` + evil.URL + `"`) {
			t.Errorf("the server did not log refusing the websocket of %s: did the handshake reach it?", evil.URL)
		}
	})

	t.Run("rebinding name", func(t *testing.T) {
		url := "http://evil.test:" + port + "/"
		r := attack(t, ctx, url, "evil.test:"+port)
		body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(body, "does not answer to host") {
			t.Errorf("the page at %s shows %q, want the refusal", url, body)
		}
		if r.WS == "open" {
			t.Errorf("a page of %s opened the websocket", url)
		}
		if !strings.HasPrefix(r.Fetch, "read 403 ") || strings.Contains(r.Fetch, `"id"`) {
			t.Errorf("a page of %s read %q from the API, want the 403", url, r.Fetch)
		}
		if !logs.has(`host "evil.test:` + port + `" is not one of this server's names`) {
			t.Errorf("the server did not log refusing the host evil.test:%s", port)
		}
	})

	select {
	case opt := <-runs.started:
		t.Fatalf("an attacking page started a run: %+v", opt)
	default:
	}
	if n := len(srv.store.List()); n != 0 {
		t.Errorf("an attacking page's upload reached the store: %d recordings", n)
	}

	// The control: the same script from the server's own page gets
	// everything, so the refusals above are the server's doing.
	t.Run("own page", func(t *testing.T) {
		r := attack(t, ctx, ts.URL+"/", target)
		if r.WS != "open" || !strings.HasPrefix(r.Fetch, "read 200 [") {
			t.Errorf("from the server's own page: %+v, want the socket open and the API read", r)
		}
		select {
		case <-runs.started:
		case <-time.After(10 * time.Second):
			t.Errorf("the run asked for from the server's own page did not start")
		}
	})
}
