package web

// Large traces. A user's trace of tens of millions of events is far too big
// for a tracer.Timeline sent whole to the page, so the server indexes it
// (tracer/index) as a stream, on a goroutine it owns, and the page asks for
// the window it shows at the resolution it can draw: spans shorter than a
// pixel come merged, and only the lanes on screen come at all. The page can
// draw as soon as the first generation is indexed and refreshes its window
// while the rest is read. PROTOCOL.md describes the routes and the compact
// form of a window.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/concviz/concviz/tracer"
	"github.com/concviz/concviz/tracer/index"
)

// BigTrace is a trace file that the server indexes instead of reading it
// into a timeline: `viz open` passes the files over its --index-above size.
type BigTrace struct {
	// Path is the trace file. It is opened when the server starts; a file
	// that cannot be opened, or is not a trace, is an error in the trace's
	// status, not a failure of the server.
	Path string
	// Progress, if set, is called on the indexing goroutine about once per
	// megabyte of input, and once more when indexing ends (with Done set),
	// so that a command can draw a progress bar.
	Progress func(index.Stats)

	// wrap, if set, wraps the file's reader: the browser tests slow it
	// down to watch a trace being indexed.
	wrap func(io.Reader) io.Reader
}

// bigTrace is one indexed trace of the server.
type bigTrace struct {
	id   string
	name string
	size int64
	x    *index.Index
	// openErr is why the file could not be opened; it is set before the
	// trace is listed and never changes.
	openErr error
	// started is when indexing began, for the log line at its end.
	started time.Time
	// temp is the file an upload was copied to, deleted when the trace is
	// evicted or the server closes; it is "" for a trace of Options.Big,
	// which belongs to the user.
	temp string
	// cancel stops indexing, and ended is closed once the indexing
	// goroutine has closed the file; both are nil when nothing was opened.
	cancel context.CancelFunc
	ended  chan struct{}
}

// The bounds of what uploaded traces hold. Each is indexed in memory (about
// one to two times its size) and kept on disk until it is evicted: with the
// upload cap of 256 MB, four of them, or a gigabyte of files, is as much as
// a laptop should give to traces nobody may be looking at any more. The
// newest upload is always kept.
const (
	maxBigUploads     = 4
	maxBigUploadBytes = 1 << 30
)

// BigInfo is the answer of GET /api/big/{id}, and an entry of GET /api/big:
// what a trace is and how far its indexing has come.
type BigInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Size is the file's size in bytes.
	Size int64 `json:"size"`
	// Ready says that a window shows real goroutines: the first generation
	// is indexed (or indexing has ended).
	Ready bool `json:"ready"`
	// Stats are the index's figures so far; Stats.Done says that indexing
	// has ended, Stats.Warnings what a truncated trace lost.
	Stats index.Stats `json:"stats"`
	// Error is why indexing failed (the file is not a trace, or cannot be
	// read), or "".
	Error string `json:"error,omitempty"`
	// Lanes is the number of goroutine lanes shown (runtime goroutines
	// left out).
	Lanes int `json:"lanes"`
	// Uploaded says that the trace came from the page rather than the
	// command line: the page opens a trace by itself only if it did not,
	// since an upload is one user's choice in one tab.
	Uploaded bool `json:"uploaded,omitempty"`
}

// BigLanes is the answer of GET /api/big/{id}/lanes.
type BigLanes struct {
	// Total is the number of lanes so far, or of those that match when the
	// request has a match; First is the position of the first lane listed
	// among them.
	Total int `json:"total"`
	First int `json:"first"`
	// All is the number of lanes so far, whether they match or not, so
	// that a view can say "12 of 4,359".
	All   int          `json:"all"`
	Lanes []index.Lane `json:"lanes"`
}

