package main

// Live mode: how many goroutine events per second the live pipeline follows
// from a busy child before it falls behind, and what it does when it does.
//
// The pipeline measured is the one a learner's page uses, end to end: the
// web server's websocket session starts the run, tracer.Run re-executes
// this program as the child, reads its trace generation by generation
// from the pipe, the streaming builder turns each generation into an
// update, the session queues (and coalesces) the updates, and a websocket
// client here reads and decodes them as the page would. The child is a
// scenario of this program alone (tracer.RegisterScenario), so the catalog
// that learners see does not list it.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/concviz/concviz/scenarios"
	"github.com/concviz/concviz/tracer"
	"github.com/concviz/concviz/web"
)

// The busy child and the steps of the measurement.
const (
	liveScenarioID = "bench-live"
	// livePairs is the number of ping-pong pairs of the child: one per
	// core of this machine's kind, so that at high rates the child takes
	// both cores from the reader, as a busy program does.
	livePairs = 2
	// tripEvents is the goroutine state transitions of one round trip of a
	// pair: each side blocks, is woken and runs again.
	tripEvents = 6
	// tickEvents is what one millisecond's sleep of a pair costs in
	// transitions (blocked in sleep, woken, running); the pacing counts
	// them against the rate.
	tickEvents = 3
	// liveBehind is the lag past which the page says it is behind
	// (BEHIND_MS in web/static/app.js): the threshold of "fell behind".
	liveBehind = 500 * time.Millisecond
	// lagEvery is how often the client samples the lag between updates,
	// which is what a person looking at the page would see.
	lagEvery = 10 * time.Millisecond
)

// liveRates are the rates, in goroutine events per second, that the
// measurement steps through.
var liveRates = []int{50_000, 100_000, 200_000, 400_000, 800_000, 1_600_000}

const (
	// liveProduce is how long the child hands off in each run.
	liveProduce = 3 * time.Second
	// liveRepeat is how many times each rate runs.
	liveRepeat = 3
)

func init() {
	// This program is its own child: the scenario must be known before
	// MaybeRunChild looks it up, in the child as in the parent, and an
	// init function runs before main in both.
	tracer.RegisterScenario(liveScenario(liveRates, liveProduce))
	tracer.MaybeRunChild()
}

// liveVariant names the variant that hands off at rate events per second.
func liveVariant(rate int) string { return "rate-" + strconv.Itoa(rate) }

// liveScenario is the busy child: one variant per rate, each handing off
// over unbuffered channels at that rate for produce.
func liveScenario(rates []int, produce time.Duration) *scenarios.Scenario {
	s := &scenarios.Scenario{
		ID:        liveScenarioID,
		Title:     "Goroutines handing off at a set rate (benchmark)",
		Category:  "Benchmarks",
		Statement: "Pairs of goroutines play ping-pong over unbuffered channels, paced every millisecond to a set number of goroutine events per second.",
		Lesson:    true,
	}
	for _, rate := range rates {
		s.Variants = append(s.Variants, scenarios.Variant{
			Name:   liveVariant(rate),
			Expect: scenarios.OK,
			Run:    func(ctx context.Context) error { return handoffs(ctx, rate, produce) },
		})
	}
	return s
}

// handoffs runs livePairs ping-pong pairs for produce, each paced every
// millisecond so that the pairs together make about rate goroutine events
// per second, and prints what they did on one line for the parent:
// "trips N start_ns S end_ns E".
func handoffs(ctx context.Context, rate int, produce time.Duration) error {
	start := time.Now()
	// perPair is the events one pair owes per millisecond.
	perPair := float64(rate) / 1000 / livePairs
	var total atomic.Int64
	var wg sync.WaitGroup
	for range livePairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ping, pong := make(chan int), make(chan int)
			go func() {
				for v := range ping {
					pong <- v
				}
			}()
			defer close(ping)
			trips := 0
			for tick := 1; ; tick++ {
				elapsed := time.Since(start)
				if elapsed >= produce || ctx.Err() != nil {
					break
				}
				// What the pair owes by now, less what it did and
				// what its sleeps cost; a late wake-up makes up.
				owed := elapsed.Seconds()*1000*(perPair-tickEvents)/tripEvents - float64(trips)
				for range int(owed) {
					ping <- trips
					<-pong
					trips++
				}
				time.Sleep(time.Until(start.Add(time.Duration(tick) * time.Millisecond)))
			}
			total.Add(int64(trips))
		}()
	}
	wg.Wait()
	end := time.Now()
	fmt.Printf("trips %d start_ns %d end_ns %d\n", total.Load(), start.UnixNano(), end.UnixNano())
	return nil
}

