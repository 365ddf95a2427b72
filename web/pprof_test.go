package web

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/gorilla/websocket"

	"github.com/concviz/concviz/scenarios"
	"github.com/concviz/concviz/tracer"
)

// profiledRun runs a variant over the websocket with a profile and returns
// its end message.
func profiledRun(t *testing.T, c *websocket.Conn, scenario, variant, prof string) Message {
	t.Helper()
	send(t, c, Message{Type: MsgRun, Scenario: scenario, Variant: variant, Profile: prof})
	for {
		m := read(t, c)
		switch m.Type {
		case MsgStarted:
			if m.Profile != prof {
				t.Errorf("started says profile %q, want %q", m.Profile, prof)
			}
		case MsgEnd:
			if m.Error != "" {
				t.Fatalf("run %s/%s: %s", scenario, variant, m.Error)
			}
			return m
		case MsgError:
			t.Fatalf("run %s/%s: %s", scenario, variant, m.Error)
		}
	}
}

// spinRun runs the broken select-default-spin with a CPU profile until
// its profile has sampled the spin (about five samples at 100 Hz; a busy
// machine sometimes takes none) and returns the recording's id, the end
// message and the downloaded profile.
func spinRun(t *testing.T, ts *httptest.Server) (string, Message, *profile.Profile) {
	t.Helper()
	c := dial(t, ts)
	for try := 1; ; try++ {
		end := profiledRun(t, c, "select-default-spin", "broken", tracer.ProfileCPU)
		if end.Recording == nil || end.Profile != tracer.ProfileCPU {
			t.Fatalf("end has recording %v, profile %q: want a recording with a cpu profile", end.Recording, end.Profile)
		}
		id := end.Recording.ID
		resp, body := get(t, ts, "GET", "", "/pprof/"+id+"/download", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("download: status %d: %.300s", resp.StatusCode, body)
		}
		if cd := resp.Header.Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="select-default-spin-broken-cpu\.pb\.gz"$`).MatchString(cd) {
			t.Errorf("download: Content-Disposition %q", cd)
		}
		p, err := profile.Parse(strings.NewReader(body))
		if err != nil {
			t.Fatalf("the downloaded profile does not parse: %v", err)
		}
		if has(p, "scenarios.spinBroken") || try == 5 {
			return id, end, p
		}
		t.Logf("run %d: the profile never sampled the spin; running again", try)
	}
}

// TestPprofOfARealRun runs a scenario that burns a CPU with a CPU profile
// and reads the profile back through pprof's own pages on our server.
func TestPprofOfARealRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs scenarios in child processes")
	}
	_, ts := newTestServer(t, Options{})
	id, end, p := spinRun(t, ts)
	if !has(p, "scenarios.spinBroken") {
		t.Fatal("the run's CPU profile never names scenarios.spinBroken")
	}
	if has(p, "tracer.(*watchdog).poll") {
		t.Error("the harness's watchdog is in the run's profile")
	}
	client := *ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Get(ts.URL + "/pprof/" + id + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || loc != "flamegraph" {
		t.Errorf("/pprof/%s/: status %d to %q, want a redirect to pprof's flame graph", id, resp.StatusCode, loc)
	}
	dur := strconv.FormatInt(end.Timeline.Duration+1, 10)
	pages := []struct {
		path string
		body string // regexp
	}{
		{"flamegraph", `(?s)<title>select-default-spin broken cpu</title>.*spinBroken`},
		{"top", `(?s)<html.*spinBroken`},
		{"source?f=spinBroken", `(?s)select_default_spin\.go.*default: // BUG`},
		{"source", `(?s)select_default_spin\.go.*default: // BUG`}, // the report's link
		{"peek?f=spinBroken", `spinBroken`},
		{"window/cpu/0/" + dur + "/top", `(?s)<title>select-default-spin broken from 0s to [0-9.]+ms cpu</title>.*spinBroken`},
		{"window/wall/0/" + dur + "/top", `(?s)<html.*produceLater\.func1`},
	}
	for _, pg := range pages {
		resp, body := get(t, ts, "GET", "", "/pprof/"+id+"/"+pg.path, nil)
		if resp.StatusCode != http.StatusOK || !regexp.MustCompile(pg.body).MatchString(body) {
			t.Errorf("%s: status %d, body %.300q does not match %q", pg.path, resp.StatusCode, body, pg.body)
		}
		if err := checkPprofHeaders(resp.Header); err != nil {
			t.Errorf("%s: %v", pg.path, err)
		}
	}
	// The graph is drawn by Graphviz: with dot, pprof's SVG; without it,
	// our page that says so.
	resp, body := get(t, ts, "GET", "", "/pprof/"+id+"/graph", nil)
	if _, err := exec.LookPath("dot"); err == nil {
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<svg") || !strings.Contains(body, "spinBroken") {
			t.Errorf("graph: status %d, body %.300q: want pprof's SVG naming spinBroken", resp.StatusCode, body)
		}
	} else if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(body, "Graphviz") {
		t.Errorf("graph without dot: status %d, body %.300q", resp.StatusCode, body)
	}
	// A window's download is the window's profile: only its samples.
	w := tracer.Window{Start: end.Timeline.Duration / 2, End: end.Timeline.Duration + 1}
	path := "/pprof/" + id + "/window/cpu/" + strconv.FormatInt(w.Start, 10) + "/" + strconv.FormatInt(w.End, 10) + "/download"
	resp, body = get(t, ts, "GET", "", path, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("window download: status %d: %.300s", resp.StatusCode, body)
	}
	wp, err := profile.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("the window's profile does not parse: %v", err)
	}
	for _, s := range wp.Sample {
		if tm := s.NumLabel[tracer.LabelTime]; len(tm) != 1 || tm[0] < w.Start || tm[0] >= w.End {
			t.Errorf("the window %v holds a sample at %v", w, tm)
		}
	}
}

