package tracer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrNotTrace is wrapped by ReadTrace's error for input that is not a Go
// execution trace at all.
var ErrNotTrace = errors.New("not a Go execution trace")

// readAhead bounds how far the trace reader reads beyond the events it has
// handed out, which limits how precisely a loss can be measured.
const readAhead = 64 << 10

// LossWarning says how much of a truncated trace of total bytes could not
// be used, lost bytes after its last complete generation. The trace reader
// reads ahead of the events it hands out, so below its read-ahead the count
// is only a bound, and the warning says so.
func LossWarning(lost, total int64) string {
	if lost < readAhead {
		return fmt.Sprintf("the last %s or less of %s, after the last complete generation, could not be used",
			byteSize(readAhead), byteSize(total))
	}
	return fmt.Sprintf("about %s of %s (%.0f%%) after the last complete generation could not be used",
		byteSize(lost), byteSize(total), 100*float64(lost)/float64(max(total, 1)))
}

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
	return ReadTraceContext(context.Background(), r, opt)
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
