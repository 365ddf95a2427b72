package web

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/concviz/concviz/scenarios"
	"github.com/concviz/concviz/tracer"
)

// DefaultDataCap bounds the bytes of recordings kept in the data directory.
// A puzzle's run is tens of kilobytes to a few megabytes, so this keeps
// hundreds of runs and still never fills a laptop's disk.
const DefaultDataCap = 512 << 20

// memoryCap bounds the trace bytes of recordings held in memory. Past it the
// oldest leave memory: one saved on disk is read again when asked for, one
// that is not is forgotten.
const memoryCap = 512 << 20

// RecordingInfo is one entry of GET /api/recordings: what the history lists
// of a recording.
type RecordingInfo struct {
	// ID names the recording in the API and the URL: the start of the
	// SHA-256 of its trace, so the same trace always has the same id.
	ID       string            `json:"id"`
	Scenario string            `json:"scenario,omitempty"`
	Variant  string            `json:"variant,omitempty"`
	Outcome  scenarios.Outcome `json:"outcome,omitempty"`
	// Name is the file name of a user's trace.
	Name       string    `json:"name,omitempty"`
	Recorded   time.Time `json:"recorded"`
	TraceBytes int64     `json:"trace_bytes"`
	// Saved says that the recording is in the data directory.
	Saved bool `json:"saved"`
}

// Store keeps recordings: every run of this server's pages, and the traces a
// user opened or uploaded. With a directory, each run is also saved there,
// and the recordings already there are listed; the directory's size is
// capped, and the oldest recordings are deleted to stay under the cap.
// Its methods are safe for concurrent use.
type Store struct {
	dir  string
	cap  int64
	logf func(format string, args ...any)

	mu sync.Mutex
	// entries are the known recordings, oldest first.
	entries []*entry
	byID    map[string]*entry
	// inMemory is the trace bytes of the entries whose recording is loaded.
	inMemory int64
}

// entry is one recording of a store. rec and tl are nil while the
// recording is only on disk.
type entry struct {
	info RecordingInfo
	path string
	rec  *tracer.Recording
	tl   *tracer.Timeline
	// files are the source files named in the timeline's stacks: the only
	// files whose lines the API serves for this recording.
	files map[string]bool
}

