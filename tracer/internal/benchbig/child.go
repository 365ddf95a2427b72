package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/concviz/concviz/tracer/index"
	"golang.org/x/exp/trace"
)

// child makes one measurement on file and writes its result as JSON.
func child(mode, file string, stdout io.Writer) error {
	var r result
	var err error
	switch mode {
	case "bare":
		r, err = bareLoop(file)
	case "index":
		r, err = indexRun(file)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(r)
}

// bareLoop reads every event and does nothing with it: the floor any
// viewer built on x/exp/trace stands on.
func bareLoop(file string) (result, error) {
	f, err := os.Open(file)
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	t0 := time.Now()
	tr, err := trace.NewReader(bufio.NewReaderSize(f, 256<<10))
	if err != nil {
		return result{}, err
	}
	var n int64
	for {
		_, err := tr.ReadEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return result{}, err
		}
		n++
	}
	return result{Events: n, Seconds: time.Since(t0).Seconds()}, nil
}

// indexRun builds the index as the server does, on a goroutine of its own,
// and asks for a first window (all of the indexed time, 1920 pixels, the
// first 50 lanes) as soon as the index is ready.
func indexRun(file string) (result, error) {
	f, err := os.Open(file)
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	t0 := time.Now()
	x := index.New()
	errc := make(chan error, 1)
	go func() { errc <- x.Build(context.Background(), f, index.Options{}) }()
	var r result
	select {
	case <-x.Ready():
	case err := <-errc:
		errc <- err
	}
	w := x.Window(index.Query{Start: 0, End: x.Stats().Now, Pixels: 1920, First: 0, Count: 50})
	r.FirstWindow = time.Since(startTime).Seconds()
	r.FirstLanes = len(w.Lanes)
	for _, l := range w.Lanes {
		r.FirstSpans += len(l.Spans)
	}
	if err := <-errc; err != nil {
		return result{}, err
	}
	r.Seconds = time.Since(t0).Seconds()
	s := x.Stats()
	r.Events, r.Goroutines, r.Spans, r.IndexBytes = s.Events, s.Goroutines, s.Spans, s.IndexBytes
	return r, nil
}
