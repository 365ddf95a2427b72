package web

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/pprof/driver"
	"github.com/google/pprof/profile"

	"github.com/concviz/concviz/scenarios"
	"github.com/concviz/concviz/tracer"
)

// This file serves the profiles of runs through google/pprof's own web
// interface, mounted under /pprof/ on this server rather than on a port of
// its own, so that the same Host checks and headers guard it:
//
//	/pprof/{rec}/{view}                             the run's profile
//	/pprof/{rec}/window/{kind}/{start}/{end}/{view} a window of its trace
//	/pprof/{rec}/.../download                       the profile as .pb.gz
//
// where rec is a recording's id (every run of the page is one, and so is a
// trace the user opened), view is one of pprof's pages (flamegraph, top,
// source, peek, graph, disasm), kind is "cpu" or "wall" and the times are
// the timeline's nanoseconds. pprof's pages link to each other relatively,
// so they work under any prefix.

// Bounds of what the server keeps in memory for pprof.
const (
	// maxProfiles is how many runs' profiles are kept; an older run's
	// profile page answers 404 (its windows can still be profiled while
	// its recording is kept).
	maxProfiles = 16
	// maxPprofUIs bounds the pprof interfaces kept built, each holding a
	// parsed copy of its profile.
	maxPprofUIs = 16
)

// pprofCSP is the content security policy of pprof's pages, which carry
// their scripts and styles inline and fetch nothing from other sites. It
// allows inline script and style, and only under /pprof/; every other page
// of the server allows neither.
const pprofCSP = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// profileStore keeps the profiles of the last runs by recording id, and
// the pprof interfaces built for them and for windows of recordings. It is
// safe for concurrent use.
type profileStore struct {
	mu sync.Mutex
	// profiles holds the kept runs' profiles, oldest first.
	profiles []*keptProfile
	// uis holds the built interfaces by their path prefix ("{rec}/" or
	// "{rec}/window/cpu/1/2/"), and order their keys, oldest first.
	uis   map[string]*pprofUI
	order []string
	// building serialises the building of interfaces, which may read a
	// large trace, so that two tabs asking for the same one build it once.
	building sync.Mutex
}

// keptProfile is the profile a run recorded.
type keptProfile struct {
	rec  string
	kind string
	data []byte
}

// pprofUI is one profile with pprof's web handlers for it.
type pprofUI struct {
	data     []byte
	filename string
	handlers map[string]http.Handler
}

// add keeps the profile of the run recorded as rec.
func (ps *profileStore) add(rec, kind string, data []byte) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.profiles = slices.DeleteFunc(ps.profiles, func(p *keptProfile) bool { return p.rec == rec })
	ps.profiles = append(ps.profiles, &keptProfile{rec: rec, kind: kind, data: data})
	if len(ps.profiles) > maxProfiles {
		ps.profiles = slices.Delete(ps.profiles, 0, len(ps.profiles)-maxProfiles)
	}
	// A recording's id is its trace's hash: a run that repeats a trace
	// exactly replaces the profile, and the interface built for the old
	// one goes.
	ps.dropUI(rec + "/")
}

func (ps *profileStore) profile(rec string) *keptProfile {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, p := range ps.profiles {
		if p.rec == rec {
			return p
		}
	}
	return nil
}

func (ps *profileStore) cached(key string) *pprofUI {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.uis[key]
}

func (ps *profileStore) keep(key string, ui *pprofUI) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.uis == nil {
		ps.uis = map[string]*pprofUI{}
	}
	ps.dropUI(key)
	ps.uis[key] = ui
	ps.order = append(ps.order, key)
	if len(ps.order) > maxPprofUIs {
		delete(ps.uis, ps.order[0])
		ps.order = ps.order[1:]
	}
}

// dropUI forgets a built interface; ps.mu must be held.
func (ps *profileStore) dropUI(key string) {
	if _, ok := ps.uis[key]; ok {
		delete(ps.uis, key)
		ps.order = slices.DeleteFunc(ps.order, func(k string) bool { return k == key })
	}
}

