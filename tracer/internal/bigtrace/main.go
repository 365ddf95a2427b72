// Command bigtrace writes a large, reproducible Go execution trace, for
// measuring how concviz copes with traces far bigger than a scenario's.
//
// Usage:
//
//	go run ./tracer/internal/bigtrace -size 127MB -o /tmp/big.trace
//	go run ./tracer/internal/bigtrace -batches 50 -o /tmp/small.trace
//
// The program does a fixed amount of work per batch: pairs of goroutines
// hand a token back and forth over unbuffered channels, contend for a few
// shared mutexes, wait in selects, sleep and make system calls. Every batch
// starts new goroutines, so a big trace also has thousands of lanes, and a
// few long-lived pairs take part in every batch, so that some lanes hold
// millions of spans from the start of the trace to its end. With
// -batches the amount of work is exact; with -size the program stops at the
// first batch boundary after the trace has reached that many bytes. The
// work never depends on the clock: on two busy cores a time bound would
// starve the main goroutine and make sizes unpredictable. Two runs with the
// same flags produce traces of the same shape and about the same size; the
// bytes differ, since the scheduler interleaves goroutines differently.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/trace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bigtrace:", err)
		os.Exit(1)
	}
}

// config is the shape of the work.
type config struct {
	// pairs is the number of ping-pong pairs started per batch.
	pairs int
	// rounds is the number of handoffs each pair makes per batch.
	rounds int
	// long is the number of long-lived pairs, which work in every batch.
	long int
	// batches bounds the work exactly when size is 0.
	batches int
	// size, when positive, stops the work at the first batch boundary at
	// which the trace holds at least this many bytes.
	size int64
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("bigtrace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the trace to this `file` (required)")
	size := fs.String("size", "", "stop after the first batch that brings the trace to this size (e.g. 100MB, 1GB)")
	var c config
	fs.IntVar(&c.batches, "batches", 0, "do exactly this many batches of work (when -size is not given)")
	fs.IntVar(&c.pairs, "pairs", 8, "ping-pong pairs of goroutines started per batch")
	fs.IntVar(&c.rounds, "rounds", 2000, "handoffs per pair per batch")
	fs.IntVar(&c.long, "long", 2, "long-lived pairs of goroutines, working in every batch")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		return errors.New("usage: bigtrace -o FILE (-size SIZE | -batches N)")
	}
	if *size != "" {
		n, err := parseSize(*size)
		if err != nil {
			return err
		}
		c.size = n
	}
	if c.size <= 0 && c.batches <= 0 {
		return errors.New("give -size or -batches")
	}
	if c.pairs <= 0 || c.rounds <= 0 || c.long < 0 {
		return errors.New("-pairs and -rounds must be positive, -long not negative")
	}
	f, err := os.Create(*out)
	if err != nil {
		return fmt.Errorf("create trace: %w", err)
	}
	cw := &countingWriter{w: bufio.NewWriterSize(f, 1<<20)}
	start := time.Now()
	batches, err := generate(cw, c)
	if err == nil {
		err = cw.w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write trace: %w", err)
	}
	fmt.Fprintf(stderr, "bigtrace: wrote %s: %d bytes, %d batches, %d goroutines, in %.1fs\n",
		*out, cw.n.Load(), batches, batches*c.pairs*3+c.long*2, time.Since(start).Seconds())
	return nil
}

// generate traces the work into w and returns the number of batches done.
func generate(w *countingWriter, c config) (int, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	if err := trace.Start(w); err != nil {
		return 0, err
	}
	var mus [4]sync.Mutex
	// Each long-lived pair takes a batch's work from its channel and says
	// on the batch's WaitGroup when it is done.
	longs := make([]chan *sync.WaitGroup, c.long)
	var longWG sync.WaitGroup
	for i := range longs {
		work := make(chan *sync.WaitGroup)
		longs[i] = work
		mu := &mus[i%len(mus)]
		longWG.Go(func() { longPair(c.rounds, work, mu, int(devnull.Fd())) })
	}
	b := 0
	for ; ; b++ {
		if c.size > 0 && w.n.Load() >= c.size || c.size <= 0 && b >= c.batches {
			break
		}
		batch(c, &mus, longs, int(devnull.Fd()))
	}
	for _, work := range longs {
		close(work)
	}
	longWG.Wait()
	trace.Stop()
	return b, w.err
}