// TestPprofRefusals checks that pprof's pages answer only to this server's
// names and pages, like every route, and say clearly what is missing.
func TestPprofRefusals(t *testing.T) {
	s, ts := newTestServer(t, Options{})
	rec, err := tracerRecording(s)
	if err != nil {
		t.Fatal(err)
	}
	s.profiles.add(rec, tracer.ProfileCPU, smallProfile(t))
	p := port(ts)
	tests := []struct {
		method, host, path string
		header             http.Header
		status             int
		body               string
	}{
		{"GET", "", "/pprof/" + rec + "/top", nil, 200, `(?s)<html.*scenarios\.hot`},
		{"GET", "evil.test:" + p, "/pprof/" + rec + "/top", nil, 403, `does not answer to host`},
		{"GET", "localhost.evil.test:" + p, "/pprof/" + rec + "/flamegraph", nil, 403, `does not answer to host`},
		{"GET", "evil.test:" + p, "/pprof/" + rec + "/download", nil, 403, `does not answer to host`},
		{"POST", "", "/pprof/" + rec + "/saveconfig", http.Header{"Origin": {"http://evil.test"}, "Sec-Fetch-Site": {"cross-site"}}, 403, `(?i)cross-origin`},
		{"POST", "", "/pprof/" + rec + "/saveconfig", nil, 405, `(?i)method not allowed`},
		{"GET", "", "/pprof/" + rec + "/saveconfig", nil, 403, `not available in concviz`},
		{"GET", "", "/pprof/" + rec, nil, 200, `(?s)<html.*scenarios\.hot`}, // redirected to the flame graph
		{"GET", "", "/pprof/nope/top", nil, 404, `No profile of recording &#34;nope&#34;`},
		{"GET", "", "/pprof/nope/window/cpu/0/10/top", nil, 404, `No recording &#34;nope&#34;`},
		{"GET", "", "/pprof/" + rec + "/window/heap/0/10/top", nil, 404, `window/\{cpu\|wall\}`},
		{"GET", "", "/pprof/" + rec + "/window/cpu/10/5/top", nil, 400, `empty window`},
		{"GET", "", "/pprof/" + rec + "/no-such-view", nil, 404, `pprof has no view`},
	}
	for _, tt := range tests {
		resp, body := get(t, ts, tt.method, tt.host, tt.path, tt.header)
		if resp.StatusCode != tt.status || !regexp.MustCompile(tt.body).MatchString(body) {
			t.Errorf("%s %s (host %q): status %d, body %.200q; want %d and %q", tt.method, tt.path, tt.host, resp.StatusCode, body, tt.status, tt.body)
		}
		if resp.StatusCode == 403 && strings.Contains(body, "scenarios.hot") {
			t.Errorf("%s %s (host %q): refused, yet pprof's page came back", tt.method, tt.path, tt.host)
		}
	}
}

// TestRunProfileChoice checks how a run message's profile is resolved.
func TestRunProfileChoice(t *testing.T) {
	sc := &scenarios.Scenario{ID: "x", Profile: tracer.ProfileWall}
	for _, tt := range []struct{ asked, want string }{
		{"", tracer.ProfileWall}, {"none", ""}, {"cpu", "cpu"}, {"wall", "wall"},
	} {
		if got, err := runProfile(sc, tt.asked); err != nil || got != tt.want {
			t.Errorf("runProfile(%q) = %q, %v; want %q", tt.asked, got, err, tt.want)
		}
	}
	if _, err := runProfile(sc, "heap"); err == nil {
		t.Error("an unknown profile kind was accepted")
	}
}

