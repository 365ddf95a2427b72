package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/concviz/concviz/tracer"
)

// Websocket timing and limits, in the manner of gorilla/websocket's chat
// example.
const (
	// writeWait is the time allowed to write one message. A client that
	// cannot take a message in that long is gone or hopelessly slow, and is
	// dropped.
	writeWait = 10 * time.Second
	// pongWait is the time allowed to read the next pong (or any message)
	// from the client before the connection counts as dead.
	pongWait = 60 * time.Second
	// maxMessageSize is the largest message a client may send. Client
	// messages are tiny commands; a larger one closes the connection with
	// status 1009 (message too big).
	maxMessageSize = 64 << 10
	// sendQueueLen bounds the messages waiting for the writer. Updates
	// merge into the last queued one, so a run fills the queue only when
	// the client reads nothing at all; then the client is dropped rather
	// than the run being slowed down.
	sendQueueLen = 64
	// lingerTime is how long a connection closed by the server waits for
	// the client to read the close message before it is cut.
	lingerTime = time.Second
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:   4096,
	WriteBufferSize:  16 << 10,
	HandshakeTimeout: 10 * time.Second,
	// The Origin is checked by handleWebsocket before the upgrade, with the
	// server's list of names; by then it is known to be ours.
	CheckOrigin: func(*http.Request) bool { return true },
}

// handleWebsocket upgrades a request to a websocket session, after checking
// that the page that opens it is ours and that a slot is free.
func (s *Server) handleWebsocket(w http.ResponseWriter, r *http.Request) {
	if !s.allowedOrigin(r) {
		origin := clip(r.Header.Get("Origin"))
		s.logf("web: refused websocket from origin %q", origin)
		http.Error(w, fmt.Sprintf("403 forbidden: websocket origin %q is not a page of this server", origin), http.StatusForbidden)
		return
	}
	if s.opt.Share != nil && s.roleOf(r) == roleViewer {
		// A viewer follows the room and never runs anything (room.go).
		s.room.serveViewer(w, r)
		return
	}
	select {
	case s.sockets <- struct{}{}:
		defer func() { <-s.sockets }()
	default:
		http.Error(w, "503 too many open websockets", http.StatusServiceUnavailable)
		return
	}
	ss, ok := s.addSession()
	if !ok {
		http.Error(w, "503 server is shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.removeSession(ss)
	if s.opt.Share != nil {
		s.room.addPresenter(ss)
		defer s.room.removePresenter(ss)
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has already answered the client.
		s.logf("web: websocket upgrade: %v", err)
		return
	}
	ss.serve(conn)
}

// addSession registers a new session, unless the server is closed. The
// caller must call removeSession when it returns.
func (s *Server) addSession() (*session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	ctx, cancel := context.WithCancel(s.ctx)
	ss := &session{
		srv:    s,
		ctx:    ctx,
		cancel: cancel,
		send:   make(chan *outgoing, sendQueueLen),
	}
	s.wg.Add(1)
	return ss, true
}

// removeSession accounts for a session whose handler is returning.
func (s *Server) removeSession(ss *session) {
	ss.cancel()
	s.wg.Done()
}

// session is one websocket connection. Its goroutines are the handler's,
// which reads, one writer, and at most one run at a time; serve returns
// only after all of them have.
//
// Every message to the client goes through the send queue in order. The
// updates of a run are coalesced: an update that finds the previous one
// still queued merges into it, so a slow client receives fewer, larger
// updates, and never misses a change.
type session struct {
	srv    *Server
	conn   *websocket.Conn
	ctx    context.Context // ends when the connection does
	cancel context.CancelFunc
	send   chan *outgoing
	// readerDone is closed when the reader has returned.
	readerDone chan struct{}

	mu sync.Mutex
	// tail is the queued update that later updates of the same run merge
	// into; nil once the writer has taken it or another message follows.
	tail *outgoing
	// dropped is set when the queue overflowed; the connection is closing.
	dropped bool
	// runs counts the runs started, to number them.
	runs int64
	// current is the run in progress, or nil.
	current *run
	// relay, set for a presenter of a shared server, hands the messages
	// of this session's runs to the room; it is called with mu held.
	relay func(Message)
}

// outgoing is one entry of the send queue. While it is the session's tail,
// later updates merge into it under session.mu; once the writer has taken
// it, nothing changes it.
type outgoing struct {
	msg Message
}

// run is one run of a session.
type run struct {
	id     int64
	cancel context.CancelFunc
	// done is closed when the run's goroutine has sent its end message.
	done chan struct{}
	// hidden says whether hidden goroutines are sent.
	hidden bool
	// profile is the kind of profile the run records, "" for none.
	profile string
	// hiddenIDs holds the goroutines known to be hidden, so that links and
	// logs that touch them can be left out.
	hiddenIDs map[int64]bool
	// source is the learner's edit of the scenario's file, "" to run the
	// catalog's code (edit.go).
	source string
}

// serve runs the session on conn until the connection ends or the server
// closes, and returns once its writer and its run are gone.
func (ss *session) serve(conn *websocket.Conn) {
	ss.conn = conn
	ss.readerDone = make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		ss.writer()
	}()

	ss.reader()
	close(ss.readerDone)

	// The connection is gone or closing: stop the run (killing its
	// child), then the writer.
	ss.cancel()
	ss.mu.Lock()
	cur := ss.current
	ss.mu.Unlock()
	if cur != nil {
		<-cur.done
	}
	<-writerDone
	conn.Close()
}

// reader reads the client's messages until the connection fails. It is the
// only goroutine that reads from the connection.
func (ss *session) reader() {
	ss.conn.SetReadLimit(ss.srv.readLimit())
	ss.conn.SetReadDeadline(time.Now().Add(ss.srv.opt.pongWait))
	ss.conn.SetPongHandler(func(string) error {
		return ss.conn.SetReadDeadline(time.Now().Add(ss.srv.opt.pongWait))
	})
	for {
		kind, data, err := ss.conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				// The library has sent the close message (1009); give
				// the client a moment to read it.
				ss.linger()
			} else if websocket.IsUnexpectedCloseError(err, websocket.CloseGoingAway, websocket.CloseNormalClosure, websocket.CloseNoStatusReceived, websocket.CloseAbnormalClosure) && ss.ctx.Err() == nil {
				ss.srv.logf("web: websocket read: %v", err)
			}
			return
		}
		ss.conn.SetReadDeadline(time.Now().Add(ss.srv.opt.pongWait))
		if kind != websocket.TextMessage {
			ss.sendError(0, "messages must be JSON text, not binary")
			continue
		}
		var m Message
		if err := json.Unmarshal(data, &m); err != nil {
			ss.sendError(0, fmt.Sprintf("malformed message: %v", err))
			continue
		}
		ss.handle(m)
	}
}

