package tracer

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/concviz/concviz/scenarios"
)

// A recording is one run kept for later: the raw execution trace, exactly as
// the runtime wrote it, and what concviz knew about the run. It is saved as a
// zip archive (extension RecordingExt) that holds
//
//	trace.out    the untouched trace; unzipped, it opens in `go tool trace`
//	meta.json    RecordingMeta: scenario, variant, outcome, Go version, time,
//	             and (optional) the names and hidden flags of lanes that
//	             concviz's analysis gave and the trace cannot say
//	report.json  the exact Report of the run (absent for a user's trace)
//	stdout.txt   what the scenario printed (a copy of Report.Output)
//	stderr.txt   the crash output and the race report (Report.Crash, .Race)
//
// The trace is the record; the other entries are what the trace cannot say
// (DESIGN.md, decision 7). The text files are there for a person who opens
// the archive by hand: report.json is what concviz reads back. A plain trace
// file is accepted wherever a recording is, so that a user's `go test -trace`
// output and a recording open the same way.

// RecordingExt is the file name extension of a saved recording.
const RecordingExt = ".concviz"

// RecordingFormat is the version of the archive layout that Save writes.
// Load reads this version and refuses later ones, which it cannot know.
const RecordingFormat = 1

// Names of the archive's entries.
const (
	entryTrace  = "trace.out"
	entryMeta   = "meta.json"
	entryReport = "report.json"
	entryStdout = "stdout.txt"
	entryStderr = "stderr.txt"
)

// maxMetaBytes bounds the small JSON entries read from an archive; a report
// holds capped outputs, so a bigger one is not ours.
const maxMetaBytes = 8 << 20

// ErrNotRecording is wrapped by LoadRecording's error for a zip archive that
// is not a concviz recording.
var ErrNotRecording = errors.New("not a concviz recording")

// RecordingMeta is meta.json: what a recording is of.
type RecordingMeta struct {
	Format int `json:"format"`
	// Scenario and Variant name the run; both are empty for a user's trace.
	Scenario string `json:"scenario,omitempty"`
	Variant  string `json:"variant,omitempty"`
	// Outcome is the report's outcome, so that a list of recordings can
	// show it without reading the report.
	Outcome scenarios.Outcome `json:"outcome,omitempty"`
	// GoVersion is the Go release that recorded the trace.
	GoVersion string `json:"go_version"`
	// Recorded is when the run ended.
	Recorded time.Time `json:"recorded"`
	// Name is the base name of the file a user's trace came from, or what
	// the recording is of (the package viz test ran).
	Name string `json:"name,omitempty"`
	// Names renames lanes: goroutine id (as in the trace) to the name the
	// timeline shows. viz test names each test's goroutine after its test
	// ("TestFoo", "TestFoo/sub"), which the trace cannot say: every one
	// starts in testing.tRunner. Goroutines it does not list keep the name
	// of their start function. Optional: recordings without it open with
	// the trace's own names.
	Names map[int64]string `json:"names,omitempty"`
	// Hidden lists goroutines, by trace id, that the timeline hides beyond
	// those the trace shows to be the runtime's: viz test's watchdog.
	// Optional, like Names.
	Hidden []int64 `json:"hidden,omitempty"`
}

// apply gives a timeline rebuilt from the recording's trace the lane names
// and hidden flags that the meta carries.
func (m *RecordingMeta) apply(tl *Timeline) {
	if len(m.Names) == 0 && len(m.Hidden) == 0 {
		return
	}
	for _, g := range tl.Goroutines {
		if name, ok := m.Names[g.ID]; ok {
			g.Name = name
		}
		if slices.Contains(m.Hidden, g.ID) {
			g.Hidden = true
		}
	}
}

// Recording is a run in memory: the trace and what came with it.
type Recording struct {
	Meta  RecordingMeta
	Trace []byte
	// Report is nil for a user's trace, which has no diagnosis of ours.
	Report *Report
}

// NewRecording returns the recording of a finished run whose raw trace is
// trace (what RunOptions.TraceOut received).
func NewRecording(trace []byte, rep *Report) *Recording {
	rec := &Recording{
		Meta: RecordingMeta{
			Format:    RecordingFormat,
			GoVersion: runtime.Version(),
			Recorded:  time.Now().UTC().Truncate(time.Millisecond),
		},
		Trace:  trace,
		Report: rep,
	}
	if rep != nil {
		rec.Meta.Scenario, rec.Meta.Variant, rec.Meta.Outcome = rep.Scenario, rep.Variant, rep.Outcome
	}
	return rec
}

// archiveEntry is one file of an archive to write: bytes as they are, or
// a value written as indented JSON.
type archiveEntry struct {
	name string
	data any
}

