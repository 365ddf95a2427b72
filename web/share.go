package web

import (
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"

	qr "github.com/piglig/go-qr"

	"github.com/concviz/concviz/scenarios"
)

// A shared server (viz serve --share) answers a whole room, so the checks
// of security.go are not enough: anyone on the network can reach it, and it
// runs code. Every request must then carry one of two random tokens, handed
// out as links: the presenter's, which may do everything, and the viewers',
// which may only read what the presenter shows and vote. A link is
// /join?key=TOKEN; the answer stores the token in a cookie that the page's
// requests and its websocket carry without any change to the page, and that
// other sites' pages cannot read or send (HttpOnly, SameSite=Strict).
//
// Viewers are checked against a list of what they may do, never against a
// list of what they may not: a route added later is the presenter's until
// someone decides otherwise.

// Share configures a shared server. Its zero value is not useful: build one
// with NewShare.
type Share struct {
	// PresenterToken and ViewerToken are the secrets of the two links.
	PresenterToken string
	ViewerToken    string
	// Session is the ordered list of scenarios to present, or nil.
	Session *PresentSession
}

// role is what a request may do on a shared server.
type role int

const (
	// roleNone carries no valid token: it gets nothing but a pointer to
	// the links.
	roleNone role = iota
	// roleViewer follows the presenter, reads and votes.
	roleViewer
	// rolePresenter may do everything a local user may.
	rolePresenter
)

func (r role) String() string {
	switch r {
	case roleViewer:
		return "viewer"
	case rolePresenter:
		return "presenter"
	}
	return "none"
}

// keyCookie holds the token of the link a browser joined with.
const keyCookie = "concviz_key"

// tokenBytes is the entropy of a token: 128 bits, far beyond guessing over a
// network.
const tokenBytes = 16

// NewShare returns a share configuration with fresh random tokens.
func NewShare() (*Share, error) {
	p, err := newToken()
	if err != nil {
		return nil, err
	}
	v, err := newToken()
	if err != nil {
		return nil, err
	}
	return &Share{PresenterToken: p, ViewerToken: v}, nil
}

func newToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make a share token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// JoinURL is the link of a token on a server whose base URL is base
// (http://HOST:PORT/).
func JoinURL(base, token string) string {
	return strings.TrimSuffix(base, "/") + "/join?key=" + token
}

// roleOfToken compares in constant time, so that the answer's timing says
// nothing about how much of a guess was right.
func (sh *Share) roleOfToken(tok string) role {
	if tok == "" {
		return roleNone
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(sh.PresenterToken)) == 1 {
		return rolePresenter
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(sh.ViewerToken)) == 1 {
		return roleViewer
	}
	return roleNone
}

// roleOf is what request r may do. A server that is not shared has one
// user, the local one, who is the presenter.
func (s *Server) roleOf(r *http.Request) role {
	sh := s.opt.Share
	if sh == nil {
		return rolePresenter
	}
	c, err := r.Cookie(keyCookie)
	if err != nil {
		return roleNone
	}
	return sh.roleOfToken(c.Value)
}

// viewerMay reports whether a viewer may make request r. Viewers read the
// UI, the catalog, the room and a recording whose id they were shown (the
// presenter's side by side), and open the websocket (whose messages room.go
// checks one by one). Uploading or opening traces, listing recordings,
// reading source files of the presenter's machine and anything added later
// are the presenter's.
func (s *Server) viewerMay(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.Path
	switch {
	case p == "/ws", p == "/api/room", p == "/api/room/qr.svg", p == "/api/scenarios", p == "/api/states":
		return true
	case strings.HasPrefix(p, "/api/scenarios/"):
		rest := strings.TrimPrefix(p, "/api/scenarios/")
		id, what, _ := strings.Cut(rest, "/")
		return id != "" && (what == "source" || what == "diff")
	case strings.HasPrefix(p, "/api/recordings/"):
		// A recording the presenter shows side by side, by its id (a
		// hash of its trace), and its download; never the list of
		// recordings, nor the source files of the presenter's machine
		// that a user's trace names (/source).
		rest := strings.TrimPrefix(p, "/api/recordings/")
		id, what, sub := strings.Cut(rest, "/")
		return id != "" && (!sub || what == "file")
	case strings.HasPrefix(p, "/api/"):
		return false
	}
	// Otherwise only the files of the UI: a route outside /api/ (such as
	// pprof's pages) is not one.
	if p == "/" {
		return true
	}
	name := strings.TrimPrefix(path.Clean(p), "/")
	fi, err := fs.Stat(s.static, name)
	return err == nil && !fi.IsDir()
}

