package web

import (
	"bytes"
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

// UploadResult is the answer of POST /api/recordings: a recording, or,
// for a plain trace over Options.IndexAbove, an indexed trace.
type UploadResult struct {
	// Recording is the recording the upload was kept as; absent when Big
	// is set.
	Recording RecordingInfo `json:"recording,omitzero"`
	// Big is the indexed trace the upload became, to be opened in the
	// large-trace view (/?big=ID) while it is indexed.
	Big *BigInfo `json:"big,omitempty"`
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
//
// A plain trace over Options.IndexAbove is not read into memory: it is
// copied to a file as it arrives and indexed from there (big.go), and the
// answer's Big names the indexed trace for the page's large-trace view.
// Whether it is over is known by its length or, for a body without one,
// once that many bytes have come.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	limit := s.opt.MaxUpload
	if r.ContentLength > limit {
		writeJSON(w, http.StatusRequestEntityTooLarge, apiError{Error: fmt.Sprintf("the file is %s; the largest trace this server takes is %s", sizeText(r.ContentLength), sizeText(limit))})
		return
	}
	name := clip(path.Base(strings.ReplaceAll(r.URL.Query().Get("name"), `\`, "/")))
	if name == "." || name == "/" {
		name = ""
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	var buf bytes.Buffer
	_, err := io.CopyN(&buf, body, int64(len(traceMagic)))
	above := s.opt.IndexAbove
	plain := err == nil && buf.String() == traceMagic
	if plain && r.ContentLength <= above {
		// Up to the threshold, and one byte more to tell whether the
		// body is over it.
		_, err = io.CopyN(&buf, body, max(above, 0)+1-int64(buf.Len()))
	}
	if err != nil && err != io.EOF {
		uploadReadError(w, err, limit)
		return
	}
	if plain && (r.ContentLength > above || int64(buf.Len()) > above) {
		in, err := s.uploadBig(name, io.MultiReader(&buf, body))
		switch {
		case errors.Is(err, errClosed):
			writeJSON(w, http.StatusServiceUnavailable, apiError{Error: err.Error()})
		case err != nil:
			uploadReadError(w, err, limit)
		default:
			writeJSON(w, http.StatusOK, UploadResult{Big: &in})
		}
		return
	}
	if _, err := io.Copy(&buf, body); err != nil {
		uploadReadError(w, err, limit)
		return
	}
	rec, tl, err := tracer.OpenRecording(buf.Bytes(), name)
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

// traceMagic is how every execution trace starts ("go 1.NN trace"); a
// recording is a zip archive.
const traceMagic = "go 1."

// uploadReadError answers an upload whose body could not be read or kept:
// 413 past the cap, 400 for a body cut short, 500 when the server could not
// keep it.
func uploadReadError(w http.ResponseWriter, err error, limit int64) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeJSON(w, http.StatusRequestEntityTooLarge, apiError{Error: fmt.Sprintf("the file is over %s, the largest trace this server takes", sizeText(limit))})
	case errors.Is(err, errKeepUpload):
		writeJSON(w, http.StatusInternalServerError, apiError{Error: err.Error()})
	default:
		writeJSON(w, http.StatusBadRequest, apiError{Error: "read the upload: " + err.Error()})
	}
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