// startBig starts indexing every trace of opt.Big, each on a goroutine that
// ends with the server's context and that Close waits for. A file that
// cannot be opened gets an index that is done at once, with the error.
func (s *Server) startBig() {
	for _, bt := range s.opt.Big {
		b := s.newBig(filepath.Base(bt.Path))
		f, err := os.Open(bt.Path)
		if err == nil {
			var fi os.FileInfo
			if fi, err = f.Stat(); err == nil {
				b.size = fi.Size()
			} else {
				f.Close()
			}
		}
		s.bigMu.Lock()
		s.big = append(s.big, b)
		s.bigMu.Unlock()
		if err != nil {
			b.openErr = fmt.Errorf("open trace: %w", err)
			s.logf("web: cannot index %s: %v", b.name, b.openErr)
			// Build of an empty input ends at once and marks the index
			// done; the status shows openErr instead of Build's error.
			b.x.Build(s.ctx, strings.NewReader(""), index.Options{})
			continue
		}
		s.goIndex(b, f, bt.wrap, bt.Progress)
	}
}

// newBig returns a trace named name with the next id, not yet listed.
func (s *Server) newBig(name string) *bigTrace {
	s.bigMu.Lock()
	s.bigNext++
	id := strconv.Itoa(s.bigNext)
	s.bigMu.Unlock()
	return &bigTrace{id: id, name: name, x: index.New(), started: time.Now()}
}

// goIndex indexes b from f on a goroutine of the server's, which closes f
// when indexing ends, whether it is done, fails, or is stopped by b.cancel
// or the server's context. The caller makes sure that Close has not begun
// waiting for the goroutines (startBig runs before NewServer returns;
// addUpload holds s.mu and checks s.closed).
func (s *Server) goIndex(b *bigTrace, f *os.File, wrap func(io.Reader) io.Reader, progress func(index.Stats)) {
	ctx, cancel := context.WithCancel(s.ctx)
	b.cancel, b.ended = cancel, make(chan struct{})
	s.bigWG.Go(func() {
		defer close(b.ended)
		defer cancel()
		defer f.Close()
		var r io.Reader = f
		if wrap != nil {
			r = wrap(f)
		}
		s.indexBig(ctx, b, r, progress)
	})
}

// indexBig builds b's index from f and logs how it ended.
func (s *Server) indexBig(ctx context.Context, b *bigTrace, f io.Reader, progress func(index.Stats)) {
	err := b.x.Build(ctx, f, index.Options{Size: b.size, Progress: progress})
	st := b.x.Stats()
	if progress != nil {
		progress(st)
	}
	switch {
	case errors.Is(err, context.Canceled):
		// The server is shutting down, or the trace was evicted.
	case err != nil:
		s.logf("web: cannot index %s: %v", b.name, err)
	default:
		s.logf("web: indexed %s: %d events, %d goroutines in %.1fs", b.name, st.Events, st.Goroutines, time.Since(b.started).Seconds())
		for _, w := range st.Warnings {
			s.logf("web: warning: %s: %s", b.name, w)
		}
	}
}

// errClosed is why an upload to be indexed is refused once Close has
// begun; errKeepUpload wraps a failure to copy an upload to its file (a
// full disk), which is the server's fault, not the upload's.
var (
	errClosed     = errors.New("the server is shutting down")
	errKeepUpload = errors.New("keep the upload")
)

// uploadBig copies an uploaded plain trace from r into a file of its own,
// never holding it whole in memory, and indexes it from there like a trace
// of Options.Big. It returns the new trace's status. An error reading r
// (a body over the cap is an *http.MaxBytesError) is returned as it is.
func (s *Server) uploadBig(name string, r io.Reader) (BigInfo, error) {
	f, err := os.CreateTemp(s.opt.uploadDir, "concviz-upload-*.trace")
	if err != nil {
		return BigInfo{}, fmt.Errorf("%w: %w", errKeepUpload, err)
	}
	drop := func() {
		f.Close()
		os.Remove(f.Name())
	}
	n, err := io.Copy(f, r)
	if err != nil {
		drop()
		var werr *os.PathError
		if errors.As(err, &werr) {
			return BigInfo{}, fmt.Errorf("%w: %w", errKeepUpload, err)
		}
		return BigInfo{}, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		drop()
		return BigInfo{}, fmt.Errorf("%w: %w", errKeepUpload, err)
	}
	if name == "" {
		name = "uploaded trace"
	}
	b := s.newBig(name)
	b.size, b.temp = n, f.Name()
	if err := s.addUpload(b, f); err != nil {
		drop()
		return BigInfo{}, err
	}
	return b.info(), nil
}