// liveStep is what one rate's run showed.
type liveStep struct {
	rate int
	// produced is the events per second the child made, from its own
	// count of round trips; start and end bound its handing off.
	produced   float64
	start, end time.Time
	// events counts the span changes that reached the client, and
	// delivered is their rate, from the first update to the last.
	events    int64
	delivered float64
	updates   int
	// lagP50 and lagMax are of the lag sampled every lagEvery while the
	// child handed off: now minus the wall time of the newest event the
	// client had.
	lagP50, lagMax time.Duration
	// traceRate is the child's trace, in bytes per second of handing off.
	traceRate float64
	// readerMax is the largest lag sampled where tracer.Run hands the
	// updates to the session, while the child handed off, or of an update
	// handed out later; it leaves out the session, its JSON and the
	// websocket.
	readerMax time.Duration
	// behind says the lag passed liveBehind while the child handed off:
	// first at behindAt from the start, for behindFor in all.
	behind              bool
	behindAt, behindFor time.Duration
	// drain is how long after the end of the handing off the client had
	// its last generation, the moment it was current again; drained is
	// false when that never came (a run cut short).
	drain   time.Duration
	drained bool
	// wall is from the run message to the end message; serverCPU is the
	// CPU time of this process (server and client) and childCPU the
	// child's over it, in seconds. liveCores is the cores this process
	// kept busy while the child handed off.
	wall                time.Duration
	serverCPU, childCPU float64
	liveCores           float64
	outcome             scenarios.Outcome
	warn                string
	// behindRuns of runs runs of this rate fell behind; this step is the
	// one with the median lag.
	behindRuns, runs int
}

// liveMessage is the part of web.Message that the measurement decodes from
// the messages that are not updates (decodeLive).
type liveMessage struct {
	Type   string `json:"type"`
	Error  string `json:"error"`
	Report *struct {
		Outcome scenarios.Outcome `json:"outcome"`
		Output  string            `json:"output"`
	} `json:"report"`
}

// decodeLive decodes a message that is not an update. Of an end message it
// decodes the report alone, which comes before the timeline: the timeline
// is as large as all the updates together, and decoding it only to drop
// it would double this client's work.
func decodeLive(data []byte, m *liveMessage) error {
	if !bytes.HasPrefix(data, []byte(`{"type":"end"`)) {
		return json.Unmarshal(data, m)
	}
	m.Type = web.MsgEnd
	rest, ok := scanPast(data, `"report":`)
	if !ok {
		// An end without a report is small: it failed.
		return json.Unmarshal(data, m)
	}
	return json.NewDecoder(bytes.NewReader(rest)).Decode(&m.Report)
}

// liveDelta is what the measurement needs of one goroutine of an update:
// the span count it brings the view to is fromSpan+spans.
//
// Updates are scanned for these numbers rather than decoded. Decoding
// them with encoding/json cost this process more CPU than the whole
// server pipeline did (70% of its profile at 400k events/s, 55% with the
// spans left raw), where the page's JSON.parse is native code: it would
// have measured this client instead of the pipeline. The scan relies on
// the field order of tracer.Update and tracer.GoroutineDelta, and on
// spans holding no braces or brackets (their reasons are the runtime's
// words); TestScanUpdate checks it against a decode.
type liveDelta struct {
	id       int64
	fromSpan int
	spans    int
}

