// Package web is the visualizer's HTTP server: the embedded browser UI, a
// small JSON API over the scenario catalog, and the /ws websocket that runs
// scenarios and streams their timelines live.
//
// The server runs code on the machine it serves from, so it answers only to
// the names of the address it listens on (loopback by default), checks the
// Origin of every websocket, and sends headers that keep other sites from
// framing or scripting its pages. PROTOCOL.md describes the websocket
// conversation.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/concviz/concviz/tracer"
)

// The browser UI, built by no step: the files are served as they are.
//
//go:embed static
var embedded embed.FS

// Options configure a Server. The zero value serves the embedded UI and runs
// scenarios with tracer.Run.
type Options struct {
	// Static, if set, is a directory whose files are served instead of the
	// embedded ones, so that the UI can be edited without rebuilding.
	Static string
	// Run runs one scenario variant; nil means tracer.Run. It is a seam for
	// tests about the websocket itself, never a way to fake a scenario.
	Run func(context.Context, tracer.RunOptions) (*tracer.Result, error)
	// Logf, if set, receives the server's diagnostics; nil means log.Printf.
	Logf func(format string, args ...any)
	// Hosts are extra host names (without a port) that the server answers
	// to besides localhost, 127.0.0.1, [::1] and the address a request
	// arrived on. ListenAndServe adds the host of its address.
	Hosts []string
	// MaxSockets caps the open websockets; 0 means DefaultMaxSockets.
	MaxSockets int
	// Store keeps the recordings of runs and the traces a user opens;
	// nil means a store in memory only.
	Store *Store
	// MaxUpload caps a trace uploaded from the page; 0 means
	// DefaultMaxUpload.
	MaxUpload int64
	// Open lists the recordings (ids in Store) that the page opens when
	// its address names nothing: one alone, two side by side.
	Open []string
	// Big lists the large traces that the server indexes as streams
	// (big.go) rather than reading whole; the page opens the first when
	// its address names nothing and Open is empty.
	Big []BigTrace
	// IndexAbove is the size in bytes over which an uploaded plain trace
	// is indexed as a stream, like those of Big, instead of being read
	// whole into a timeline; 0 means DefaultIndexAbove, and a negative
	// value indexes every uploaded trace. Recordings are always read
	// whole.
	IndexAbove int64

	// Share, if set, shares the server with a room (share.go): every
	// request needs the presenter's or a viewer's token, and viewers only
	// follow. Nil serves the local user alone, as before.
	Share *Share
	// Session is the ordered list of scenarios that presentation mode
	// steps through; nil means the whole catalog.
	Session *PresentSession
	// MaxViewers caps the viewers of a shared server's room; 0 means
	// DefaultMaxViewers.
	MaxViewers int

	// pongWait overrides the pong deadline of the websockets, so that a
	// test of the deadline need not wait a minute; 0 means pongWait.
	pongWait time.Duration
	// uploadDir is where uploads to be indexed are copied; "" means
	// os.TempDir. maxBigUploads and maxBigUploadBytes override the bounds
	// of what indexed uploads hold (big.go), so that a test of eviction
	// need not upload a gigabyte; 0 means the defaults.
	uploadDir         string
	maxBigUploads     int
	maxBigUploadBytes int64
	// wrapUpload, if set, wraps the reader an upload is indexed from: the
	// browser tests slow it down to watch the upload being indexed.
	wrapUpload func(io.Reader) io.Reader
}

// DefaultIndexAbove is the size over which an uploaded trace is indexed
// instead of read whole, as viz open does with a file: below it reading
// takes about a second and the whole timeline fits the page; above it the
// timeline would take about nine times the file in memory, and the index
// answers first.
const DefaultIndexAbove = 32 << 20

// DefaultMaxSockets is the default cap on open websockets. A learner has a
// tab or two open; the cap keeps a runaway script from starting a child
// process per socket until the machine gives up.
const DefaultMaxSockets = 64