// checkShare enforces the tokens of a shared server in front of every
// route; a server that is not shared passes every request on unchanged.
func (s *Server) checkShare(next http.Handler) http.Handler {
	if s.opt.Share == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/join" {
			s.handleJoin(w, r)
			return
		}
		switch s.roleOf(r) {
		case rolePresenter:
			next.ServeHTTP(w, r)
		case roleViewer:
			if !s.viewerMay(r) {
				writeJSON(w, http.StatusForbidden, apiError{Error: "a viewer of a shared session cannot do this: only the presenter runs code, opens files or changes what the room sees"})
				return
			}
			next.ServeHTTP(w, r)
		default:
			if strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/ws" {
				writeJSON(w, http.StatusForbidden, apiError{Error: "this server is shared: open the presenter or viewer link it printed"})
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, "403 forbidden: this concviz server is shared with a room.\nOpen the presenter or the viewer link that `viz serve --share` printed.\n")
		}
	})
}

// handleJoin turns a link into a cookie and sends the browser to the page,
// so that the token leaves the address bar (and any screenshot of it).
func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("key")
	rl := s.opt.Share.roleOfToken(tok)
	if rl == roleNone {
		s.logf("web: refused a join with a wrong key from %s", r.RemoteAddr)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "403 forbidden: this link's key is not valid for this server (it changes each time viz serve --share starts).\n")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     keyCookie,
		Value:    tok,
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// RoomInfo is the answer of GET /api/room: who the page is, what the room
// looks like and, for the presenter only, the viewer link and the session
// with its speaker notes.
type RoomInfo struct {
	// Role is "presenter" or "viewer"; a server that is not shared says
	// "presenter", its one user.
	Role string `json:"role"`
	// Shared says that the server was started with --share.
	Shared bool `json:"shared"`
	// Viewers counts the viewers following now.
	Viewers int `json:"viewers"`
	// ViewerURL is the viewers' link (presenter only).
	ViewerURL string `json:"viewer_url,omitempty"`
	// Session is the list of scenarios to present, with notes (presenter
	// only).
	Session *PresentSession `json:"session,omitempty"`
}

// PresentSession is an ordered list of scenarios to step through in
// presentation mode, as a teacher writes it in a small JSON file:
//
//	{"title": "Week 3: channels",
//	 "scenarios": [{"id": "deadlock-cross-wait", "notes": "Ask who blocks first."},
//	               {"id": "leak-unread-result"}]}
type PresentSession struct {
	Title     string         `json:"title"`
	Scenarios []SessionEntry `json:"scenarios"`
}

// SessionEntry is one scenario of a session. Notes are the speaker's,
// shown to the presenter only; empty notes fall back to the built-in ones.
type SessionEntry struct {
	ID    string `json:"id"`
	Notes string `json:"notes,omitempty"`
}

// maxSessionBytes bounds a session file: a list of ids and notes.
const maxSessionBytes = 1 << 20

// builtinNotes are the speaker notes that ship with concviz, by scenario
// id. They live beside the server rather than in the catalog because they
// are the presenter's words about the puzzles, not part of the puzzles.
//
//go:embed notes.json
var builtinNotes []byte

// Notes returns the built-in speaker notes by scenario id.
func Notes() map[string]string {
	var m map[string]string
	if err := json.Unmarshal(builtinNotes, &m); err != nil {
		panic(fmt.Sprintf("web: built-in notes.json: %v", err))
	}
	return m
}

// ParseSession reads a session file and checks that it names only known
// scenarios. Entries without notes get the built-in ones.
func ParseSession(data []byte) (*PresentSession, error) {
	if len(data) > maxSessionBytes {
		return nil, fmt.Errorf("session file is %d bytes; the limit is %d", len(data), maxSessionBytes)
	}
	var ps PresentSession
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ps); err != nil {
		return nil, fmt.Errorf("parse session: %w", err)
	}
	if len(ps.Scenarios) == 0 {
		return nil, errors.New(`session lists no scenarios; want {"scenarios": [{"id": "..."}]}`)
	}
	notes := Notes()
	for i, e := range ps.Scenarios {
		if _, err := scenarios.Lookup(e.ID); err != nil {
			return nil, fmt.Errorf("session scenario %d: %w", i+1, err)
		}
		if e.Notes == "" {
			ps.Scenarios[i].Notes = notes[e.ID]
		}
	}
	return &ps, nil
}

// defaultSession is the whole catalog in display order, with the built-in
// notes: what presentation mode steps through when no session was given.
func defaultSession() *PresentSession {
	notes := Notes()
	ps := &PresentSession{Title: "All puzzles"}
	for _, sc := range scenarios.Catalog() {
		ps.Scenarios = append(ps.Scenarios, SessionEntry{ID: sc.ID, Notes: notes[sc.ID]})
	}
	return ps
}