// scanUpdate reads the wall time and the goroutine deltas of an update
// message.
func scanUpdate(data []byte) (wall int64, ds []liveDelta, err error) {
	bad := func(what string) (int64, []liveDelta, error) {
		return 0, nil, fmt.Errorf("live: scan an update: %s in %.60q", what, data)
	}
	rest, ok := scanPast(data, `"wall_ns":`)
	if !ok {
		return bad("no wall_ns")
	}
	if wall, rest, ok = scanInt(rest); !ok {
		return bad("no wall time")
	}
	if rest, ok = scanPast(rest, `"goroutines":[`); !ok {
		return bad("no goroutines")
	}
	for len(rest) > 0 && rest[0] != ']' {
		var d liveDelta
		var n int64
		if rest, ok = bytes.CutPrefix(rest, []byte(`{"id":`)); !ok {
			return bad("a delta without an id first")
		}
		if d.id, rest, ok = scanInt(rest); !ok {
			return bad("a bad id")
		}
		if rest, ok = scanPast(rest, `"from_span":`); !ok {
			return bad("no from_span")
		}
		if n, rest, ok = scanInt(rest); !ok {
			return bad("a bad from_span")
		}
		d.fromSpan = int(n)
		if rest, ok = bytes.CutPrefix(rest, []byte(`,"spans":[`)); !ok {
			return bad("no spans after from_span")
		}
		end := bytes.IndexByte(rest, ']')
		if end < 0 {
			return bad("unterminated spans")
		}
		d.spans = bytes.Count(rest[:end], []byte("{"))
		rest = bytes.TrimPrefix(rest[end+1:], []byte("}"))
		rest = bytes.TrimPrefix(rest, []byte(","))
		ds = append(ds, d)
	}
	return wall, ds, nil
}

// scanPast returns what follows the first occurrence of key in b.
func scanPast(b []byte, key string) ([]byte, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return nil, false
	}
	return b[i+len(key):], true
}

// scanInt reads the integer that b starts with.
func scanInt(b []byte) (int64, []byte, bool) {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(string(b[:i]), 10, 64)
	return n, b[i:], err == nil
}

// liveArrival is one update as the client received it.
type liveArrival struct {
	at     time.Time
	wall   int64
	events int64
}

// liveFigures runs the busy child at each of liveRates through a web
// server and a websocket client in this process, and writes what each rate
// showed, the highest rate followed without falling behind, and what
// happened beyond it.
func liveFigures(ctx context.Context, w io.Writer) error {
	return liveFiguresAt(ctx, w, liveRates)
}

// liveFiguresAt measures the given rates, each one of liveRates (the
// variants the child knows).
func liveFiguresAt(ctx context.Context, w io.Writer, rates []int) error {
	ls, err := startLiveServer(func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "benchbig live: "+format+"\n", args...)
	})
	if err != nil {
		return err
	}
	defer ls.stop()

	fmt.Fprintf(w, "live mode: busy child -> tracer.Run -> web session -> websocket client, %d ping-pong pairs paced every ms for %s per run, %d runs per rate (the median by lag shown), trace generations of %s; behind = lag over %s (the page's threshold)\n",
		livePairs, liveProduce, liveRepeat, tracer.TracePeriod, liveBehind)
	fmt.Fprintf(w, "machine: %s/%s, %d CPUs, %s, %s, load average %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), runtime.Version(), loadAverages())
	fmt.Fprintln(w, "made/s: the child's events per second; trace/s: its trace; shown/s: reaching the client; lag: now minus the newest event the client has, sampled every 10 ms while the child runs; reader max: the same where tracer.Run hands updates out, before the session, JSON and websocket; viz cores: CPUs this process (server and client) kept busy while the child ran; wall: run message to end message (the end carries the whole timeline); CPU: seconds of this process and of the child over it")
	fmt.Fprintf(w, "%10s %10s %8s %10s %7s %9s %9s %10s %9s %7s %7s %7s  %s\n", "target/s", "made/s", "trace/s", "shown/s", "updates", "lag p50", "lag max", "reader max", "viz cores", "wall", "CPU viz", "CPU kid", "verdict")
	var steps []liveStep
	for _, rate := range rates {
		// The machine is shared: each rate runs liveRepeat times and the
		// run with the median lag speaks for it, saying how many of the
		// runs fell behind.
		var runs []liveStep
		behind := 0
		for range liveRepeat {
			st, err := ls.step(ctx, rate)
			if err != nil {
				return err
			}
			runs = append(runs, st)
			if st.behind {
				behind++
			}
		}
		slices.SortFunc(runs, func(a, b liveStep) int { return cmp.Compare(a.lagMax, b.lagMax) })
		st := runs[len(runs)/2]
		st.behindRuns, st.runs = behind, len(runs)
		steps = append(steps, st)
		fmt.Fprintf(w, "%10d %10.0f %5.1f MB %10.0f %7d %9s %9s %10s %9.2f %6.1fs %6.1fs %6.1fs  %s\n", st.rate, st.produced, st.traceRate/1e6, st.delivered, st.updates,
			liveMS(st.lagP50), liveMS(st.lagMax), liveMS(st.readerMax), st.liveCores, st.wall.Seconds(), st.serverCPU, st.childCPU, st.verdict())
	}
	fmt.Fprintln(w, liveSummary(steps))
	fmt.Fprintf(w, "what the page does when it falls behind: it checks every 100 ms how old its newest event is and, past %s, says \"behind the program by X\" (or \"waiting for the program\" when nothing new has come), and plain \"Running\" again once caught up (web/live_behind_browser_test.go)\n", liveBehind)
	fmt.Fprintf(w, "load average after: %s\n", loadAverages())
	return nil
}