// Server serves the UI, the API and the websocket. Its handlers are methods
// on this one struct; the sessions it holds are ended by Close.
type Server struct {
	opt     Options
	static  fs.FS
	handler http.Handler
	// store keeps the recordings (Options.Store).
	store *Store
	// profiles keeps the runs' profiles and pprof's pages for them.
	profiles profileStore
	// room is the audience that follows the presenter (room.go).
	room *room
	// sockets is a semaphore with one slot per open websocket.
	sockets chan struct{}

	// ctx is the parent of every session's context; cancel ends them all.
	ctx    context.Context
	cancel context.CancelFunc

	mu sync.Mutex
	// closed is set by Close; later websockets are refused.
	closed bool
	// wg counts the websocket sessions that have not ended.
	wg sync.WaitGroup

	// bigMu guards big and bigNext: uploads add indexed traces and evict
	// old ones while handlers look them up.
	bigMu sync.RWMutex
	// big are the indexed traces: those of Options.Big first, then the
	// uploads still held, oldest first.
	big []*bigTrace
	// bigNext is the number of the next indexed trace's id; ids are never
	// reused, so that an evicted upload's id can say what became of it.
	bigNext int
	// bigWG counts the indexing goroutines.
	bigWG sync.WaitGroup
}

// NewServer returns a server with the given options. A Static directory is
// read at each request, so edits show on reload; one that does not exist
// serves 404s (viz serve checks its flag first).
func NewServer(opt Options) *Server {
	if opt.Run == nil {
		opt.Run = tracer.Run
	}
	if opt.Logf == nil {
		opt.Logf = log.Printf
	}
	if opt.MaxSockets <= 0 {
		opt.MaxSockets = DefaultMaxSockets
	}
	if opt.pongWait <= 0 {
		opt.pongWait = pongWait
	}
	if opt.MaxUpload <= 0 {
		opt.MaxUpload = DefaultMaxUpload
	}
	if opt.IndexAbove == 0 {
		opt.IndexAbove = DefaultIndexAbove
	}
	if opt.maxBigUploads <= 0 {
		opt.maxBigUploads = maxBigUploads
	}
	if opt.maxBigUploadBytes <= 0 {
		opt.maxBigUploadBytes = maxBigUploadBytes
	}
	if opt.Store == nil {
		// A store without a directory cannot fail.
		opt.Store, _ = NewStore("", 0, opt.Logf)
	}
	s := &Server{
		opt:     opt,
		store:   opt.Store,
		sockets: make(chan struct{}, opt.MaxSockets),
	}
	s.room = newRoom(s)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if opt.Static != "" {
		s.static = os.DirFS(opt.Static)
	} else {
		sub, err := fs.Sub(embedded, "static")
		if err != nil {
			panic(fmt.Sprintf("web: embedded static files: %v", err))
		}
		s.static = sub
	}
	s.handler = s.routes()
	s.startBig()
	return s
}

// routes builds the handler: the mux of every route, wrapped in the checks
// that apply to all of them. Routes are listed here and nowhere else.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(s.static))
	mux.HandleFunc("GET /api/scenarios", s.handleScenarios)
	mux.HandleFunc("GET /api/scenarios/{id}/source", s.handleSource)
	mux.HandleFunc("GET /api/scenarios/{id}/diff", s.handleDiff)
	mux.HandleFunc("GET /api/states", s.handleStates)
	mux.HandleFunc("GET /api/start", s.handleStart)
	mux.HandleFunc("GET /api/recordings", s.handleRecordings)
	mux.HandleFunc("POST /api/recordings", s.handleUpload)
	mux.HandleFunc("GET /api/recordings/{id}", s.handleRecording)
	mux.HandleFunc("GET /api/recordings/{id}/file", s.handleRecordingFile)
	mux.HandleFunc("GET /api/recordings/{id}/source", s.handleRecordingSource)
	mux.HandleFunc("GET /api/big", s.handleBigList)
	mux.HandleFunc("GET /api/big/{id}", s.handleBig)
	mux.HandleFunc("GET /api/big/{id}/lanes", s.handleBigLanes)
	mux.HandleFunc("GET /api/big/{id}/window", s.handleBigWindow)
	mux.HandleFunc("GET /api/big/{id}/stacks/{i}", s.handleBigStack)
	mux.HandleFunc("GET /api/", s.handleAPINotFound)
	mux.HandleFunc("GET /ws", s.handleWebsocket)
	mux.HandleFunc("GET /pprof/{rest...}", s.handlePprof)
	mux.HandleFunc("GET /api/room", s.handleRoom)
	mux.HandleFunc("GET /api/room/qr.svg", s.handleRoomQR)

	// Cross-origin protection refuses a POST (the upload) from another
	// site's form or fetch, and guards any state-changing route added
	// later without further thought. The websocket upgrade is a GET, which
	// this check lets through: handleWebsocket checks Origin.
	cop := http.NewCrossOriginProtection()
	return s.checkHost(s.checkShare(cop.Handler(mux)))
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler {
	return s.handler
}

