package tracer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/exp/trace"
)

// ErrNotTrace is wrapped by ReadTrace's error for input that is not a Go
// execution trace at all.
var ErrNotTrace = errors.New("not a Go execution trace")

// ReadOptions tunes ReadTrace.
type ReadOptions struct {
	// Progress, if set, is called now and then with the bytes read so far.
	Progress func(read int64)
}

// ReadTrace builds the timeline of a finished trace: one a user brings
// (`go test -trace`, runtime/trace, the flight recorder) or one concviz
// recorded. A trace that breaks off keeps every complete generation and
// says, in Timeline.Warnings, how much was lost; only input that is not a
// trace at all is an error.
func ReadTrace(r io.Reader, opt ReadOptions) (*Timeline, error) {
	cr := &countingReader{r: bufio.NewReaderSize(r, 256<<10), progress: opt.Progress}
	tr, err := trace.NewReader(cr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotTrace, err)
	}
	b := NewBuilder(false)
	var goodBytes int64
	for {
		ev, err := tr.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !b.started {
				return nil, fmt.Errorf("%w: %v", ErrNotTrace, err)
			}
			// Count the rest of the input to say how much was lost.
			io.Copy(io.Discard, cr)
			b.Truncate(err)
			lost := cr.n - goodBytes
			b.tl.Warnings = append(b.tl.Warnings, fmt.Sprintf("about %s of %s (%.0f%%) after the last complete generation could not be used",
				byteSize(lost), byteSize(cr.n), 100*float64(lost)/float64(max(cr.n, 1))))
			break
		}
		if ev.Kind() == trace.EventSync {
			// The reader hands out a generation only once it has read all
			// of it, so what was read by now is good.
			goodBytes = cr.n
		}
		b.Event(&ev)
	}
	if !b.started {
		return nil, fmt.Errorf("%w: it holds no events", ErrNotTrace)
	}
	return b.Finish(), nil
}

// ReadTraceFile is ReadTrace on a file.
func ReadTraceFile(path string, opt ReadOptions) (*Timeline, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tl, err := ReadTrace(f, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tl, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r        io.Reader
	n        int64
	last     int64
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil && (c.n-c.last >= 1<<20 || err != nil) {
		c.last = c.n
		c.progress(c.n)
	}
	return n, err
}

// byteSize formats a byte count for a person.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
