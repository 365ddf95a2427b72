package index

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxMatch bounds the text a lane search matches: a goroutine's name is a
// function name, and nobody types more than this to find one.
const MaxMatch = 200

// Find lists the lanes that match, in order of appearance: count of them
// from position first among the matches, and how many lanes match in all.
// A lane matches when its name contains match, ignoring case, or when match
// is its goroutine id ("123" or "G123"); surrounding spaces are ignored,
// and an empty match matches every lane. Hidden lanes never match, as
// Lanes leaves them out. As the index grows, new matches mostly come after
// the old ones; a lane renamed once its first stack shows the function it
// runs (one that sync.WaitGroup.Go started) can join among them, so a
// view that filters while the trace is indexed asks again as it refreshes.
//
// It scans every lane's name under the read lock: tens of thousands of
// lanes take a millisecond or so, far less than one window costs.
func (x *Index) Find(match string, first, count int) (total int, lanes []Lane) {
	m := newMatcher(match)
	first = max(first, 0)
	end := first + max(count, 0)
	x.mu.RLock()
	defer x.mu.RUnlock()
	lanes = []Lane{}
	for _, i := range x.visible {
		ln := x.lanes[i]
		if !m.matches(ln) {
			continue
		}
		if total >= first && total < end {
			lanes = append(lanes, x.laneInfo(ln))
		}
		total++
	}
	return total, lanes
}

// FindIDs is Find for a window: the goroutine ids of the lanes that match,
// count of them from position first, and how many match in all.
func (x *Index) FindIDs(match string, first, count int) (total int, ids []int64) {
	total, lanes := x.Find(match, first, count)
	ids = make([]int64, len(lanes))
	for i, l := range lanes {
		ids[i] = l.ID
	}
	return total, ids
}

// matcher is one search, prepared once for all the lanes it is held to.
type matcher struct {
	// text is the search in lower case; fold says that it is ASCII, so
	// that names can be compared byte by byte without allocating.
	text string
	fold bool
	// id is the goroutine id the search names, or -1.
	id int64
}

func newMatcher(match string) matcher {
	match = strings.TrimSpace(match)
	if len(match) > MaxMatch {
		// Cut at a rune boundary, so that the search stays valid text.
		n := MaxMatch
		for n > 0 && !utf8.RuneStart(match[n]) {
			n--
		}
		match = match[:n]
	}
	m := matcher{id: -1}
	digits := strings.TrimPrefix(strings.TrimPrefix(match, "G"), "g")
	if id, err := strconv.ParseInt(digits, 10, 64); err == nil && id >= 0 && digits != "" && digits[0] != '+' && digits[0] != '-' {
		m.id = id
	}
	m.fold = isASCII(match)
	m.text = strings.ToLower(match)
	return m
}

// matches says whether lane ln matches. It runs with x.mu held.
func (m *matcher) matches(ln *lane) bool {
	if m.text == "" || ln.id == m.id {
		return true
	}
	if !m.fold {
		return strings.Contains(strings.ToLower(ln.name), m.text)
	}
	return containsFold(ln.name, m.text)
}

// containsFold says whether s contains the lower-case ASCII text sub,
// ignoring the case of s's ASCII letters.
func containsFold(s, sub string) bool {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for j < n && lower(s[i+j]) == sub[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
