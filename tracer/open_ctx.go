package tracer

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"golang.org/x/exp/trace"
)

// ctxCheckEvents is how many events ReadTraceContext builds between two
// looks at its context. The trace reader decodes a whole generation before
// it hands out its first event, so reads alone are too rare a moment to
// notice a cancel; a few thousand events take well under a millisecond.
const ctxCheckEvents = 4096

// ReadTraceContext is ReadTrace that stops when ctx ends: a user who closes
// the tab or opens another file does not leave a parse of a large trace
// running. It then returns an error that wraps the context's error, and no
// timeline.
func ReadTraceContext(ctx context.Context, r io.Reader, opt ReadOptions) (*Timeline, error) {
	cr := &countingReader{r: bufio.NewReaderSize(&ctxReader{ctx: ctx, r: r}, 256<<10), progress: opt.Progress}
	tr, err := trace.NewReader(cr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("read trace: %w", ctx.Err())
		}
		return nil, fmt.Errorf("%w: %v", ErrNotTrace, err)
	}
	b := NewBuilder(false)
	var goodBytes int64
	for n := 1; ; n++ {
		if n%ctxCheckEvents == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("read trace: %w", ctx.Err())
		}
		ev, err := tr.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("read trace: %w", ctx.Err())
			}
			if !b.started {
				return nil, fmt.Errorf("%w: %v", ErrNotTrace, err)
			}
			// Count the rest of the input to say how much was lost.
			io.Copy(io.Discard, cr)
			if ctx.Err() != nil {
				return nil, fmt.Errorf("read trace: %w", ctx.Err())
			}
			b.Truncate(err)
			b.tl.Warnings = append(b.tl.Warnings, LossWarning(cr.n-goodBytes, cr.n))
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

// ctxReader fails every read once its context has ended, which makes the
// trace reader give up wherever it is.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