// addUpload lists b, starts indexing it from f, and evicts the oldest
// uploads past the bounds: their indexing is stopped and their files
// deleted, and their ids answer 404 from then on.
func (s *Server) addUpload(b *bigTrace, f *os.File) error {
	// s.mu is held until b is listed, so that Close either refuses the
	// upload or finds it among the uploads whose files it deletes.
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	s.goIndex(b, f, s.opt.wrapUpload, nil)
	s.bigMu.Lock()
	s.big = append(s.big, b)
	var evicted []*bigTrace
	for {
		count, bytes, oldest := 0, int64(0), -1
		for i, u := range s.big {
			if u.temp == "" {
				continue
			}
			if oldest < 0 {
				oldest = i
			}
			count++
			bytes += u.size
		}
		if count <= 1 || (count <= s.opt.maxBigUploads && bytes <= s.opt.maxBigUploadBytes) {
			break
		}
		evicted = append(evicted, s.big[oldest])
		s.big = append(s.big[:oldest:oldest], s.big[oldest+1:]...)
	}
	s.bigMu.Unlock()
	s.mu.Unlock()

	for _, e := range evicted {
		s.logf("web: closed the indexed upload %s (%s) to make room for %s", e.id, e.name, b.name)
		e.drop()
	}
	return nil
}

// drop stops indexing an uploaded trace, waits for its goroutine to close
// the file, and deletes the file. Queries that already hold the trace
// still get answers from what was indexed.
func (b *bigTrace) drop() {
	if b.cancel != nil {
		b.cancel()
		<-b.ended
	}
	if b.temp != "" {
		os.Remove(b.temp)
	}
}

// removeUploads deletes the files of the uploads still held, once Close has
// stopped their indexing.
func (s *Server) removeUploads() {
	s.bigMu.RLock()
	defer s.bigMu.RUnlock()
	for _, b := range s.big {
		if b.temp != "" {
			b.drop()
		}
	}
}

// info returns b's status.
func (b *bigTrace) info() BigInfo {
	st := b.x.Stats()
	if st.Size == 0 {
		st.Size = b.size
	}
	in := BigInfo{ID: b.id, Name: b.name, Size: b.size, Stats: st, Lanes: b.x.LaneCount(false), Uploaded: b.temp != ""}
	select {
	case <-b.x.Ready():
		in.Ready = true
	default:
	}
	select {
	case <-b.x.Done():
		switch {
		case b.openErr != nil:
			in.Error = b.openErr.Error()
		case b.x.Err() != nil:
			in.Error = b.x.Err().Error()
		}
	default:
	}
	return in
}

// bigByID returns the trace named by the request's {id}, or answers 404,
// saying so when the id was an upload since evicted.
func (s *Server) bigByID(w http.ResponseWriter, r *http.Request) *bigTrace {
	id := r.PathValue("id")
	s.bigMu.RLock()
	for _, b := range s.big {
		if b.id == id {
			s.bigMu.RUnlock()
			return b
		}
	}
	next := s.bigNext
	s.bigMu.RUnlock()
	msg := fmt.Sprintf("no indexed trace %q", clip(id))
	if n, err := strconv.Atoi(id); err == nil && n > len(s.opt.Big) && n <= next && strconv.Itoa(n) == id {
		msg = fmt.Sprintf("no indexed trace %q any more: the server holds the last %d uploads (%s at most) and closed this one to make room for newer ones; open the file again", id, s.opt.maxBigUploads, sizeText(s.opt.maxBigUploadBytes))
	}
	writeJSON(w, http.StatusNotFound, apiError{Error: msg})
	return nil
}

// handleBigList lists the indexed traces.
func (s *Server) handleBigList(w http.ResponseWriter, r *http.Request) {
	s.bigMu.RLock()
	held := append([]*bigTrace(nil), s.big...)
	s.bigMu.RUnlock()
	list := make([]BigInfo, 0, len(held))
	for _, b := range held {
		list = append(list, b.info())
	}
	writeJSON(w, http.StatusOK, list)
}

// handleBig serves one trace's status.
func (s *Server) handleBig(w http.ResponseWriter, r *http.Request) {
	if b := s.bigByID(w, r); b != nil {
		writeJSON(w, http.StatusOK, b.info())
	}
}