// longPair is a pinger that lives as long as the program, with its ponger:
// it does a batch's rounds each time it is given a WaitGroup.
func longPair(rounds int, work <-chan *sync.WaitGroup, mu *sync.Mutex, fd int) {
	ping, alt, pong := make(chan int), make(chan int), make(chan int)
	quit := make(chan struct{})
	go ponger(ping, alt, pong, quit, mu)
	for wg := range work {
		pingRounds(rounds, ping, alt, pong, mu, fd)
		wg.Done()
	}
	close(ping)
	<-quit
}

// batch runs one batch of work and waits for it to finish.
func batch(c config, mus *[4]sync.Mutex, longs []chan *sync.WaitGroup, fd int) {
	var wg sync.WaitGroup
	for _, work := range longs {
		wg.Add(1)
		work <- &wg
	}
	for p := range c.pairs {
		ping, alt, pong := make(chan int), make(chan int), make(chan int)
		quit := make(chan struct{})
		mu := &mus[p%len(mus)]
		wg.Go(func() {
			pingRounds(c.rounds, ping, alt, pong, mu, fd)
			close(ping)
		})
		wg.Go(func() { ponger(ping, alt, pong, quit, mu) })
		wg.Go(func() {
			// The ponger closes quit when the pinger is done: one more
			// goroutine blocked in a receive for most of its life.
			<-quit
		})
	}
	wg.Wait()
}

// pingRounds sends the token (on ping, or every fourth round on alt),
// waits for it to come back and, every few rounds, takes a contended
// mutex, sleeps or makes a system call.
func pingRounds(rounds int, ping, alt chan<- int, pong <-chan int, mu *sync.Mutex, fd int) {
	buf := []byte{0}
	for i := range rounds {
		if i%4 == 0 {
			alt <- i
		} else {
			ping <- i
		}
		<-pong
		switch i % 8 {
		case 1, 5:
			mu.Lock()
			spin(200)
			mu.Unlock()
		case 3:
			time.Sleep(time.Microsecond)
		case 7:
			syscall.Write(fd, buf)
		}
	}
}

// ponger returns the token until ping is closed, waiting for it in a
// select over ping and alt.
func ponger(ping, alt <-chan int, pong chan<- int, quit chan struct{}, mu *sync.Mutex) {
	defer close(quit)
	for {
		var v int
		select {
		case x, ok := <-ping:
			if !ok {
				return
			}
			v = x
		case v = <-alt:
		}
		if v%16 == 9 {
			mu.Lock()
			spin(100)
			mu.Unlock()
		}
		pong <- v
	}
}

// sink keeps spin's loop from being optimised away.
var sink atomic.Uint64

// spin does a little CPU work while holding a lock, so that others wait.
func spin(n int) {
	x := uint64(1)
	for i := range n {
		x = x*6364136223846793005 + uint64(i)
	}
	sink.Add(x)
}

// countingWriter counts the bytes of the trace as the runtime writes them.
type countingWriter struct {
	w   *bufio.Writer
	n   atomic.Int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// parseSize parses a byte count such as "127MB", "1GB", "500K" or "4096".
func parseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, suf := range []struct {
		s string
		m int64
	}{{"GB", 1 << 30}, {"G", 1 << 30}, {"MB", 1 << 20}, {"M", 1 << 20}, {"KB", 1 << 10}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(u, suf.s) {
			u, mult = strings.TrimSuffix(u, suf.s), suf.m
			break
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(u), 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q: want a positive number with an optional KB, MB or GB", s)
	}
	return int64(n * float64(mult)), nil
}
