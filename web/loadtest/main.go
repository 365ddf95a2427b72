// Command loadtest measures a shared room: one presenter and many viewers
// on loopback follow live runs of a real scenario while the presenter moves
// its view, and a few viewers stop reading. It prints one line of figures
// per measure and exits 1 when a target is missed:
//
//	go run ./web/loadtest -viewers 200 -stalled 5 -duration 20s
//
// The presenter's "action" is a view message (what the page sends when the
// cursor, zoom or selection changes), stamped with the time it was sent;
// a viewer's delay is from that stamp to the moment it has read and decoded
// the message. Every viewer must receive every view message and every run's
// started and end, in order. The stalled viewers read their first message
// and then nothing; the room must drop them within a few seconds without
// delaying the others.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/concviz/concviz/tracer"
	"github.com/concviz/concviz/web"
)

func main() {
	// The binary doubles as the scenario's child, as viz does.
	tracer.MaybeRunChild()
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// Config is one load test.
type Config struct {
	Viewers  int
	Stalled  int
	Duration time.Duration
	// Interval is the time between two presenter actions.
	Interval time.Duration
	Scenario string
	Variant  string
	// RunEvery is the time from one run's start to the next, as a
	// teacher starts them; a run still going is left to end first.
	RunEvery time.Duration
	// MaxP99 and MaxDrop are the targets.
	MaxP99  time.Duration
	MaxDrop time.Duration
}

// Result holds the figures of a load test.
type Result struct {
	Actions     int
	Runs        int
	Delays      []time.Duration // every viewer's delay for every action
	Missing     int             // actions or run messages some viewer did not get
	Disordered  int
	Updates     int64 // run updates received by all viewers together
	Bytes       int64 // bytes received by all viewers together
	Largest     int   // the largest message
	StalledDrop []time.Duration
	// Lateness is how late a goroutine of this process woke from a 5 ms
	// sleep, sampled throughout: the delay the machine's scheduler adds
	// to anything here, room or not.
	Lateness  []time.Duration
	HeapStart uint64
	HeapPeak  uint64
	HeapEnd   uint64
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	var c Config
	fs.IntVar(&c.Viewers, "viewers", 200, "viewers that follow")
	fs.IntVar(&c.Stalled, "stalled", 5, "viewers that stop reading")
	fs.DurationVar(&c.Duration, "duration", 20*time.Second, "how long the presenter acts")
	fs.DurationVar(&c.Interval, "interval", 50*time.Millisecond, "time between presenter actions")
	fs.StringVar(&c.Scenario, "scenario", "rate-limiter", "scenario the presenter runs, again and again")
	fs.StringVar(&c.Variant, "variant", "broken", "its variant")
	fs.DurationVar(&c.RunEvery, "run-every", 2*time.Second, "start a run this often (0: back to back)")
	fs.DurationVar(&c.MaxP99, "max-p99", 100*time.Millisecond, "target: p99 delay from action to viewer")
	fs.DurationVar(&c.MaxDrop, "max-drop", 5*time.Second, "target: time to drop a stalled viewer")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole test to `FILE`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := Measure(context.Background(), c, web.Options{Logf: func(string, ...any) {}})
	if err != nil {
		return err
	}
	return Report(out, c, res)
}

// Report prints the figures and returns an error when a target is missed.
func Report(out io.Writer, c Config, r *Result) error {
	slices.Sort(r.Delays)
	pct := func(p float64) time.Duration {
		if len(r.Delays) == 0 {
			return 0
		}
		return r.Delays[min(len(r.Delays)-1, int(p/100*float64(len(r.Delays))))]
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		// The machine may be shared: its load says how much of it the
		// test had.
		fmt.Fprintf(out, "machine: %d CPUs, load average %s\n", runtime.NumCPU(), strings.Join(strings.Fields(string(la))[:3], " "))
	}
	fmt.Fprintf(out, "viewers %d (+%d stalled), %d presenter actions every %v, %d live runs of %s/%s, GOMAXPROCS %d\n",
		c.Viewers, c.Stalled, r.Actions, c.Interval, r.Runs, c.Scenario, c.Variant, runtime.GOMAXPROCS(0))
	fmt.Fprintf(out, "delay action->viewer: p50 %v p90 %v p99 %v max %v over %d deliveries\n",
		pct(50).Round(10*time.Microsecond), pct(90).Round(10*time.Microsecond), pct(99).Round(10*time.Microsecond),
		pct(100).Round(10*time.Microsecond), len(r.Delays))
	if len(r.Lateness) > 0 {
		slices.Sort(r.Lateness)
		q := func(p float64) time.Duration {
			return r.Lateness[min(len(r.Lateness)-1, int(p/100*float64(len(r.Lateness))))].Round(10 * time.Microsecond)
		}
		fmt.Fprintf(out, "scheduler lateness of a 5 ms sleep in this process: p50 %v p99 %v max %v\n", q(50), q(99), q(100))
	}
	fmt.Fprintf(out, "delivery: %d missing, %d out of order; %d run updates received in all (%.0f per viewer)\n",
		r.Missing, r.Disordered, r.Updates, float64(r.Updates)/float64(max(1, c.Viewers)))
	fmt.Fprintf(out, "traffic: %.1f MB to the viewers (%.1f MB/s), largest message %.0f KB\n",
		mb(uint64(r.Bytes)), mb(uint64(r.Bytes))/c.Duration.Seconds(), float64(r.Largest)/1024)
	drops := make([]string, len(r.StalledDrop))
	for i, d := range r.StalledDrop {
		drops[i] = d.Round(10 * time.Millisecond).String()
	}
	fmt.Fprintf(out, "stalled viewers dropped after: %s\n", strings.Join(drops, " "))
	fmt.Fprintf(out, "heap in use: start %.1f MB, peak %.1f MB, end %.1f MB (server and all clients in one process)\n",
		mb(r.HeapStart), mb(r.HeapPeak), mb(r.HeapEnd))
	var errs []error
	if p := pct(99); p > c.MaxP99 {
		errs = append(errs, fmt.Errorf("p99 delay %v over the target %v", p, c.MaxP99))
	}
	if r.Missing > 0 || r.Disordered > 0 {
		errs = append(errs, fmt.Errorf("%d messages missing and %d out of order", r.Missing, r.Disordered))
	}
	if len(r.StalledDrop) < c.Stalled {
		errs = append(errs, fmt.Errorf("%d of %d stalled viewers were never dropped", c.Stalled-len(r.StalledDrop), c.Stalled))
	}
	for _, d := range r.StalledDrop {
		if d > c.MaxDrop {
			errs = append(errs, fmt.Errorf("a stalled viewer was dropped after %v, over the target %v", d, c.MaxDrop))
			break
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("targets missed: %w", err)
	}
	fmt.Fprintln(out, "all targets met")
	return nil
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// stamp is the view the presenter sends: its sequence number and when it
// was sent.
type stamp struct {
	Seq  int   `json:"seq"`
	Sent int64 `json:"sent_ns"`
}

// follower is what one viewer saw.
type follower struct {
	delays     []time.Duration
	lastSeq    int
	disordered int
	seen       int
	started    int
	ends       int
	updates    int64
	bytes      int64
	largest    int
}

// Measure runs one load test against a server built with opt, listening on
// a free loopback port.
func Measure(ctx context.Context, c Config, opt web.Options) (*Result, error) {
	sh, err := web.NewShare()
	if err != nil {
		return nil, err
	}
	opt.Share = sh
	opt.MaxViewers = c.Viewers + c.Stalled + 10
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan string, 1)
	served := make(chan error, 1)
	go func() {
		served <- web.ListenAndServe(ctx, "127.0.0.1:0", opt, func(u string) { ready <- u })
	}()
	var base string
	select {
	case base = <-ready:
	case err := <-served:
		return nil, err
	}
	defer func() { cancel(); <-served }()
	host := strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/")

	res := &Result{}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	res.HeapStart = ms.HeapInuse

	presenter, err := dialRole(host, sh.PresenterToken)
	if err != nil {
		return nil, fmt.Errorf("presenter: %w", err)
	}
	defer presenter.Close()
	// The presenter's page reads its own messages; here they only need
	// draining, and the ends of its runs pace the next run.
	runEnded := make(chan struct{}, 16)
	go func() {
		for {
			_, data, err := presenter.ReadMessage()
			if err != nil {
				return
			}
			var m web.Message
			if json.Unmarshal(data, &m) == nil && m.Type == web.MsgEnd {
				runEnded <- struct{}{}
			}
		}
	}()

	// The stalled viewers read their first message, then nothing.
	stalled := make([]*websocket.Conn, c.Stalled)
	for i := range stalled {
		if stalled[i], err = dialRole(host, sh.ViewerToken); err != nil {
			return nil, fmt.Errorf("stalled viewer %d: %w", i, err)
		}
		stalled[i].WriteJSON(web.Message{Type: web.MsgSync})
		stalled[i].ReadMessage()
		defer stalled[i].Close()
	}
	stallAt := time.Now()

	followers := make([]*follower, c.Viewers)
	var wg sync.WaitGroup
	var connected sync.WaitGroup
	var failures atomic.Int64
	for i := range followers {
		f := &follower{lastSeq: -1}
		followers[i] = f
		conn, err := dialRole(host, sh.ViewerToken)
		if err != nil {
			return nil, fmt.Errorf("viewer %d: %w", i, err)
		}
		// A page asks for the room's state once its socket is open.
		if err := conn.WriteJSON(web.Message{Type: web.MsgSync}); err != nil {
			return nil, fmt.Errorf("viewer %d: %w", i, err)
		}
		connected.Add(1)
		wg.Go(func() {
			defer conn.Close()
			first := true
			for {
				_, data, err := conn.ReadMessage()
				if err != nil {
					if ctx.Err() == nil {
						failures.Add(1)
					}
					return
				}
				at := time.Now()
				f.bytes += int64(len(data))
				f.largest = max(f.largest, len(data))
				// A viewer's page decodes every message. Here the large
				// ones (updates and ends) are only counted, by the type
				// that the encoder always writes first, and the rest
				// decoded for the fields the test reads, so that the
				// clients in this process leave the CPU to the server.
				switch {
				case bytes.HasPrefix(data, []byte(`{"type":"update"`)):
					f.updates++
					continue
				case bytes.HasPrefix(data, []byte(`{"type":"end"`)):
					f.ends++
					continue
				}
				var m struct {
					Type string          `json:"type"`
					View json.RawMessage `json:"view"`
				}
				if err := json.Unmarshal(data, &m); err != nil {
					continue
				}
				if first {
					first = false
					connected.Done()
				}
				switch m.Type {
				case web.MsgView:
					var s stamp
					json.Unmarshal(m.View, &s)
					if s.Seq < 0 {
						return // the last one: this viewer is done
					}
					f.delays = append(f.delays, at.Sub(time.Unix(0, s.Sent)))
					if s.Seq <= f.lastSeq {
						f.disordered++
					}
					f.lastSeq = s.Seq
					f.seen++
				case web.MsgStarted:
					f.started++
				case web.MsgUpdate:
					f.updates++
				case web.MsgEnd:
					f.ends++
				}
			}
		})
	}
	connected.Wait()

	// Watch the room's viewer count to time the drops of stalled viewers,
	// and the heap to see that it stays bounded.
	watchDone := make(chan struct{})
	var watch sync.WaitGroup
	watch.Go(func() {
		for {
			select {
			case <-watchDone:
				return
			default:
			}
			before := time.Now()
			time.Sleep(5 * time.Millisecond)
			res.Lateness = append(res.Lateness, time.Since(before)-5*time.Millisecond)
		}
	})
	watch.Go(func() {
		jar, _ := cookiejar.New(nil)
		u, _ := url.Parse(base)
		jar.SetCookies(u, []*http.Cookie{{Name: "concviz_key", Value: sh.PresenterToken}})
		hc := &http.Client{Jar: jar, Timeout: 5 * time.Second}
		want := c.Viewers + c.Stalled
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-watchDone:
				return
			case <-t.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			res.HeapPeak = max(res.HeapPeak, ms.HeapInuse)
			resp, err := hc.Get(base + "api/room")
			if err != nil {
				continue
			}
			var info web.RoomInfo
			json.NewDecoder(resp.Body).Decode(&info)
			resp.Body.Close()
			for want > c.Viewers && info.Viewers < want {
				want--
				res.StalledDrop = append(res.StalledDrop, time.Since(stallAt))
			}
		}
	})

	// The presenter: runs back to back, and an action every interval.
	runs := 0
	startRun := func() error {
		runs++
		return presenter.WriteJSON(web.Message{Type: web.MsgRun, Scenario: c.Scenario, Variant: c.Variant})
	}
	if err := startRun(); err != nil {
		return nil, err
	}
	running := true
	var next <-chan time.Time
	if c.RunEvery > 0 {
		t := time.NewTicker(c.RunEvery)
		defer t.Stop()
		next = t.C
	}
	tick := time.NewTicker(c.Interval)
	deadline := time.After(c.Duration)
	seq := 0
loop:
	for {
		select {
		case <-tick.C:
			b, _ := json.Marshal(stamp{Seq: seq, Sent: time.Now().UnixNano()})
			if err := presenter.WriteJSON(web.Message{Type: web.MsgView, View: b}); err != nil {
				return nil, err
			}
			seq++
		case <-runEnded:
			running = false
			if c.RunEvery == 0 {
				if err := startRun(); err != nil {
					return nil, err
				}
				running = true
			}
		case <-next:
			if !running {
				if err := startRun(); err != nil {
					return nil, err
				}
				running = true
			}
		case <-deadline:
			break loop
		}
	}
	tick.Stop()
	// Let the last run end, so that every viewer has as many ends as
	// starts, then tell the viewers to stop.
	if running {
		presenter.WriteJSON(web.Message{Type: web.MsgCancel})
		select {
		case <-runEnded:
		case <-time.After(10 * time.Second):
		}
	}
	b, _ := json.Marshal(stamp{Seq: -1})
	presenter.WriteJSON(web.Message{Type: web.MsgView, View: b})
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		return nil, errors.New("viewers did not receive the last message within 30 s")
	}
	close(watchDone)
	watch.Wait()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	res.HeapEnd = ms.HeapInuse

	res.Actions = seq
	res.Runs = runs
	for _, f := range followers {
		res.Delays = append(res.Delays, f.delays...)
		res.Missing += seq - f.seen
		res.Disordered += f.disordered
		res.Updates += f.updates
		res.Bytes += f.bytes
		res.Largest = max(res.Largest, f.largest)
		if f.started != f.ends || f.started < runs-1 {
			res.Missing += max(0, runs-f.started) + max(0, f.started-f.ends)
		}
	}
	if n := failures.Load(); n > 0 {
		return res, fmt.Errorf("%d viewers lost their connection", n)
	}
	return res, nil
}

// dialRole opens a websocket as the page of a browser that joined with tok.
func dialRole(host, tok string) (*websocket.Conn, error) {
	h := http.Header{}
	h.Set("Origin", "http://"+host)
	h.Set("Cookie", "concviz_key="+tok)
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial("ws://"+host+"/ws", h)
	return c, err
}