// handleBigLanes lists lanes by position, ?first=&count=, among all lanes
// or, with ?match=, among those that match (index.Find).
func (s *Server) handleBigLanes(w http.ResponseWriter, r *http.Request) {
	b := s.bigByID(w, r)
	if b == nil {
		return
	}
	p := params{r: r}
	first := p.int("first", 0, 0, 1<<31-1)
	count := p.int("count", 100, 1, index.MaxLanes)
	match, filtered := p.match()
	if p.err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: p.err.Error()})
		return
	}
	// The count of all lanes is read first: lanes only ever come, so that
	// the matches are never more than all.
	all := b.x.LaneCount(false)
	ans := BigLanes{Total: all, First: first, All: all}
	if filtered {
		ans.Total, ans.Lanes = b.x.Find(match, first, count)
		ans.All = max(all, ans.Total)
	} else {
		ans.Lanes = b.x.Lanes(first, count, false)
	}
	writeJSON(w, http.StatusOK, ans)
}

// maxLanePixels bounds count × px of a window request. A lane's answer
// holds at most about two spans a pixel, so this bounds an answer to a few
// million spans however it is asked, while a screen of a hundred lanes at
// 16,000 pixels (a view asks for about a tenth of that) stays within it.
const maxLanePixels = 1 << 21

// handleBigWindow answers a window: ?start=&end= in ns since the first
// event, px the width on screen, first and count the lanes, by position
// among all lanes or, with match, among those that match. Its body is the
// compact form of PROTOCOL.md, written by appendWindow.
func (s *Server) handleBigWindow(w http.ResponseWriter, r *http.Request) {
	b := s.bigByID(w, r)
	if b == nil {
		return
	}
	p := params{r: r}
	start := p.int64("start", 0, 0, 1<<62)
	end := p.int64("end", -1, 1, 1<<62)
	px := p.int("px", 0, 1, index.MaxPixels)
	first := p.int("first", 0, 0, 1<<31-1)
	count := p.int("count", 50, 1, index.MaxLanes)
	match, filtered := p.match()
	switch {
	case p.err != nil:
	case end <= start:
		p.err = fmt.Errorf("end (%d) must be after start (%d)", end, start)
	case count*px > maxLanePixels:
		p.err = fmt.Errorf("count × px is %d, over %d: ask for fewer lanes or pixels", count*px, maxLanePixels)
	}
	if p.err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: p.err.Error()})
		return
	}
	q := index.Query{Start: start, End: end, Pixels: px, First: first, Count: count}
	total := b.x.LaneCount(false)
	if filtered {
		// The lanes are positions among the matches: the window asks for
		// them by id, and its total is the number of matches.
		total, q.IDs = b.x.FindIDs(match, first, count)
		if len(q.IDs) == 0 {
			// No id at all would mean lanes by position: ask for none.
			q.Count = 0
		}
	}
	win := b.x.Window(q)
	body := appendWindow(make([]byte, 0, 4096), win, first, total)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(body)
}

// handleBigStack serves entry {i} of a trace's stack table.
func (s *Server) handleBigStack(w http.ResponseWriter, r *http.Request) {
	b := s.bigByID(w, r)
	if b == nil {
		return
	}
	i, err := strconv.Atoi(r.PathValue("i"))
	if err != nil || i < 0 {
		writeJSON(w, http.StatusBadRequest, apiError{Error: fmt.Sprintf("stack %q: want a stack index, 0 or more", clip(r.PathValue("i")))})
		return
	}
	st := b.x.Stack(i)
	if st == nil {
		writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("no stack %d", i)})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// params reads integer query parameters, keeping the first error.
type params struct {
	r   *http.Request
	err error
}

// int64 returns parameter name, or def when it is absent and def is in
// [lo, hi]; an absent parameter without a valid default, a value that is
// not an integer, or one out of [lo, hi] is an error.
func (p *params) int64(name string, def, lo, hi int64) int64 {
	if p.err != nil {
		return 0
	}
	v := p.r.URL.Query().Get(name)
	if v == "" {
		if def < lo || def > hi {
			p.err = fmt.Errorf("missing parameter %s", name)
		}
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		p.err = fmt.Errorf("parameter %s=%q: want an integer", name, clip(v))
		return 0
	}
	if n < lo || n > hi {
		p.err = fmt.Errorf("parameter %s=%d: want %d to %d", name, n, lo, hi)
		return 0
	}
	return n
}

