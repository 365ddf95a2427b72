package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/concviz/concviz/tracer"
)

// DefaultMaxUpload caps the size of a trace uploaded from the page: the
// same cap as the trace of a run.
const DefaultMaxUpload = tracer.TraceCap

// maxSourceBytes bounds a source file served for a user's trace.
const maxSourceBytes = 2 << 20

// RecordingView is the answer of GET /api/recordings/{id}: everything the
// page draws of a recording.
type RecordingView struct {
	Recording RecordingInfo        `json:"recording"`
	Meta      tracer.RecordingMeta `json:"meta"`
	// Report is the run's diagnosis; absent for a user's trace.
	Report   *tracer.Report   `json:"report,omitempty"`
	Timeline *tracer.Timeline `json:"timeline"`
}

// UploadResult is the answer of POST /api/recordings.
type UploadResult struct {
	Recording RecordingInfo `json:"recording"`
	// Warnings say what could not be read of a truncated trace.
	Warnings []string `json:"warnings,omitempty"`
}

// FileSource is the answer of GET /api/recordings/{id}/source?file=PATH.
type FileSource struct {
	File   string `json:"file"`
	Source string `json:"source"`
}

// StartView is the answer of GET /api/start: the recordings the page opens
// when its address names nothing, as `viz open FILE [FILE2]` asks.
type StartView struct {
	Open []string `json:"open"`
}

// handleRecordings lists the recordings, newest first.
func (s *Server) handleRecordings(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.store.List())
}

// handleUpload keeps a trace or a recording the user dropped on the page.
// The body is the file itself; ?name= is its file name. A body over the cap
// is refused before it is read, by its length, or as soon as it passes the
// cap. Cross-site posts are refused by the cross-origin protection around
// every route.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	limit := s.opt.MaxUpload
	if r.ContentLength > limit {
		writeJSON(w, http.StatusRequestEntityTooLarge, apiError{Error: fmt.Sprintf("the file is %s; the largest trace this server takes is %s", sizeText(r.ContentLength), sizeText(limit))})
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, apiError{Error: fmt.Sprintf("the file is over %s, the largest trace this server takes", sizeText(limit))})
			return
		}
		writeJSON(w, http.StatusBadRequest, apiError{Error: "read the upload: " + err.Error()})
		return
	}
	name := clip(path.Base(strings.ReplaceAll(r.URL.Query().Get("name"), `\`, "/")))
	if name == "." || name == "/" {
		name = ""
	}
	rec, tl, err := tracer.OpenRecording(data, name)
	if err != nil {
		shown := name
		if shown == "" {
			shown = "the file"
		}
		writeJSON(w, http.StatusBadRequest, apiError{Error: fmt.Sprintf("%s cannot be opened: %v", shown, err)})
		return
	}
	info, err := s.store.Add(rec, tl, true)
	if err != nil {
		// Kept in memory; only the copy in the data directory failed.
		s.logf("web: save uploaded trace: %v", err)
	}
	writeJSON(w, http.StatusOK, UploadResult{Recording: info, Warnings: tl.Warnings})
}

// handleRecording answers one recording: its meta, report and timeline,
// without the hidden goroutines unless ?hidden=1.
func (s *Server) handleRecording(w http.ResponseWriter, r *http.Request) {
	info, rec, tl, _, err := s.store.Get(r.PathValue("id"))
	if err != nil {
		writeJSON(w, http.StatusNotFound, apiError{Error: err.Error()})
		return
	}
	if r.URL.Query().Get("hidden") != "1" {
		tl = withoutHidden(tl)
	}
	writeJSON(w, http.StatusOK, RecordingView{Recording: info, Meta: rec.Meta, Report: rec.Report, Timeline: tl})
}

// handleRecordingFile downloads a recording as one .concviz archive.
func (s *Server) handleRecordingFile(w http.ResponseWriter, r *http.Request) {
	info, rec, _, _, err := s.store.Get(r.PathValue("id"))
	if err != nil {
		writeJSON(w, http.StatusNotFound, apiError{Error: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fileName(info)))
	w.Header().Set("Cache-Control", "no-store")
	if err := rec.Save(w); err != nil {
		s.logf("web: download recording %s: %v", info.ID, err)
	}
}

// handleRecordingSource serves a local source file named in a recording's
// stacks, so that the code pane of a user's trace can show its lines. Only
// files that the trace itself names are served, never another path.
func (s *Server) handleRecordingSource(w http.ResponseWriter, r *http.Request) {
	_, _, _, files, err := s.store.Get(r.PathValue("id"))
	if err != nil {
		writeJSON(w, http.StatusNotFound, apiError{Error: err.Error()})
		return
	}
	file := r.URL.Query().Get("file")
	if !files[file] {
		writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("the trace names no file %q", clip(file))})
		return
	}
	// The trace may have been uploaded, and its stacks can name any path
	// (a //line directive does it): only a Go source file, after links
	// are resolved, is shown.
	real, err := filepath.EvalSymlinks(file)
	if err != nil || !isGoSource(file) || !isGoSource(real) {
		writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("%s is not a Go source file on this machine", path.Base(file))})
		return
	}
	f, err := os.Open(real)
	if err != nil {
		writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("%s is not on this machine", path.Base(file))})
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxSourceBytes {
		writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("%s is not a source file this server shows", path.Base(file))})
		return
	}
	b, err := io.ReadAll(f)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{Error: fmt.Sprintf("read %s: %v", path.Base(file), err)})
		return
	}
	writeJSON(w, http.StatusOK, FileSource{File: file, Source: string(b)})
}

// isGoSource reports whether a path names a Go source file, the only kind
// of local file the server shows.
func isGoSource(name string) bool {
	return strings.HasSuffix(name, ".go") && filepath.IsAbs(name)
}

// handleStart says which recordings to open when the address names none.
func (s *Server) handleStart(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, StartView{Open: append([]string{}, s.opt.Open...)})
}