// linger waits up to lingerTime for the client to close its side after a
// close message, discarding what it still sends, so that the close message
// is not lost to a reset of the connection.
func (ss *session) linger() {
	nc := ss.conn.NetConn()
	nc.SetReadDeadline(time.Now().Add(lingerTime))
	buf := make([]byte, 32<<10)
	for {
		if _, err := nc.Read(buf); err != nil {
			return
		}
	}
}

// handle acts on one message of the client.
func (ss *session) handle(m Message) {
	switch m.Type {
	case MsgRun:
		// Names are short, so a clipped name is as unknown as the whole
		// one, and the error that quotes it stays small. A program may
		// run scenarios of its own besides the catalog's (a benchmark's
		// busy child, tracer.RegisterScenario).
		sc, err := tracer.LookupScenario(clip(m.Scenario))
		if err != nil {
			ss.sendError(0, err.Error())
			return
		}
		v, err := sc.Variant(clip(m.Variant))
		if err != nil {
			ss.sendError(0, err.Error())
			return
		}
		profile, err := runProfile(sc, m.Profile)
		if err != nil {
			ss.sendError(0, err.Error())
			return
		}
		if err := ss.srv.checkSource(m.Source); err != nil {
			ss.sendError(0, err.Error())
			return
		}
		ss.start(sc.ID, v.Name, m.Hidden, profile, m.Source)
	case MsgCancel:
		ss.mu.Lock()
		cur := ss.current
		if cur != nil {
			// Under the lock, so that the run either sees the cancel in
			// its end message or has already ended (see finish).
			cur.cancel()
		}
		ss.mu.Unlock()
		if cur == nil {
			ss.sendError(0, "cancel: no run in progress")
		}
	case MsgView, MsgPoll:
		ss.srv.room.fromPresenter(ss, m)
	case "":
		ss.sendError(0, `message has no "type"; want "run" or "cancel"`)
	default:
		ss.sendError(0, fmt.Sprintf("unknown message type %q; want %q or %q", clip(m.Type), MsgRun, MsgCancel))
	}
}