// handleRoom answers GET /api/room.
func (s *Server) handleRoom(w http.ResponseWriter, r *http.Request) {
	rl := s.roleOf(r)
	info := RoomInfo{Role: rl.String(), Shared: s.opt.Share != nil, Viewers: s.room.viewerCount()}
	if rl == rolePresenter {
		info.Session = s.opt.Session
		if info.Session == nil {
			info.Session = defaultSession()
		}
		if s.opt.Share != nil {
			info.ViewerURL = JoinURL("http://"+r.Host+"/", s.opt.Share.ViewerToken)
		}
	}
	writeJSON(w, http.StatusOK, info)
}

// handleRoomQR answers GET /api/room/qr.svg: the viewer link as a QR code,
// for the presenter's screen. Viewers may fetch it too (it is their own
// link); a server that is not shared has no link.
func (s *Server) handleRoomQR(w http.ResponseWriter, r *http.Request) {
	if s.opt.Share == nil {
		writeJSON(w, http.StatusNotFound, apiError{Error: "this server is not shared (viz serve --share)"})
		return
	}
	code, err := qr.EncodeText(JoinURL("http://"+r.Host+"/", s.opt.Share.ViewerToken), qr.Medium)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "encode the QR code: " + err.Error()})
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, qrSVG(code))
}

// qrSVG draws a QR code as one SVG path, with the quiet zone of four
// modules that scanners need.
func qrSVG(code *qr.QrCode) string {
	n := code.Size()
	const quiet = 4
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, n+2*quiet, n+2*quiet)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/><path fill="#000" d="`)
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if code.Module(x, y) {
				fmt.Fprintf(&b, "M%d,%dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String()
}

// TerminalQR draws text as a QR code for a terminal, two modules per
// character cell with half blocks, dark on light whatever the terminal's
// colours, so that a phone can scan it off a projected screen.
func TerminalQR(text string) (string, error) {
	code, err := qr.EncodeText(text, qr.Low)
	if err != nil {
		return "", fmt.Errorf("encode the QR code: %w", err)
	}
	const quiet = 2
	n := code.Size()
	dark := func(x, y int) bool {
		x, y = x-quiet, y-quiet
		return x >= 0 && y >= 0 && x < n && y < n && code.Module(x, y)
	}
	var b strings.Builder
	for y := 0; y < n+2*quiet; y += 2 {
		// Black text on a white background: a cell's upper half is the
		// foreground (▀) and its lower half the background.
		b.WriteString("\x1b[30;47m")
		for x := 0; x < n+2*quiet; x++ {
			top, bottom := dark(x, y), dark(x, y+1)
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString("\x1b[0m\n")
	}
	return b.String(), nil
}

// LANAddrs lists the addresses of this machine's interfaces that are up and
// not loopback, for the links of a server that listens on all of them. A
// shared server answers to these as host names too: they are the machine's
// own, which no DNS rebinding can borrow (a rebinding attack needs a name).
func LANAddrs() []string {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var v4, v6 []string
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.IsLinkLocalUnicast() || ipn.IP.IsLoopback() {
				continue
			}
			if ipn.IP.To4() != nil {
				v4 = append(v4, ipn.IP.String())
			} else {
				v6 = append(v6, ipn.IP.String())
			}
		}
	}
	return append(v4, v6...)
}

// ShareHost is the host to print in the links of a server asked to listen
// on host: the host itself when it names one address, else (all
// interfaces) the machine's first LAN address, which the room can reach;
// loopback when the machine has none.
func ShareHost(host string) string {
	ip := net.ParseIP(host)
	if host != "" && (ip == nil || !ip.IsUnspecified()) {
		return host
	}
	if lan := LANAddrs(); len(lan) > 0 {
		return lan[0]
	}
	return "127.0.0.1"
}

// ShareBaseURL is the base URL of the links for a server listening at url
// (as ListenAndServe reports it) that was asked for host.
func ShareBaseURL(url, host string) string {
	port := url[strings.LastIndex(url, ":")+1:]
	port = strings.TrimSuffix(port, "/")
	if _, err := strconv.Atoi(port); err != nil {
		return url
	}
	return "http://" + net.JoinHostPort(ShareHost(host), port) + "/"
}

// ReadSessionFile reads a session file from disk.
func ReadSessionFile(name string) (*PresentSession, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSessionBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read session %s: %w", name, err)
	}
	ps, err := ParseSession(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return ps, nil
}