// verdict says in a few words how the step went.
func (st liveStep) verdict() string {
	var v string
	if !st.behind {
		v = "kept up"
	} else {
		v = fmt.Sprintf("behind for %.1f s of %.1f s (first at %.1f s)", st.behindFor.Seconds(), st.end.Sub(st.start).Seconds(), st.behindAt.Seconds())
	}
	switch {
	case st.drained && st.drain <= tracer.TracePeriod:
		v += ", current within a generation of the child's end"
	case st.drained:
		v += fmt.Sprintf(", current %s after the child stopped", liveMS(st.drain))
	default:
		v += ", never shown the child's last events"
	}
	if st.runs > 1 {
		v = fmt.Sprintf("%d of %d runs behind; median: %s", st.behindRuns, st.runs, v)
	}
	if st.outcome != scenarios.OK {
		v += fmt.Sprintf(" (run ended %s)", st.outcome)
	}
	if st.warn != "" {
		v += " (" + st.warn + ")"
	}
	return v
}

// liveSummary names the highest rate followed without falling behind and
// what the first rate beyond it did.
func liveSummary(steps []liveStep) string {
	kept := -1
	for i, st := range steps {
		if st.behind {
			break
		}
		kept = i
	}
	var b strings.Builder
	switch {
	case kept < 0:
		fmt.Fprintf(&b, "live mode: fell behind already at %d events/s", steps[0].rate)
	default:
		st := steps[kept]
		fmt.Fprintf(&b, "live mode sustains %.0f goroutine events/s shown (target %d, the child made %.0f) with lag p50 %s, max %s",
			st.delivered, st.rate, st.produced, liveMS(st.lagP50), liveMS(st.lagMax))
	}
	if kept+1 < len(steps) {
		st := steps[kept+1]
		fmt.Fprintf(&b, "; at %d (the child made %.0f) it shows %.0f/s: %s; lag up to %s",
			st.rate, st.produced, st.delivered, st.verdict(), liveMS(st.lagMax))
	} else {
		b.WriteString("; it did not fall behind at any rate tried")
	}
	return b.String()
}

// liveServer is a web server of this process on a loopback port, whose
// runs go through a liveProbe.
type liveServer struct {
	srv         *web.Server
	hs          *http.Server
	served      chan error
	url, origin string
	probe       *liveProbe
}

// startLiveServer starts a server; stop ends it.
func startLiveServer(logf func(format string, args ...any)) (*liveServer, error) {
	ls := &liveServer{probe: &liveProbe{}, served: make(chan error, 1)}
	ls.srv = web.NewServer(web.Options{Logf: logf, Run: ls.probe.run})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ls.srv.Close()
		return nil, fmt.Errorf("live: listen: %w", err)
	}
	ls.hs = &http.Server{Handler: ls.srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { ls.served <- ls.hs.Serve(ln) }()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ls.url, ls.origin = "ws://127.0.0.1:"+port+"/ws", "http://localhost:"+port
	return ls, nil
}

// stop ends the sessions first, which kills any child still running, then
// the listener; Serve has returned when stop does.
func (ls *liveServer) stop() {
	ls.srv.Close()
	ls.hs.Close()
	<-ls.served
}