// start begins a run of the variant, cancelling the one in progress. The new
// run's child starts only after the previous one has ended and sent its end
// message, so that a client sees the runs one after another.
func (ss *session) start(scenario, variant string, hidden bool, profile, source string) {
	ss.mu.Lock()
	prev := ss.current
	ss.runs++
	ctx, cancel := context.WithCancel(ss.ctx)
	r := &run{id: ss.runs, cancel: cancel, done: make(chan struct{}), hidden: hidden, hiddenIDs: map[int64]bool{}, profile: profile, source: source}
	ss.current = r
	ss.mu.Unlock()

	if prev != nil {
		prev.cancel()
	}
	go func() {
		defer close(r.done)
		defer cancel()
		if prev != nil {
			<-prev.done
		}
		ss.execute(ctx, r, scenario, variant)
	}()
}

// execute runs one variant and streams it: started, updates, end.
func (ss *session) execute(ctx context.Context, r *run, scenario, variant string) {
	edited := r.source != ""
	ss.enqueue(Message{Type: MsgStarted, Run: r.id, Scenario: scenario, Variant: variant, Profile: r.profile, Edited: edited})
	end := Message{Type: MsgEnd, Run: r.id, Scenario: scenario, Variant: variant, Edited: edited}
	if ctx.Err() != nil {
		// Superseded or closed before the child started: do not start it.
		end.Error = fmt.Sprintf("run %d cancelled before it started", r.id)
		ss.finish(ctx, r, end)
		return
	}
	// The raw trace is kept so that the run can be saved, reopened and
	// compared: every run of the page is a recording.
	var raw bytes.Buffer
	res, err := ss.srv.opt.Run(ctx, tracer.RunOptions{
		Scenario: scenario,
		Variant:  variant,
		OnUpdate: func(u *tracer.Update) { ss.update(r, u) },
		OnStatus: func(text string) { ss.enqueue(Message{Type: MsgStatus, Run: r.id, Text: text}) },
		TraceOut: &raw,
		Profile:  r.profile,
		Source:   r.source,
	})
	if res != nil {
		end.Report = res.Report
		end.Timeline = res.Timeline
		if !r.hidden {
			end.Timeline = withoutHidden(res.Timeline)
		}
		if res.Report != nil && res.Timeline != nil && raw.Len() > 0 && ctx.Err() == nil {
			info, serr := ss.srv.store.Add(tracer.NewRecording(raw.Bytes(), res.Report), res.Timeline, true)
			if serr != nil {
				ss.srv.logf("web: save the recording of %s/%s: %v", scenario, variant, serr)
			}
			end.Recording = &info
			if len(res.Profile) > 0 {
				ss.srv.profiles.add(info.ID, r.profile, res.Profile)
				end.Profile = r.profile
			}
		}
	}
	switch {
	case err != nil && ctx.Err() != nil:
		end.Error = fmt.Sprintf("run %d cancelled: %v", r.id, err)
	case errors.As(err, &end.Compile):
		// The learner's edit does not build: theirs to fix, not the
		// server's to log.
		end.Error = fmt.Sprintf("run %d: %v", r.id, err)
	case err != nil:
		end.Error = fmt.Sprintf("run %d failed: %v", r.id, err)
		ss.srv.logf("web: run %s/%s: %v", scenario, variant, err)
	}
	ss.finish(ctx, r, end)
}

