package index

import (
	"encoding/binary"

	"github.com/concviz/concviz/tracer"
)

// The spans of every lane live in one byte arena, in segments. A segment
// holds consecutive closed spans of one lane, each encoded as two unsigned
// varints: the start time minus the previous span's start (0 for the first
// span of a segment, whose start the segment header keeps), and the kind.
// A span ends where the next one starts, so ends are not stored. Segments
// grow from minSeg to maxSeg bytes as a lane gets longer, so that the many
// short-lived goroutines of a big trace waste little and the long-lived
// ones need few headers. The arena is made of fixed pages that are never
// moved, which keeps the growth of a big index free of copies.
//
// Each segment also keeps the time its spans spent in each state: a window
// zoomed out so far that a whole segment fits in one pixel merges it from
// that sum without decoding it, so that drawing a lane of millions of
// spans costs about as much as drawing one of thousands.

const (
	pageSize = 1 << 20
	minSeg   = 64
	maxSeg   = 4096
	// maxRecord is the longest encoding of one span.
	maxRecord = binary.MaxVarintLen64 + binary.MaxVarintLen32
)

// arena hands out segments from pages.
type arena struct {
	pages [][]byte
	// off is the first free byte of the last page.
	off int
}

// alloc returns the position of a new segment of n bytes.
func (a *arena) alloc(n int) uint64 {
	if len(a.pages) == 0 || a.off+n > pageSize {
		a.pages = append(a.pages, make([]byte, pageSize))
		a.off = 0
	}
	pos := uint64(len(a.pages)-1)*pageSize + uint64(a.off)
	a.off += n
	return pos
}

// bytes returns the n bytes at pos.
func (a *arena) bytes(pos uint64, n int) []byte {
	p := a.pages[pos/pageSize]
	off := int(pos % pageSize)
	return p[off : off+n : off+n]
}

// size is the bytes the arena holds.
func (a *arena) size() int64 { return int64(len(a.pages)) * pageSize }

// segment is the header of one segment of a lane.
type segment struct {
	// first is the start of the segment's first span.
	first int64
	// pos is where the segment's bytes begin in the arena.
	pos uint64
	// idx is the lane's index of the segment's first span.
	idx uint32
	// size is the segment's length in bytes.
	size uint32
}

// stateSum is the time a segment's spans spent in each state.
type stateSum [tracer.StateLast]int64

// spanList is the closed spans of one lane.
type spanList struct {
	segs []segment
	// sums[i] is the state sum of segs[i].
	sums []stateSum
	// n counts the closed spans.
	n int
	// Writer state: the write offset in the last segment and the start of
	// the last span written.
	w         int
	lastStart int64
}

// add appends a closed span [start, end) (never before the last one) of
// the given kind and state.
func (l *spanList) add(a *arena, start, end int64, kind uint32, state tracer.State) {
	if len(l.segs) == 0 || l.w+maxRecord > int(l.segs[len(l.segs)-1].size) {
		size := minSeg
		if k := len(l.segs); k > 0 {
			size = min(int(l.segs[k-1].size)*4, maxSeg)
		}
		l.segs = append(l.segs, segment{first: start, pos: a.alloc(size), idx: uint32(l.n), size: uint32(size)})
		l.sums = append(l.sums, stateSum{})
		l.w = 0
		l.lastStart = start
	}
	s := &l.segs[len(l.segs)-1]
	b := a.bytes(s.pos, int(s.size))
	l.w += binary.PutUvarint(b[l.w:], uint64(start-l.lastStart))
	l.w += binary.PutUvarint(b[l.w:], uint64(kind))
	l.lastStart = start
	l.n++
	if state < tracer.StateLast {
		l.sums[len(l.sums)-1][state] += end - start
	}
}

// cursor decodes the closed spans of a lane in order, from some span on.
type cursor struct {
	a   *arena
	l   *spanList
	seg int
	// b is the undecoded rest of the current segment, left how many spans
	// of it remain.
	b    []byte
	left int
	t    int64
}

// seek returns a cursor at the last span that starts at or before t (or at
// the first span when every span starts later).
func (l *spanList) seek(a *arena, t int64) cursor {
	// The last segment whose first span starts at or before t.
	lo, hi := 0, len(l.segs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l.segs[m].first <= t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	c := cursor{a: a, l: l, seg: max(lo-1, 0) - 1}
	c.nextSeg()
	// Decode within the segment (at most a few hundred spans) while the
	// next span still starts at or before t.
	best := c
	for {
		save := c
		s, _, ok := c.next()
		if !ok || s > t {
			return best
		}
		best = save
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

// nextSeg moves to the start of the following segment.
func (c *cursor) nextSeg() bool {
	c.seg++
	if c.seg >= len(c.l.segs) {
		c.b, c.left = nil, 0
		return false
	}
	s := c.l.segs[c.seg]
	c.b = c.a.bytes(s.pos, int(s.size))
	c.left = c.l.count(c.seg)
	c.t = s.first
	return true
}

// next decodes the next span's start and kind.
func (c *cursor) next() (start int64, kind uint32, ok bool) {
	for c.left == 0 {
		if !c.nextSeg() {
			return 0, 0, false
		}
	}
	d, n := binary.Uvarint(c.b)
	k, m := binary.Uvarint(c.b[n:])
	c.b = c.b[n+m:]
	c.left--
	c.t += int64(d)
	return c.t, uint32(k), true
}