// handlePprof serves pprof's web interface for a run's profile or a window
// of a recording's trace.
func (s *Server) handlePprof(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", pprofCSP)
	if s.opt.Share != nil && s.roleOf(r) != rolePresenter {
		// pprof's source view reads the files a profile names, on the
		// presenter's machine: like the recordings, profiles are the
		// presenter's alone.
		pprofError(w, http.StatusForbidden, false, "The profiles of a shared server are the presenter's.")
		return
	}
	rest := r.PathValue("rest")
	rec, view, ok := strings.Cut(rest, "/")
	if !ok {
		// pprof's links are relative to the directory of the profile.
		http.Redirect(w, r, "/pprof/"+url.PathEscape(rec)+"/", http.StatusFound)
		return
	}
	key := rec + "/"
	if strings.HasPrefix(view, "window/") {
		parts := strings.SplitN(view, "/", 5)
		if len(parts) < 5 {
			pprofError(w, http.StatusNotFound, false, "A window's address is window/{cpu|wall}/{start}/{end}/.")
			return
		}
		key += strings.Join(parts[:4], "/") + "/"
		view = parts[4]
	}
	ui, status, err := s.pprofUI(rec, key)
	if err != nil {
		pprofError(w, status, false, sentence(err.Error()))
		return
	}
	switch view {
	case "download":
		w.Header().Set("Content-Type", "application/vnd.google.protobuf+gzip")
		w.Header().Set("Content-Disposition", `attachment; filename="`+ui.filename+`"`)
		w.Write(ui.data)
		return
	case "graph":
		if _, err := exec.LookPath("dot"); err != nil {
			pprofError(w, http.StatusNotImplemented, true, "The graph view needs Graphviz's dot program, which is not installed here "+
				"(on Debian: apt-get install graphviz). The flame graph, top and source views work without it.")
			return
		}
	case "saveconfig", "deleteconfig":
		// These write pprof's settings file in the user's home; a page
		// of this server changes nothing on the machine.
		pprofError(w, http.StatusForbidden, true, "Saving pprof settings is not available in concviz.")
		return
	}
	h := ui.handlers["/"+view]
	if h == nil {
		pprofError(w, http.StatusNotFound, true, fmt.Sprintf("pprof has no view %q.", clip(view)))
		return
	}
	h.ServeHTTP(w, r)
}

// pprofUI returns the interface that key names, building it on first use:
// the run's profile for "{rec}/", a window profile of the recording's trace
// for "{rec}/window/{kind}/{start}/{end}/". The status goes with the error.
func (s *Server) pprofUI(rec, key string) (*pprofUI, int, error) {
	if ui := s.profiles.cached(key); ui != nil {
		return ui, http.StatusOK, nil
	}
	s.profiles.building.Lock()
	defer s.profiles.building.Unlock()
	if ui := s.profiles.cached(key); ui != nil {
		return ui, http.StatusOK, nil
	}
	var data []byte
	var name string
	if key == rec+"/" {
		p := s.profiles.profile(rec)
		if p == nil {
			return nil, http.StatusNotFound, fmt.Errorf("no profile of recording %q is kept: run the scenario with a CPU or "+
				"wall-clock profile (the server keeps the last %d), or select a window of its timeline to profile that", clip(rec), maxProfiles)
		}
		data, name = p.data, p.kind
	} else {
		parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(key, rec+"/"), "/"), "/")
		kind := parts[1]
		start, err1 := strconv.ParseInt(parts[2], 10, 64)
		end, err2 := strconv.ParseInt(parts[3], 10, 64)
		if err1 != nil || err2 != nil || (kind != tracer.ProfileCPU && kind != tracer.ProfileWall) {
			return nil, http.StatusNotFound, errors.New("a window's address is window/{cpu|wall}/{start}/{end}/ with times in nanoseconds")
		}
		_, recording, _, _, err := s.store.Get(rec)
		if err != nil {
			return nil, http.StatusNotFound, fmt.Errorf("no recording %q is kept, so its windows cannot be profiled", clip(rec))
		}
		data, err = tracer.WindowProfile(bytes.NewReader(recording.Trace), tracer.Window{Start: start, End: end}, kind)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("profile the window: %w", err)
		}
		name = fmt.Sprintf("%s-%d-%d", kind, start, end)
	}
	// The file name and pprof's title say which run and which window.
	prefix, title := "profile", "trace"
	if info, _, _, _, err := s.store.Get(rec); err == nil {
		switch {
		case info.Scenario != "":
			prefix, title = info.Scenario+"-"+info.Variant, info.Scenario+" "+info.Variant
		case info.Name != "":
			title = info.Name
		}
	}
	if w, ok := strings.CutPrefix(name, "cpu-"); ok {
		title += " " + windowTitle(w)
	} else if w, ok := strings.CutPrefix(name, "wall-"); ok {
		title += " " + windowTitle(w)
	}
	ui, err := newPprofUI(data, prefix+"-"+name+".pb.gz", title)
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	s.profiles.keep(key, ui)
	return ui, http.StatusOK, nil
}