// step runs the child at one rate and follows it as a page would.
func (ls *liveServer) step(ctx context.Context, rate int) (liveStep, error) {
	st := liveStep{rate: rate}
	probe := ls.probe
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, ls.url, http.Header{"Origin": {ls.origin}})
	if err != nil {
		return st, fmt.Errorf("live: dial the server: %w", err)
	}
	defer conn.Close()
	probe.reset()
	cpu0, kid0 := liveCPU()
	t0 := time.Now()
	if err := conn.WriteJSON(web.Message{Type: web.MsgRun, Scenario: liveScenarioID, Variant: liveVariant(rate)}); err != nil {
		return st, fmt.Errorf("live: send the run: %w", err)
	}

	// The reader is the one goroutine that reads the connection; it ends
	// with the run's end message or the connection's failure (the
	// deferred Close above ends it on every other return).
	var newest atomic.Int64 // wall time of the newest event received
	type ended struct {
		arrivals []liveArrival
		end      liveMessage
		err      error
	}
	done := make(chan ended, 1)
	go func() {
		var arrivals []liveArrival
		known := map[int64]int{}
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				done <- ended{arrivals: arrivals, err: fmt.Errorf("live: read: %w", err)}
				return
			}
			if bytes.HasPrefix(data, []byte(`{"type":"update"`)) {
				// Updates are scanned, not decoded (liveDelta).
				wall, ds, err := scanUpdate(data)
				if err != nil {
					done <- ended{arrivals: arrivals, err: err}
					return
				}
				a := liveArrival{at: time.Now(), wall: wall}
				for _, d := range ds {
					if n := d.fromSpan + d.spans; n > known[d.id] {
						a.events += int64(n - known[d.id])
						known[d.id] = n
					}
				}
				arrivals = append(arrivals, a)
				newest.Store(a.wall)
				continue
			}
			var m liveMessage
			if err := decodeLive(data, &m); err != nil {
				done <- ended{arrivals: arrivals, err: fmt.Errorf("live: decode a %.20q message: %w", data, err)}
				return
			}
			switch m.Type {
			case web.MsgEnd:
				done <- ended{arrivals: arrivals, end: m}
				return
			case web.MsgError:
				done <- ended{arrivals: arrivals, err: fmt.Errorf("live: the server says: %s", m.Error)}
				return
			}
		}
	}()

	type sample struct {
		at time.Time
		// lag is the client's, reader the lag where tracer.Run hands
		// the updates out (0 before the first).
		lag, reader time.Duration
		// cpu is this process's CPU time so far.
		cpu time.Duration
	}
	var samples []sample
	tick := time.NewTicker(lagEvery)
	defer tick.Stop()
	var res ended
