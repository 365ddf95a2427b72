package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/concviz/concviz/tracer"
	"github.com/concviz/concviz/tracer/index"
)

// openStats is `viz open --stats FILE`: it parses and indexes the file
// exactly as the server does (index.Build on a goroutine, queried while it
// runs), without serving, and prints one JSON line of figures to measure
// large traces by. A progress bar goes to stderr when it is a terminal. A
// truncated trace is indexed up to its last complete generation, with its
// warnings in the JSON and on stderr; a saved recording is indexed from
// the trace inside it; a file that is neither is an error.
func openStats(ctx context.Context, path string, stdout, stderr io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open trace: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open trace: %w", err)
	}
	// A saved recording (.concviz, capped at a run's trace cap) holds its
	// trace inside: that is what is indexed.
	var in io.Reader = f
	size := fi.Size()
	magic := make([]byte, 4)
	if n, _ := io.ReadFull(f, magic); tracer.IsArchive(magic[:n]) {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("open recording: %w", err)
		}
		rec, err := tracer.LoadRecording(data, filepath.Base(path))
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		in, size = bytes.NewReader(rec.Trace), int64(len(rec.Trace))
	} else if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("open trace: %w", err)
	}
	bar := newProgressBar(stderr, size)
	start := time.Now()
	x := index.New()
	errc := make(chan error, 1)
	go func() {
		errc <- x.Build(ctx, in, index.Options{Size: size, Progress: bar.update})
	}()
	<-x.Ready()
	ready := time.Since(start)
	// The first frame a view would draw: the whole indexed prefix at 1920
	// pixels, for the first 50 lanes.
	x.Window(index.Query{Start: 0, End: x.Stats().Now, Pixels: 1920, Count: 50})
	firstWindow := time.Since(start)
	err = <-errc
	elapsed := time.Since(start)
	bar.clear()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	st := x.Stats()
	for _, w := range st.Warnings {
		fmt.Fprintf(stderr, "viz: warning: %s\n", w)
	}
	out := statsLine{
		File:          path,
		FileBytes:     fi.Size(),
		Events:        st.Events,
		Goroutines:    st.Goroutines,
		Spans:         st.Spans,
		Generations:   st.Generations,
		Stacks:        st.Stacks,
		DurationNS:    st.Now,
		IndexBytes:    st.IndexBytes,
		IndexSeconds:  elapsed.Seconds(),
		ReadySeconds:  ready.Seconds(),
		WindowSeconds: firstWindow.Seconds(),
		PeakRSSBytes:  peakRSS(),
		Truncated:     st.Truncated,
		Warnings:      st.Warnings,
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("encode stats: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}

// statsLine is the JSON line of `viz open --stats`.
type statsLine struct {
	File        string `json:"file"`
	FileBytes   int64  `json:"file_bytes"`
	Events      int64  `json:"events"`
	Goroutines  int    `json:"goroutines"`
	Spans       int64  `json:"spans"`
	Generations int    `json:"generations"`
	Stacks      int    `json:"stacks"`
	DurationNS  int64  `json:"duration_ns"`
	// IndexBytes is the memory of the encoded spans.
	IndexBytes int64 `json:"index_bytes"`
	// IndexSeconds is the time to index the whole file; ReadySeconds the
	// time until its first generation was indexed, when a view can draw;
	// FirstWindowSeconds the time until a first window was answered.
	IndexSeconds  float64 `json:"index_seconds"`
	ReadySeconds  float64 `json:"ready_seconds"`
	WindowSeconds float64 `json:"first_window_seconds"`
	// PeakRSSBytes is this process's peak resident memory.
	PeakRSSBytes int64    `json:"peak_rss_bytes"`
	Truncated    bool     `json:"truncated,omitempty"`
	Warnings     []string `json:"warnings,omitempty"`
}

// peakRSS returns the process's peak resident set size in bytes (Linux
// reports it in kilobytes).
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024
}

// progressBar draws the indexing progress on a terminal, at most ten times
// a second; on anything else it draws nothing.
type progressBar struct {
	w     io.Writer
	total int64
	last  time.Time
	drawn bool
}

// newProgressBar returns a bar on w when w is a terminal, else a bar that
// draws nothing.
func newProgressBar(w io.Writer, total int64) *progressBar {
	f, ok := w.(*os.File)
	if !ok {
		return &progressBar{}
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return &progressBar{}
	}
	return &progressBar{w: w, total: total}
}

// update is the index's progress callback.
func (p *progressBar) update(s index.Stats) {
	if p.w == nil || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.drawn = true
	fmt.Fprintf(p.w, "\r%s", progressText(s.Bytes, p.total, s.Events, 30))
}

// clear erases the bar.
func (p *progressBar) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// progressText is one line of the bar: a gauge of width cells, the share
// read and the events so far.
func progressText(read, total, events int64, width int) string {
	frac := 0.0
	if total > 0 {
		frac = min(float64(read)/float64(total), 1)
	}
	full := int(frac * float64(width))
	return fmt.Sprintf("indexing [%s%s] %3.0f%% %.1f/%.1f MB, %.1fM events",
		strings.Repeat("#", full), strings.Repeat(".", width-full), 100*frac,
		float64(read)/1e6, float64(total)/1e6, float64(events)/1e6)
}
