package web

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concviz/concviz/tracer"
)

// behindMs is BEHIND_MS of web/static/app.js: a live picture older than
// this says so.
const behindMs = 500

// lagLine sits between tracer.Run and the session (the Run seam of
// Options) and holds back the updates handed out in a window of the run,
// by delay each, keeping their order: the updates behind them wait too, as
// they do behind a slow stage of the pipeline. The child runs as ever; the
// page really receives its picture late, and then the whole backlog at
// once.
type lagLine struct {
	// from and to bound the window, from the first update of the run.
	from, to time.Duration
	delay    time.Duration

	mu sync.Mutex
	// passed lists when each update went on to the session, with the
	// child's wall time of its newest event: the freshest picture the page
	// can have at any moment.
	passed []passage
}

// passage is one update handed on to the session.
type passage struct {
	at   time.Time
	wall int64
	held bool
}

// run is Options.Run: tracer.Run, with the updates going through the line.
// The line's goroutine ends before run returns, so the end message follows
// every update.
func (l *lagLine) run(ctx context.Context, opt tracer.RunOptions) (*tracer.Result, error) {
	next := opt.OnUpdate
	type item struct {
		u    *tracer.Update
		due  time.Time
		held bool
	}
	// The reader must never wait on the line, or the child would be slowed
	// down too: a run has a few dozen updates.
	q := make(chan item, 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for it := range q {
			time.Sleep(time.Until(it.due))
			next(it.u)
			l.mu.Lock()
			l.passed = append(l.passed, passage{at: time.Now(), wall: it.u.Wall, held: it.held})
			l.mu.Unlock()
		}
	}()
	var first time.Time
	opt.OnUpdate = func(u *tracer.Update) {
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		it := item{u: u, due: now}
		if since := now.Sub(first); since >= l.from && since < l.to {
			it.due, it.held = now.Add(l.delay), true
		}
		q <- it
	}
	res, err := tracer.Run(ctx, opt)
	close(q)
	<-done
	return res, err
}

// freshest returns the wall time (ns) of the newest event handed on to the
// session at or before t, 0 if none was.
func (l *lagLine) freshest(t time.Time) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var wall int64
	for _, p := range l.passed {
		if p.at.After(t) {
			break
		}
		wall = max(wall, p.wall)
	}
	return wall
}

// statusSample is the page's status line at one moment.
type statusSample struct {
	T     float64 `json:"t"` // Date.now(), ms
	Text  string  `json:"text"`
	State string  `json:"state"`
}

// TestLiveBehind makes a live run fall behind for real and watches the
// page's status line: while the picture is stale the page must say so,
// from its own clock and without waiting for an update ("waiting for the
// program" while nothing arrives, "behind the program by X" while late
// updates do), and it must say plain "Running" again once it has caught
// up. context-ignored's broken variant polls every 10 ms for about a
// second, so updates flow all along.
func TestLiveBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a scenario in a child process, in a browser")
	}
	// Updates of the run's 50th to 250th ms reach the page 600 ms late,
	// and the ones after them wait their turn: the page has nothing new
	// from 0.05 s to 0.65 s, late updates until 0.85 s, and a current
	// picture from then until the child stops at about 1.05 s.
	line := &lagLine{from: 50 * time.Millisecond, to: 250 * time.Millisecond, delay: 600 * time.Millisecond}
	b := newBrowserWith(t, 1280, 800, Options{Run: line.run})
	b.open(t, "")

	// The recorder notes every change of the status line and, besides,
	// what it says every 10 ms; the run starts as the address changes, as
	// it does from a link.
	const record = `(() => {
		window.__status = [];
		const el = document.getElementById('run-status');
		const note = () => window.__status.push({t: Date.now(), text: el.textContent, state: window.concviz.runState});
		new MutationObserver(note).observe(el, {childList: true, characterData: true, subtree: true});
		window.__statusTimer = setInterval(note, 10);
		history.pushState(null, '', '?scenario=context-ignored&variant=broken');
		dispatchEvent(new PopStateEvent('popstate'));
		return true;
	})()`
	eval[bool](t, b, record)
	b.waitEnded(t, "broken")
	var samples []statusSample
	if err := json.Unmarshal([]byte(eval[string](t, b, `clearInterval(window.__statusTimer), JSON.stringify(window.__status)`)), &samples); err != nil {
		t.Fatalf("decode the status samples: %v", err)
	}

	line.mu.Lock()
	passed := append([]passage(nil), line.passed...)
	line.mu.Unlock()
	var firstHeld, lastHeld time.Time
	for _, p := range passed {
		if p.held {
			if firstHeld.IsZero() {
				firstHeld = p.at
			}
			lastHeld = p.at
		}
	}
	if firstHeld.IsZero() {
		t.Fatalf("no update was held back (%d updates): the run was too short to test", len(passed))
	}

	const (
		behind  = "behind the program by"
		waiting = "waiting for the program"
		// slack covers the page's check every 100 ms, the recorder's
		// 10 ms and the hop from the session to the page.
		slack = 150
	)
	var sawWaiting, sawBehind, sawCaughtUp bool
	var log strings.Builder
	for _, s := range samples {
		at := time.UnixMilli(int64(s.T))
		wall := line.freshest(at)
		lag := -1.0
		if wall > 0 {
			lag = float64(at.UnixNano()-wall) / 1e6
		}
		log.WriteString(at.Format("15:04:05.000") + " " + s.State + " lag " + time.Duration(lag*1e6).Round(time.Millisecond).String() + ": " + s.Text + "\n")
		if s.State != "running" || !strings.HasPrefix(s.Text, "Running ") || wall == 0 {
			continue
		}
		honest := strings.Contains(s.Text, behind) || strings.Contains(s.Text, waiting)
		if lag > behindMs+slack && !honest {
			t.Errorf("at %s the page said %q while its newest event was %.0f ms old", at.Format("15:04:05.000"), s.Text, lag)
		}
		switch {
		case at.Before(firstHeld) && strings.Contains(s.Text, waiting):
			// No update arrived: only the page's own clock can say it.
			sawWaiting = true
		case strings.Contains(s.Text, behind):
			sawBehind = true
		case at.After(lastHeld) && !honest && lag < behindMs:
			sawCaughtUp = true
		}
	}
	if !sawWaiting {
		t.Errorf("the page never said %q while no update came", waiting)
	}
	if !sawBehind {
		t.Errorf("the page never said %q while the updates came late", behind)
	}
	if !sawCaughtUp {
		t.Errorf("the page never said plain Running once it had caught up")
	}
	if t.Failed() {
		t.Logf("held updates passed from %s to %s; the status line:\n%s", firstHeld.Format("15:04:05.000"), lastHeld.Format("15:04:05.000"), log.String())
	}
}