// pprofMu serialises the building of pprof interfaces: the driver sets
// package state of its own while it starts a web interface.
var pprofMu sync.Mutex

// newPprofUI runs pprof's driver headless on a profile and keeps the
// handlers of its web interface. The driver is asked to serve on
// localhost:0, a port it never opens: its HTTPServer hook receives the
// handlers, and this server serves them.
func newPprofUI(data []byte, filename, title string) (*pprofUI, error) {
	p, err := profile.ParseData(data)
	if err != nil {
		return nil, fmt.Errorf("parse the profile: %w", err)
	}
	// pprof titles its pages with the main binary's file: name the run
	// instead. Only the pages see this; the download is the profile as
	// it was recorded.
	if len(p.Mapping) > 0 {
		p.Mapping[0].File = title
	} else {
		m := &profile.Mapping{ID: 1, File: title, HasFunctions: true, HasFilenames: true, HasLineNumbers: true}
		p.Mapping = []*profile.Mapping{m}
		for _, l := range p.Location {
			l.Mapping = m
		}
	}
	// pprof's source view reads the files a profile names from this
	// machine's disk. A profile can come from a trace someone uploaded,
	// whose file names are theirs to choose: only Go source files may be
	// read.
	for _, fn := range p.Function {
		if !isGoSource(fn.Filename) {
			fn.Filename = ""
		}
	}
	ui := &pprofUI{data: data, filename: filename}
	pprofMu.Lock()
	defer pprofMu.Unlock()
	err = driver.PProf(&driver.Options{
		Flagset: &pprofFlags{args: []string{"-http=localhost:0", "-no_browser", "-symbolize=none", filename}},
		Fetch:   fetchProfile{p},
		Obj:     noBinaries{},
		UI:      quietUI{},
		HTTPServer: func(args *driver.HTTPServerArgs) error {
			ui.handlers = args.Handlers
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("start pprof's web interface: %w", err)
	}
	if ui.handlers == nil {
		return nil, errors.New("start pprof's web interface: it offered no pages")
	}
	return ui, nil
}

// fetchProfile hands pprof the profile it is to show, whatever its source
// argument names. It names no source URL: pprof saves a copy of every
// profile fetched from one into the user's home, and this one is already
// kept.
type fetchProfile struct{ p *profile.Profile }

func (f fetchProfile) Fetch(string, time.Duration, time.Duration) (*profile.Profile, string, error) {
	return f.p.Copy(), "", nil
}

// noBinaries is pprof's object tool when no binary is to be read: the
// profiles name their functions and lines already, and reading the binary
// (with objdump) gains only a disassembly, at the price of a listing that
// comes out empty when the tools disagree with the binary. pprof then
// draws the source view from the profile's lines.
type noBinaries struct{}

func (noBinaries) Open(file string, _, _, _ uint64, _ string) (driver.ObjFile, error) {
	return nil, fmt.Errorf("concviz does not read binaries (%s)", file)
}

func (noBinaries) Disasm(file string, _, _ uint64, _ bool) ([]driver.Inst, error) {
	return nil, fmt.Errorf("concviz does not disassemble binaries (%s)", file)
}

// pprofFlags gives pprof's driver its command line from a fixed list.
type pprofFlags struct {
	fs    flag.FlagSet
	args  []string
	extra []string
}

func (f *pprofFlags) Bool(name string, def bool, usage string) *bool {
	return f.fs.Bool(name, def, usage)
}

func (f *pprofFlags) Int(name string, def int, usage string) *int {
	return f.fs.Int(name, def, usage)
}

func (f *pprofFlags) Float64(name string, def float64, usage string) *float64 {
	return f.fs.Float64(name, def, usage)
}

func (f *pprofFlags) String(name string, def string, usage string) *string {
	return f.fs.String(name, def, usage)
}

func (f *pprofFlags) StringList(name string, def string, usage string) *[]*string {
	return &[]*string{f.fs.String(name, def, usage)}
}

func (f *pprofFlags) ExtraUsage() string { return strings.Join(f.extra, "\n") }

func (f *pprofFlags) AddExtraUsage(eu string) { f.extra = append(f.extra, eu) }

func (f *pprofFlags) Parse(usage func()) []string {
	f.fs.Init("pprof", flag.ContinueOnError)
	f.fs.SetOutput(io.Discard)
	f.fs.Usage = usage
	if err := f.fs.Parse(f.args); err != nil {
		return nil
	}
	return f.fs.Args()
}

// quietUI is pprof's user interface without a user: it reads no commands
// and prints nothing (its errors reach the browser in the pages).
type quietUI struct{}

func (quietUI) ReadLine(string) (string, error)     { return "", io.EOF }
func (quietUI) Print(...any)                        {}
func (quietUI) PrintErr(...any)                     {}
func (quietUI) IsTerminal() bool                    { return false }
func (quietUI) WantBrowser() bool                   { return false }
func (quietUI) SetAutoComplete(func(string) string) {}

// pprofError answers with a small page that says what is missing and, with
// links, leads to pprof's views that do work.
func pprofError(w http.ResponseWriter, status int, links bool, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	nav := ""
	if links {
		nav = `<a href="./flamegraph">Flame graph</a> · <a href="./top">Top</a> · <a href="./source">Source</a> · `
	}
	fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>concviz · pprof</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em}</style></head>
<body><h1>%d %s</h1><p class="pprof-error">%s</p><p>%s<a href="/">concviz</a></p></body></html>
`, status, http.StatusText(status), html.EscapeString(text), nav)
}

// runProfile resolves the profile that a run message asks for: "" is the
// scenario's default, "none" is none.
func runProfile(sc *scenarios.Scenario, asked string) (string, error) {
	switch asked {
	case "":
		return sc.Profile, nil
	case "none":
		return "", nil
	case tracer.ProfileCPU, tracer.ProfileWall:
		return asked, nil
	}
	return "", fmt.Errorf("unknown profile %q; want %q, %q or %q", clip(asked), tracer.ProfileCPU, tracer.ProfileWall, "none")
}

// windowTitle writes a window's "start-end" in nanoseconds as a range of
// durations for pprof's title.
func windowTitle(w string) string {
	a, b, _ := strings.Cut(w, "-")
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil {
		return w
	}
	return "from " + time.Duration(start).Round(time.Microsecond).String() + " to " + time.Duration(end).Round(time.Microsecond).String()
}

// sentence makes an error's text a sentence for a page.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