// finish queues the end message of run r and makes it no longer current,
// in one step: a cancel handled before it marks the end cancelled, and a
// cancel handled after it finds no run in progress.
func (ss *session) finish(ctx context.Context, r *run, end Message) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.current == r {
		ss.current = nil
	}
	end.Cancelled = ctx.Err() != nil
	ss.push(&outgoing{msg: end}, false)
}

// update queues one update of run r, merged into the queued one if the
// writer has not taken it yet. It is called on the goroutine that reads the
// trace, and never blocks.
func (ss *session) update(r *run, u *tracer.Update) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.current != r {
		// The run has been superseded; its end message says so.
		return
	}
	u = filterUpdate(u, r.hidden, r.hiddenIDs)
	if ss.relay != nil {
		ss.relay(Message{Type: MsgUpdate, Run: r.id, Update: u})
	}
	if ss.tail != nil && ss.tail.msg.Run == r.id && mergeUpdate(ss.tail.msg.Update, u) {
		return
	}
	ss.push(&outgoing{msg: Message{Type: MsgUpdate, Run: r.id, Update: u}}, true)
}

// enqueue queues a message that is not an update.
func (ss *session) enqueue(m Message) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.push(&outgoing{msg: m}, false)
}

// sendError queues an error message.
func (ss *session) sendError(runID int64, text string) {
	ss.enqueue(Message{Type: MsgError, Run: runID, Error: text})
}

// push appends o to the send queue; mergeable says whether later updates
// may merge into it. A full queue means the client reads nothing: the
// connection is dropped, which ends the session and its run. ss.mu must be
// held.
func (ss *session) push(o *outgoing, mergeable bool) {
	if ss.relay != nil && (o.msg.Type == MsgStarted || o.msg.Type == MsgStatus || o.msg.Type == MsgEnd) {
		ss.relay(o.msg)
	}
	if ss.dropped {
		return
	}
	select {
	case ss.send <- o:
		ss.tail = nil
		if mergeable {
			ss.tail = o
		}
	default:
		ss.dropped = true
		ss.tail = nil
		ss.srv.logf("web: dropping a websocket client that reads too slowly (%d messages queued)", len(ss.send))
		ss.cancel()
		ss.conn.Close()
	}
}

// writer writes the queued messages and the pings until the session ends.
// It is the only goroutine that writes to the connection, except for
// close messages, which the library allows from any goroutine.
func (ss *session) writer() {
	// The server pings at nine tenths of the pong deadline (54 s), so that
	// a live client's pong arrives in time.
	ping := time.NewTicker(ss.srv.opt.pongWait * 9 / 10)
	defer ping.Stop()
	for {
		select {
		case o := <-ss.send:
			data, err := ss.marshal(o)
			if err != nil {
				ss.srv.logf("web: encode %s message: %v", o.msg.Type, err)
				data, _ = json.Marshal(Message{Type: MsgError, Run: o.msg.Run, Error: "internal error: " + err.Error()})
			}
			ss.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := ss.conn.WriteMessage(websocket.TextMessage, data); err != nil {
				ss.fail()
				return
			}
		case <-ping.C:
			ss.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := ss.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				ss.fail()
				return
			}
		case <-ss.ctx.Done():
			// The client is gone, or the server is closing: say so, give
			// the client a moment to answer the close, then cut the
			// connection so that the reader returns.
			ss.conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseGoingAway, "server closing"),
				time.Now().Add(writeWait))
			t := time.NewTimer(lingerTime)
			select {
			case <-ss.readerDone:
			case <-t.C:
			}
			t.Stop()
			ss.conn.Close()
			return
		}
	}
}

// marshal encodes a message taken from the queue. Taking it stops later
// updates from merging into it, so that it can be encoded without holding
// the lock that the trace reader needs to hand over the next update.
func (ss *session) marshal(o *outgoing) ([]byte, error) {
	ss.mu.Lock()
	if ss.tail == o {
		ss.tail = nil
	}
	ss.mu.Unlock()
	return json.Marshal(o.msg)
}

// fail ends a session whose connection cannot be written to.
func (ss *session) fail() {
	ss.cancel()
	ss.conn.Close()
}

// clip shortens a client's text quoted in an error message, so that an
// error is never larger than the message that caused it.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