// match returns the lane search of parameter match, and whether there is
// one: an absent or blank match lists every lane. A search longer than
// index.MaxMatch bytes is an error rather than cut, since its answer would
// not be the one asked for.
func (p *params) match() (string, bool) {
	if p.err != nil {
		return "", false
	}
	v := strings.TrimSpace(p.r.URL.Query().Get("match"))
	if len(v) > index.MaxMatch {
		p.err = fmt.Errorf("parameter match: %d bytes, want at most %d", len(v), index.MaxMatch)
		return "", false
	}
	return v, v != ""
}

// int is int64 for parameters that fit an int.
func (p *params) int(name string, def, lo, hi int) int {
	return int(p.int64(name, int64(def), int64(lo), int64(hi)))
}

// appendWindow appends the compact JSON of a window (PROTOCOL.md, "Large
// traces"): per lane, parallel arrays of small integers instead of an
// object per span, which is about a fifth of the size and far quicker to
// write and to parse. Times are deltas: a span's gap after the previous
// span's end (the window's start for the first), and its duration.
// Reasons are interned in one table per answer.
func appendWindow(b []byte, win index.Window, first, total int) []byte {
	reasons := map[string]int{"": 0}
	table := []string{""}
	b = append(b, `{"start":`...)
	b = strconv.AppendInt(b, win.Start, 10)
	b = append(b, `,"end":`...)
	b = strconv.AppendInt(b, win.End, 10)
	b = append(b, `,"pixels":`...)
	b = strconv.AppendInt(b, int64(win.Pixels), 10)
	b = append(b, `,"resolution_ns":`...)
	b = strconv.AppendInt(b, win.Resolution, 10)
	b = append(b, `,"now_ns":`...)
	b = strconv.AppendInt(b, win.Now, 10)
	b = append(b, `,"done":`...)
	b = strconv.AppendBool(b, win.Done)
	b = append(b, `,"first":`...)
	b = strconv.AppendInt(b, int64(first), 10)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, `,"lanes":[`...)
	for li, ln := range win.Lanes {
		if li > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, ln.ID, 10)
		prev := win.Start
		if len(ln.Spans) > 0 {
			prev = min(prev, ln.Spans[0].Start)
		}
		b = append(b, `,"t0":`...)
		b = strconv.AppendInt(b, prev, 10)
		field := func(name string, f func(sp *index.Span) int64) {
			b = append(b, `,"`...)
			b = append(b, name...)
			b = append(b, `":[`...)
			for i := range ln.Spans {
				if i > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendInt(b, f(&ln.Spans[i]), 10)
			}
			b = append(b, ']')
		}
		last := prev
		field("gap", func(sp *index.Span) int64 {
			g := sp.Start - last
			last = sp.End
			return g
		})
		field("dur", func(sp *index.Span) int64 { return sp.End - sp.Start })
		field("state", func(sp *index.Span) int64 { return int64(sp.State) })
		field("merged", func(sp *index.Span) int64 {
			if sp.Mixed {
				return -int64(sp.Merged)
			}
			return int64(sp.Merged)
		})
		field("stack", func(sp *index.Span) int64 { return int64(sp.Stack) })
		field("reason", func(sp *index.Span) int64 {
			i, ok := reasons[sp.Reason]
			if !ok {
				i = len(table)
				reasons[sp.Reason] = i
				table = append(table, sp.Reason)
			}
			return int64(i)
		})
		b = append(b, '}')
	}
	// Strings of the runtime (reasons, state names) are few and short:
	// encoding/json quotes them as JSON wants.
	rs, _ := json.Marshal(table)
	ss, _ := json.Marshal(tracer.StateNames())
	b = append(b, `],"reasons":`...)
	b = append(b, rs...)
	b = append(b, `,"states":`...)
	b = append(b, ss...)
	return append(b, "}\n"...)
}