// Close ends every open websocket, which cancels its run and kills its
// child process, stops indexing large traces, and waits until they are all
// gone; then it deletes the files that uploads were copied to. Websockets,
// and uploads to be indexed, that come later are refused; the rest of the
// handler keeps working.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	// Each session's writer sees its context end, sends a close message
	// and cuts its connection; the session then cancels its run.
	s.cancel()
	s.wg.Wait()
	// The indexing goroutines see the same context end; then the files
	// that uploads were copied to go.
	s.bigWG.Wait()
	s.removeUploads()
}

// logf reports a diagnostic of the server.
func (s *Server) logf(format string, args ...any) {
	s.opt.Logf(format, args...)
}

// Timeouts of the HTTP server. Websockets are hijacked connections with
// deadlines of their own (see session.go), so these apply to plain requests.
const (
	// readHeaderTimeout bounds how long a client may take to send its
	// request headers, so that idle half-open connections do not pile up.
	readHeaderTimeout = 10 * time.Second
	// requestTimeout bounds reading a whole request, body included, so that
	// a client trickling an upload cannot hold its handler for ever. The
	// largest upload takes about a second over loopback and well under a
	// minute over a classroom's network. (A websocket's own deadlines
	// replace it once the connection is upgraded.)
	requestTimeout = 2 * time.Minute
	// idleTimeout closes keep-alive connections that have been idle this
	// long.
	idleTimeout = 2 * time.Minute
	// shutdownTimeout bounds the graceful shutdown of plain requests.
	shutdownTimeout = 5 * time.Second
)

// ListenAndServe listens on addr, calls ready with the server's URL
// (http://HOST:PORT/) once it accepts connections, and serves until ctx
// ends; then it closes every websocket, kills their children and shuts the
// HTTP server down. A port of 0 picks a free port. It returns nil after a
// shutdown caused by ctx.
func ListenAndServe(ctx context.Context, addr string, opt Options, ready func(url string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	if host != "" {
		opt.Hosts = append(append([]string(nil), opt.Hosts...), host)
	}
	s := NewServer(opt)
	hs := s.httpServer()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	if ready != nil {
		ready(serverURL(host, ln.Addr()))
	}

	select {
	case <-ctx.Done():
	case err := <-served:
		// Serve only returns early on a failure of the listener.
		s.Close()
		return fmt.Errorf("serve on %s: %w", addr, err)
	}
	s.Close()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = hs.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("shut down server on %s: %w", addr, err)
	}
	return nil
}

// httpServer returns the HTTP server that ListenAndServe runs the handler
// in, with the timeouts and limits that keep slow or idle clients from
// holding connections open.
func (s *Server) httpServer() *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       requestTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(logWriter{s.logf}, "", 0),
	}
}

// serverURL is the URL to print for a server listening at a (the real
// port) that was asked for host. The host as asked is kept, since it is a
// name the server answers to; an empty or unspecified host (all
// interfaces) is printed as loopback, which browsers reach and trust.
func serverURL(host string, a net.Addr) string {
	port := "0"
	if ta, ok := a.(*net.TCPAddr); ok {
		port = strconv.Itoa(ta.Port)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// logWriter turns the HTTP server's error log into calls of Logf.
type logWriter struct {
	logf func(format string, args ...any)
}

func (w logWriter) Write(p []byte) (int, error) {
	w.logf("%s", p)
	return len(p), nil
}