// Save writes the recording as a zip archive.
func (r *Recording) Save(w io.Writer) error {
	zw := zip.NewWriter(w)
	meta := r.Meta
	meta.Format = RecordingFormat
	entries := []archiveEntry{{entryTrace, r.Trace}, {entryMeta, meta}}
	if r.Report != nil {
		entries = append(entries, archiveEntry{entryReport, r.Report})
		if r.Report.Output != "" {
			entries = append(entries, archiveEntry{entryStdout, []byte(r.Report.Output)})
		}
		if stderr := r.Report.Crash + r.Report.Race; stderr != "" {
			entries = append(entries, archiveEntry{entryStderr, []byte(stderr)})
		}
	}
	for _, e := range entries {
		b, ok := e.data.([]byte)
		if !ok {
			var err error
			if b, err = json.MarshalIndent(e.data, "", "  "); err != nil {
				return fmt.Errorf("save recording: encode %s: %w", e.name, err)
			}
			b = append(b, '\n')
		}
		f, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: r.Meta.Recorded})
		if err != nil {
			return fmt.Errorf("save recording: %w", err)
		}
		if _, err := f.Write(b); err != nil {
			return fmt.Errorf("save recording: write %s: %w", e.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("save recording: %w", err)
	}
	return nil
}

// SaveFile writes the recording to path, through a temporary file in the
// same directory, so that a reader never sees half an archive.
func (r *Recording) SaveFile(path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".recording-*")
	if err != nil {
		return fmt.Errorf("save recording: %w", err)
	}
	defer os.Remove(f.Name())
	if err := r.Save(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save recording: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("save recording: %w", err)
	}
	return nil
}

// IsArchive reports whether data starts like a zip archive, that is, like a
// saved recording rather than a raw trace.
func IsArchive(data []byte) bool {
	return bytes.HasPrefix(data, []byte("PK\x03\x04"))
}

// LoadRecording reads a saved recording or a raw trace. For a raw trace,
// the recording has no report and its meta says what the trace itself says
// (a trace recorded by concviz names its scenario and variant); name is the
// file's base name, kept for a user's trace. The trace is not parsed here:
// see OpenRecording.
func LoadRecording(data []byte, name string) (*Recording, error) {
	if !IsArchive(data) {
		return &Recording{
			Meta:  RecordingMeta{Format: RecordingFormat, Name: name},
			Trace: data,
		}, nil
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotRecording, err)
	}
	rec := &Recording{}
	var haveTrace, haveMeta bool
	for _, f := range zr.File {
		switch f.Name {
		case entryTrace:
			if f.UncompressedSize64 > TraceCap {
				return nil, fmt.Errorf("%w: its trace is %s, over the cap of %s", ErrNotRecording,
					byteSize(int64(f.UncompressedSize64)), byteSize(TraceCap))
			}
			if rec.Trace, err = readEntry(f, TraceCap); err != nil {
				return nil, err
			}
			haveTrace = true
		case entryMeta:
			if err := readJSONEntry(f, &rec.Meta); err != nil {
				return nil, err
			}
			haveMeta = true
		case entryReport:
			rec.Report = new(Report)
			if err := readJSONEntry(f, rec.Report); err != nil {
				return nil, err
			}
		}
	}
	if !haveTrace || !haveMeta {
		return nil, fmt.Errorf("%w: the archive lacks %s or %s", ErrNotRecording, entryTrace, entryMeta)
	}
	if rec.Meta.Format > RecordingFormat {
		return nil, fmt.Errorf("recording format %d is newer than this concviz reads (%d); update concviz", rec.Meta.Format, RecordingFormat)
	}
	return rec, nil
}

// OpenRecording loads a recording or a raw trace and builds its timeline.
// A raw trace's meta is filled from the timeline: the scenario and variant
// a concviz trace names. Errors wrap ErrNotTrace or ErrNotRecording for
// input that is neither.
func OpenRecording(data []byte, name string) (*Recording, *Timeline, error) {
	rec, err := LoadRecording(data, name)
	if err != nil {
		return nil, nil, err
	}
	tl, err := ReadTrace(bytes.NewReader(rec.Trace), ReadOptions{})
	if err != nil {
		return nil, nil, err
	}
	if rec.Meta.Scenario == "" {
		rec.Meta.Scenario, rec.Meta.Variant = tl.Scenario, tl.Variant
	}
	rec.Meta.apply(tl)
	return rec, tl, nil
}

// OpenRecordingFile is OpenRecording on a file, refusing one over TraceCap
// before reading it.
func OpenRecordingFile(path string) (*Recording, *Timeline, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() > TraceCap {
		return nil, nil, fmt.Errorf("%s: %s is over the cap of %s", path, byteSize(fi.Size()), byteSize(TraceCap))
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	rec, tl, err := OpenRecording(data, filepath.Base(path))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return rec, tl, nil
}

// readEntry reads an archive entry of at most max bytes.
func readEntry(f *zip.File, max int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %v", ErrNotRecording, f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", ErrNotRecording, f.Name, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: %s is over %s", ErrNotRecording, f.Name, byteSize(max))
	}
	return b, nil
}

// readJSONEntry decodes a small JSON entry of an archive into v.
func readJSONEntry(f *zip.File, v any) error {
	b, err := readEntry(f, maxMetaBytes)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: decode %s: %v", ErrNotRecording, f.Name, err)
	}
	return nil
}
