package index

import (
	"encoding/binary"

	"github.com/concviz/concviz/tracer"
)

// The spans of every lane live in one byte arena, in segments. A segment
// holds up to segSpans consecutive closed spans of one lane, each encoded
// as two unsigned varints: the start time minus the previous span's start
// (0 for the first span of a segment, whose start the segment header
// keeps), and the kind. A span ends where the next one starts, so ends are
// not stored. A lane encodes its last segment in a small buffer of its own
// and seals it into the arena, at its exact length, once it is full or the
// goroutine has ended, so that the arena wastes nothing. The arena is made
// of fixed pages that are never moved, which keeps the growth of a big
// index free of copies; they are mapped outside the Go heap where the
// system allows it (see pages_unix.go), so that the garbage collector
// neither scans them nor lets the heap grow in proportion to them.
//
// Each segment also keeps the time its spans spent in each state: a window
// zoomed out so far that a whole segment is shorter than a pixel merges it
// from that sum without decoding it, so that drawing a lane of millions of
// spans costs about as much as drawing one of thousands. The sums are
// float32 (a few parts in ten million are plenty to pick a dominant state),
// accumulated exactly while the segment is the lane's last.

const (
	pageSize = 1 << 20
	segSpans = 128
)

// arena hands out the room of sealed segments from pages.
type arena struct {
	pages *pageSet
	// off is the first free byte of the last page.
	off int
}

// pageSet is the arena's pages; it is its own object so that a cleanup of
// the Index can release them (see New).
type pageSet struct {
	pages  [][]byte
	mapped []bool
}

// free releases the mapped pages. It runs as the cleanup of an Index that
// is no longer reachable, when no query can be reading them: every method
// of Index keeps its receiver alive until it returns, by its deferred
// unlock.
func (ps *pageSet) free() {
	for i, p := range ps.pages {
		if ps.mapped[i] {
			freePage(p)
		}
	}
	ps.pages, ps.mapped = nil, nil
}

// alloc returns the position of a new segment of n bytes (n <= pageSize).
func (a *arena) alloc(n int) uint64 {
	ps := a.pages
	if len(ps.pages) == 0 || a.off+n > pageSize {
		p, mapped := newPage()
		ps.pages = append(ps.pages, p)
		ps.mapped = append(ps.mapped, mapped)
		a.off = 0
	}
	pos := uint64(len(ps.pages)-1)*pageSize + uint64(a.off)
	a.off += n
	return pos
}

// bytes returns the n bytes at pos.
func (a *arena) bytes(pos uint64, n int) []byte {
	p := a.pages.pages[pos/pageSize]
	off := int(pos % pageSize)
	return p[off : off+n : off+n]
}

// size is the bytes the arena holds.
func (a *arena) size() int64 { return int64(len(a.pages.pages)) * pageSize }

// segment is the header of one segment of a lane.
type segment struct {
	// first is the start of the segment's first span.
	first int64
	// pos is where a sealed segment's bytes begin in the arena.
	pos uint64
	// idx is the lane's index of the segment's first span.
	idx uint32
	// size is a sealed segment's length in bytes.
	size uint32
}

// stateSum is the time some spans spent in each state.
type stateSum [tracer.StateLast]int64

// stateSum32 is a stateSum as kept for a sealed segment.
type stateSum32 [tracer.StateLast]float32

// spanList is the closed spans of one lane.
type spanList struct {
	segs []segment
	// sums[i] is the state sum of segs[i], but for the last segment while
	// it is unsealed, whose sum is last.
	sums []stateSum32
	last stateSum
	// buf holds the last segment's bytes until it is sealed.
	buf    []byte
	sealed bool
	// n counts the closed spans.
	n int
	// lastStart is the start of the last span written.
	lastStart int64
}

// add appends a closed span [start, end) (never before the last one) of
// the given kind and state.
func (l *spanList) add(a *arena, start, end int64, kind uint32, state tracer.State) {
	if k := len(l.segs); k == 0 || l.sealed || l.n-int(l.segs[k-1].idx) >= segSpans {
		l.seal(a)
		l.segs = append(l.segs, segment{first: start, idx: uint32(l.n)})
		l.sums = append(l.sums, stateSum32{})
		l.last = stateSum{}
		l.sealed = false
		l.buf = l.buf[:0]
		l.lastStart = start
	}
	if k := len(l.segs); l.n-int(l.segs[k-1].idx) >= isolateAfter && (end-start)*int64(l.n-int(l.segs[k-1].idx)) > isolateRatio*(start-l.segs[k-1].first) {
		// A span far longer than those before it in the segment gets a
		// segment of its own: the rest then stay short enough to be
		// merged without decoding when zoomed out.
		l.seal(a)
		l.add(a, start, end, kind, state)
		l.seal(a)
		return
	}
	l.buf = binary.AppendUvarint(l.buf, uint64(start-l.lastStart))
	l.buf = binary.AppendUvarint(l.buf, uint64(kind))
	l.lastStart = start
	l.n++
	if state < tracer.StateLast {
		l.last[state] += end - start
	}
}

// A span isolateRatio times longer than the average of the isolateAfter or
// more spans before it in its segment is put in a segment of its own. The
// lower bound on the spans before it caps the cost of the extra segment
// headers at a byte or two per span, even in a lane whose spans alternate
// between very short and very long.
const (
	isolateAfter = 64
	isolateRatio = 64
)

// seal moves the last segment into the arena.
func (l *spanList) seal(a *arena) {
	k := len(l.segs)
	if k == 0 || l.sealed {
		return
	}
	s := &l.segs[k-1]
	s.pos, s.size = a.alloc(len(l.buf)), uint32(len(l.buf))
	copy(a.bytes(s.pos, len(l.buf)), l.buf)
	for i, d := range l.last {
		l.sums[k-1][i] = float32(d)
	}
	l.sealed = true
}

// release seals the last segment and frees the lane's buffer: the
// goroutine has ended.
func (l *spanList) release(a *arena) {
	l.seal(a)
	l.buf = nil
}

// segBytes returns the bytes of segment i.
func (l *spanList) segBytes(a *arena, i int) []byte {
	if i == len(l.segs)-1 && !l.sealed {
		return l.buf
	}
	return a.bytes(l.segs[i].pos, int(l.segs[i].size))
}

// sum adds the state sum of segment i to dst.
func (l *spanList) sum(i int, dst *stateSum) {
	if i == len(l.segs)-1 && !l.sealed {
		for st, d := range l.last {
			dst[st] += d
		}
		return
	}
	for st, d := range l.sums[i] {
		dst[st] += int64(d)
	}
}

// count returns the number of spans in segment i.
func (l *spanList) count(i int) int {
	end := l.n
	if i+1 < len(l.segs) {
		end = int(l.segs[i+1].idx)
	}
	return end - int(l.segs[i].idx)
}

// segmentAt returns the index of the last segment whose first span starts
// at or before t, or 0.
func (l *spanList) segmentAt(t int64) int {
	lo, hi := 0, len(l.segs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l.segs[m].first <= t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return max(lo-1, 0)
}