// TestRunRefusesUnknownProfile sends a run with a profile kind that does
// not exist: an error, and no run.
func TestRunRefusesUnknownProfile(t *testing.T) {
	runs := newBlockingRun()
	_, ts := newTestServer(t, Options{Run: runs.run})
	c := dial(t, ts)
	send(t, c, Message{Type: MsgRun, Scenario: "deadlock-main-recv", Profile: "heap"})
	if m := expect(t, c, MsgError); !strings.Contains(m.Error, `unknown profile "heap"`) {
		t.Errorf("error %q", m.Error)
	}
}

// checkPprofHeaders checks pprof's pages: the security headers of every
// page, with a policy that allows inline script and style, which pprof's
// pages need, and still no framing and no other site.
func checkPprofHeaders(h http.Header) error {
	if csp := h.Get("Content-Security-Policy"); csp != pprofCSP {
		return fmt.Errorf("CSP %q, want pprof's %q", csp, pprofCSP)
	}
	for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
		if got := h.Get(k); got != want {
			return fmt.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	return nil
}

// tracerRecording records a real run (no profile) into the server's store,
// as a page's run would, and returns its id.
func tracerRecording(s *Server) (string, error) {
	var raw bytes.Buffer
	res, err := tracer.Run(s.ctx, tracer.RunOptions{Scenario: "deadlock-main-recv", Variant: "fixed", TraceOut: &raw})
	if err != nil {
		return "", err
	}
	info, err := s.store.Add(tracer.NewRecording(raw.Bytes(), res.Report), res.Timeline, false)
	return info.ID, err
}

// smallProfile is a CPU profile with one hot function, for the tests of
// the routes (the real runs' profiles are tested above).
func smallProfile(t *testing.T) []byte {
	fn := &profile.Function{ID: 1, Name: "github.com/concviz/concviz/scenarios.hot", Filename: "hot.go"}
	loc := &profile.Location{ID: 1, Line: []profile.Line{{Function: fn, Line: 3}}}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}, Period: 1e7,
		Sample:   []*profile.Sample{{Location: []*profile.Location{loc}, Value: []int64{3, 3e7}}},
		Location: []*profile.Location{loc}, Function: []*profile.Function{fn},
	}
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func has(p *profile.Profile, fn string) bool {
	for _, s := range p.Sample {
		for _, l := range s.Location {
			for _, line := range l.Line {
				if line.Function != nil && strings.HasSuffix(line.Function.Name, fn) {
					return true
				}
			}
		}
	}
	return false
}

// TestPprofShared checks pprof's pages on a server shared with a room:
// the presenter's alone, since they read source files of the presenter's
// machine.
func TestPprofShared(t *testing.T) {
	s, ts, sh := newShared(t, Options{})
	rec, err := tracerRecording(s)
	if err != nil {
		t.Fatal(err)
	}
	s.profiles.add(rec, tracer.ProfileCPU, smallProfile(t))
	for _, tt := range []struct {
		who    string
		header http.Header
		status int
	}{
		{"presenter", cookie(sh.PresenterToken), 200},
		{"viewer", cookie(sh.ViewerToken), 403},
		{"no one", nil, 403},
		{"a wrong key", cookie("nope"), 403},
	} {
		for _, path := range []string{"/pprof/" + rec + "/top", "/pprof/" + rec + "/download", "/pprof/" + rec + "/window/wall/0/1000000/top"} {
			resp, body := get(t, ts, "GET", "", path, tt.header)
			if resp.StatusCode != tt.status || (tt.status == 403 && strings.Contains(body, "scenarios.hot")) {
				t.Errorf("%s: GET %s: status %d, want %d (%.100q)", tt.who, path, resp.StatusCode, tt.status, body)
			}
		}
	}
}

// TestPprofConcurrent fetches pprof's pages of one profile and of windows
// from many goroutines at once; under -race it shows that building and
// serving the interfaces share no unguarded state.
func TestPprofConcurrent(t *testing.T) {
	s, ts := newTestServer(t, Options{})
	rec, err := tracerRecording(s)
	if err != nil {
		t.Fatal(err)
	}
	s.profiles.add(rec, tracer.ProfileCPU, smallProfile(t))
	paths := []string{"top", "flamegraph", "peek", "source", "window/wall/0/1000000000/top", "window/wall/0/1000000000/flamegraph", "window/cpu/0/5000000/top"}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(paths))
	for range 8 {
		for _, p := range paths {
			wg.Go(func() {
				resp, err := ts.Client().Get(ts.URL + "/pprof/" + rec + "/" + p)
				if err != nil {
					errs <- err.Error()
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- p + ": " + resp.Status
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