wait:
	for {
		select {
		case now := <-tick.C:
			if wall := newest.Load(); wall > 0 {
				cpu, _ := liveCPU()
				s := sample{at: now, lag: now.Sub(time.Unix(0, wall)), cpu: cpu}
				if wall := probe.newest.Load(); wall > 0 {
					s.reader = now.Sub(time.Unix(0, wall))
				}
				samples = append(samples, s)
			}
		case res = <-done:
			break wait
		case <-ctx.Done():
			return st, ctx.Err()
		}
	}
	st.wall = time.Since(t0)
	if res.err != nil {
		return st, res.err
	}
	cpu1, kid1 := liveCPU()
	st.serverCPU, st.childCPU = (cpu1 - cpu0).Seconds(), (kid1 - kid0).Seconds()
	if res.end.Error != "" {
		st.warn = res.end.Error
	}
	rep := res.end.Report
	if rep == nil {
		return st, fmt.Errorf("live: rate %d: the run ended without a report (%s)", rate, res.end.Error)
	}
	st.outcome = rep.Outcome
	probe.mu.Lock()
	st.readerMax = max(st.readerMax, probe.maxLag)
	probe.mu.Unlock()
	var trips, startNS, endNS int64
	if _, err := fmt.Sscanf(rep.Output, "trips %d start_ns %d end_ns %d", &trips, &startNS, &endNS); err != nil {
		// A child cut short (a timeout) prints nothing: its start and end
		// are then the run's own.
		st.warn = strings.TrimSpace(st.warn + " the child did not report its handoffs")
		startNS, endNS = t0.UnixNano(), t0.Add(liveProduce).UnixNano()
	}
	st.start, st.end = time.Unix(0, startNS), time.Unix(0, endNS)
	st.traceRate = float64(probe.traceBytes.Load()) / st.end.Sub(st.start).Seconds()
	st.produced = float64(trips*tripEvents+int64(livePairs)*tickEvents*st.end.Sub(st.start).Milliseconds()) / st.end.Sub(st.start).Seconds()

	as := res.arrivals
	st.updates = len(as)
	for _, a := range as {
		st.events += a.events
	}
	if len(as) > 1 {
		if d := as[len(as)-1].at.Sub(as[0].at); d > 0 {
			st.delivered = float64(st.events) / d.Seconds()
		}
	}
	// The cores in use while the child handed off, from the samples
	// nearest its start and end.
	var first, last *sample
	for i := range samples {
		if s := &samples[i]; !s.at.Before(st.start) && s.at.Before(st.end) {
			if first == nil {
				first = s
			}
			last = s
		}
	}
	if first != nil && last != first {
		st.liveCores = (last.cpu - first.cpu).Seconds() / last.at.Sub(first.at).Seconds()
	}
	var lags []time.Duration
	for i, s := range samples {
		if s.at.Before(st.end) {
			lags = append(lags, s.lag)
			st.readerMax = max(st.readerMax, s.reader)
			if s.lag > liveBehind {
				if !st.behind {
					st.behind, st.behindAt = true, s.at.Sub(st.start)
				}
				if i > 0 {
					st.behindFor += s.at.Sub(samples[i-1].at)
				}
			}
		}
	}
	if len(lags) > 0 {
		slices.Sort(lags)
		st.lagP50, st.lagMax = lags[len(lags)/2], lags[len(lags)-1]
	}
	// Past the end of the handing off, the lag of the updates still to
	// come counts as each arrived: the client has nothing newer.
	for _, a := range as {
		if lag := a.at.Sub(time.Unix(0, a.wall)); !a.at.Before(st.end) && lag > st.lagMax {
			st.lagMax = lag
		}
	}
	// The client is current again once an update brings the last
	// generation of the handing off: there is nothing newer to show.
	for _, a := range as {
		if !time.Unix(0, a.wall).Before(st.end.Add(-tracer.TracePeriod)) {
			st.drained, st.drain = true, a.at.Sub(st.end)
			break
		}
	}
	return st, nil
}

// liveProbe watches the updates where tracer.Run hands them to the web
// session, before the session's queue, its JSON and the websocket: the lag
// there is the trace reader's and the builder's alone.
type liveProbe struct {
	// newest is the wall time of the newest event handed out.
	newest atomic.Int64
	mu     sync.Mutex
	// maxLag is the largest lag of an update as it was handed out.
	maxLag time.Duration
	// traceBytes counts the bytes of trace read from the child.
	traceBytes atomic.Int64
}

// countingWriter counts what passes through it to w.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	if c.w == nil {
		return len(p), nil
	}
	return c.w.Write(p)
}

// run is the server's Run: tracer.Run, with every update noted on its way
// to the session.
func (p *liveProbe) run(ctx context.Context, opt tracer.RunOptions) (*tracer.Result, error) {
	next := opt.OnUpdate
	opt.OnUpdate = func(u *tracer.Update) {
		if u.Wall > 0 {
			lag := time.Since(time.Unix(0, u.Wall))
			p.mu.Lock()
			p.maxLag = max(p.maxLag, lag)
			p.mu.Unlock()
			p.newest.Store(u.Wall)
		}
		if next != nil {
			next(u)
		}
	}
	opt.TraceOut = countingWriter{w: opt.TraceOut, n: &p.traceBytes}
	return tracer.Run(ctx, opt)
}

// reset forgets the previous run.
func (p *liveProbe) reset() {
	p.newest.Store(0)
	p.traceBytes.Store(0)
	p.mu.Lock()
	p.maxLag = 0
	p.mu.Unlock()
}

// liveCPU returns the CPU time (user and system) of this process and of
// its children that have been waited for.
func liveCPU() (self, children time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return self, children
}

// liveMS formats a duration in milliseconds.
func liveMS(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
}
