package tracer

import (
	"bytes"
	"errors"
	"io"
	rtrace "runtime/trace"
	"time"

	"golang.org/x/exp/trace"
)

// progressProbe tells the watchdog whether goroutines that look stuck
// really are. Goroutine dumps sample states: a goroutine that a ticker
// wakes every few milliseconds is "select" at every poll, though it makes
// progress. The flight recorder keeps the last moments of the execution
// trace in memory; before calling a deadlock, the watchdog asks it whether
// any of the goroutines changed state during the quiet period.
type progressProbe struct {
	fr  *rtrace.FlightRecorder
	buf bytes.Buffer
}

// newProgressProbe starts the flight recorder beside the main trace. It
// returns nil if the recorder cannot run; the watchdog then trusts the
// dumps alone.
func newProgressProbe() *progressProbe {
	fr := rtrace.NewFlightRecorder(rtrace.FlightRecorderConfig{MinAge: 4 * deadlockQuiet, MaxBytes: 32 << 20})
	if err := fr.Start(); err != nil {
		return nil
	}
	return &progressProbe{fr: fr}
}

func (p *progressProbe) stop() {
	if p != nil {
		p.fr.Stop()
	}
}

// movedWithin reports whether any of the goroutines made a state
// transition during the last window of the trace.
func (p *progressProbe) movedWithin(ids map[int64]bool, window time.Duration) (bool, error) {
	p.buf.Reset()
	if _, err := p.fr.WriteTo(&p.buf); err != nil {
		return false, err
	}
	r, err := trace.NewReader(&p.buf)
	if err != nil {
		return false, err
	}
	var last, lastMove trace.Time
	for {
		ev, err := r.ReadEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false, err
		}
		last = max(last, ev.Time())
		if ev.Kind() != trace.EventStateTransition {
			continue
		}
		st := ev.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine || !ids[int64(st.Resource.Goroutine())] {
			continue
		}
		if from, to := st.Goroutine(); from != to {
			lastMove = max(lastMove, ev.Time())
		}
	}
	return lastMove != 0 && last-lastMove < trace.Time(window), nil
}