// NewStore returns a store that saves into dir (created if needed) and keeps
// it under limit bytes (0 means DefaultDataCap); an empty dir keeps
// recordings in memory only. The recordings already in dir are listed.
func NewStore(dir string, limit int64, logf func(format string, args ...any)) (*Store, error) {
	if limit <= 0 {
		limit = DefaultDataCap
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	s := &Store{dir: dir, cap: limit, logf: logf, byID: map[string]*entry{}}
	if dir == "" {
		return s, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("recordings directory: %w", err)
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*"+tracer.RecordingExt))
	if err != nil {
		return nil, fmt.Errorf("recordings directory: %w", err)
	}
	for _, p := range paths {
		info, err := readInfo(p)
		if err != nil {
			logf("web: skipping recording %s: %v", filepath.Base(p), err)
			continue
		}
		if s.byID[info.ID] == nil {
			e := &entry{info: info, path: p}
			s.entries = append(s.entries, e)
			s.byID[info.ID] = e
		}
	}
	slices.SortStableFunc(s.entries, func(a, b *entry) int { return a.info.Recorded.Compare(b.info.Recorded) })
	return s, nil
}

// Dir returns the directory the store saves into, or "".
func (s *Store) Dir() string { return s.dir }

// recordingID names a trace by its content.
func recordingID(trace []byte) string {
	sum := sha256.Sum256(trace)
	return hex.EncodeToString(sum[:8])
}

// Add keeps a recording with its timeline and returns its id. With save
// (and a directory) the recording is written to the data directory, which
// is then trimmed to its cap. Adding a trace the store already has returns
// the existing id.
func (s *Store) Add(rec *tracer.Recording, tl *tracer.Timeline, save bool) (RecordingInfo, error) {
	info := RecordingInfo{
		ID:         recordingID(rec.Trace),
		Scenario:   rec.Meta.Scenario,
		Variant:    rec.Meta.Variant,
		Outcome:    rec.Meta.Outcome,
		Name:       rec.Meta.Name,
		Recorded:   rec.Meta.Recorded,
		TraceBytes: int64(len(rec.Trace)),
	}
	if info.Recorded.IsZero() {
		info.Recorded = time.Now().UTC().Truncate(time.Millisecond)
	}
	s.mu.Lock()
	if e := s.byID[info.ID]; e != nil {
		if e.rec == nil {
			s.load(e, rec, tl)
		}
		info = e.info
		s.mu.Unlock()
		return info, nil
	}
	e := &entry{info: info}
	s.load(e, rec, tl)
	s.entries = append(s.entries, e)
	s.byID[info.ID] = e
	s.mu.Unlock()

	if !save || s.dir == "" {
		return info, nil
	}
	path := filepath.Join(s.dir, fileName(info))
	if err := rec.SaveFile(path); err != nil {
		return info, err
	}
	s.mu.Lock()
	e.path = path
	e.info.Saved = true
	info = e.info
	s.mu.Unlock()
	s.trim()
	return info, nil
}

// AddFile keeps a recording read from the file at path, which stays where
// it is: it is not copied into the data directory, and when memory runs
// short the recording is read from path again rather than forgotten.
func (s *Store) AddFile(path string, rec *tracer.Recording, tl *tracer.Timeline) (RecordingInfo, error) {
	info, err := s.Add(rec, tl, false)
	if err != nil {
		return info, err
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	s.mu.Lock()
	if e := s.byID[info.ID]; e != nil && e.path == "" {
		e.path = path
	}
	s.mu.Unlock()
	return info, nil
}

// load attaches a recording and its timeline to e and evicts the oldest
// loaded recordings while memory is over memoryCap. s.mu must be held.
func (s *Store) load(e *entry, rec *tracer.Recording, tl *tracer.Timeline) {
	e.rec, e.tl = rec, tl
	e.files = map[string]bool{}
	for _, st := range tl.Stacks {
		for _, f := range st.Frames {
			e.files[f.File] = true
		}
	}
	s.inMemory += int64(len(rec.Trace))
	for _, old := range s.entries {
		if s.inMemory <= memoryCap {
			break
		}
		if old == e || old.rec == nil {
			continue
		}
		s.inMemory -= int64(len(old.rec.Trace))
		old.rec, old.tl, old.files = nil, nil, nil
		if old.path == "" {
			delete(s.byID, old.info.ID)
			s.entries = slices.DeleteFunc(s.entries, func(x *entry) bool { return x == old })
		}
	}
}

// Get returns a recording, its timeline and the files its stacks name,
// reading it from the data directory if it is not in memory.
func (s *Store) Get(id string) (RecordingInfo, *tracer.Recording, *tracer.Timeline, map[string]bool, error) {
	s.mu.Lock()
	e := s.byID[id]
	if e == nil {
		s.mu.Unlock()
		return RecordingInfo{}, nil, nil, nil, fmt.Errorf("no recording %q", clip(id))
	}
	if e.rec != nil {
		defer s.mu.Unlock()
		return e.info, e.rec, e.tl, e.files, nil
	}
	path := e.path
	s.mu.Unlock()

	rec, tl, err := tracer.OpenRecordingFile(path)
	if err != nil {
		return RecordingInfo{}, nil, nil, nil, fmt.Errorf("open recording %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.rec == nil {
		s.load(e, rec, tl)
	}
	return e.info, e.rec, e.tl, e.files, nil
}

// List returns the recordings, newest first.
func (s *Store) List() []RecordingInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RecordingInfo, 0, len(s.entries))
	for i := len(s.entries) - 1; i >= 0; i-- {
		out = append(out, s.entries[i].info)
	}
	return out
}

// trim deletes the oldest saved recordings while the data directory holds
// more than the cap, and says which in the log. The newest recording is
// always kept, even alone over the cap.
func (s *Store) trim() {
	paths, err := filepath.Glob(filepath.Join(s.dir, "*"+tracer.RecordingExt))
	if err != nil {
		return
	}
	type file struct {
		path string
		size int64
		mod  time.Time
	}
	var files []file
	var total int64
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		files = append(files, file{p, fi.Size(), fi.ModTime()})
		total += fi.Size()
	}
	slices.SortFunc(files, func(a, b file) int { return cmp.Or(a.mod.Compare(b.mod), strings.Compare(a.path, b.path)) })
	for len(files) > 1 && total > s.cap {
		f := files[0]
		files = files[1:]
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.logf("web: could not delete old recording %s: %v", filepath.Base(f.path), err)
			continue
		}
		total -= f.size
		s.logf("web: recordings are over %s: deleted the oldest, %s", sizeText(s.cap), filepath.Base(f.path))
		s.mu.Lock()
		for _, e := range s.entries {
			if e.path == f.path {
				e.path = ""
				e.info.Saved = false
				if e.rec == nil {
					delete(s.byID, e.info.ID)
					s.entries = slices.DeleteFunc(s.entries, func(x *entry) bool { return x == e })
				}
				break
			}
		}
		s.mu.Unlock()
	}
}

// fileName is the name a recording is saved under: sortable by time, and
// saying what it is.
func fileName(info RecordingInfo) string {
	what := info.Scenario + "-" + info.Variant
	if info.Scenario == "" {
		what = strings.TrimSuffix(info.Name, filepath.Ext(info.Name))
	}
	what = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, what)
	if what == "" {
		what = "trace"
	}
	return info.Recorded.UTC().Format("20060102-150405.000") + "-" + what + "-" + info.ID[:8] + tracer.RecordingExt
}

// readInfo reads what the list needs of a saved recording: its meta and the
// id of its trace. It decompresses the trace to name it, which costs a
// little at startup and keeps the id the content's.
func readInfo(path string) (RecordingInfo, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return RecordingInfo{}, err
	}
	rec, err := tracer.LoadRecording(data, filepath.Base(path))
	if err != nil {
		return RecordingInfo{}, err
	}
	if !tracer.IsArchive(data) || !bytes.HasPrefix(rec.Trace, []byte("go 1.")) {
		return RecordingInfo{}, fmt.Errorf("not a recording with a trace")
	}
	return RecordingInfo{
		ID:         recordingID(rec.Trace),
		Scenario:   rec.Meta.Scenario,
		Variant:    rec.Meta.Variant,
		Outcome:    rec.Meta.Outcome,
		Name:       rec.Meta.Name,
		Recorded:   rec.Meta.Recorded,
		TraceBytes: int64(len(rec.Trace)),
		Saved:      true,
	}, nil
}

// sizeText formats a byte count for the log.
func sizeText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
