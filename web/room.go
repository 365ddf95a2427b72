package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/concviz/concviz/tracer"
)

// A room is the audience of a server: the viewers' websockets, which follow
// what the presenter shows. The presenter's sessions relay their runs
// (started, status, updates, end) and the page's view state to the room;
// the room encodes each message once and hands the same bytes to every
// viewer's queue. It also keeps what a viewer who joins late needs to see
// the current state at once: the current run, merged, and the last view.
//
// A viewer never slows the presenter or another viewer. Each has its own
// bounded queue and writer; a message that finds the queue full drops that
// viewer. A viewer that stops reading stops answering pings too, and is
// dropped once viewerPongWait passes without a pong.

// Viewer connection timing and limits.
const (
	// viewerQueueLen bounds the messages waiting for one viewer. A live
	// run sends about 20 updates a second; a page that keeps up never has
	// more than a few queued, so a full queue means it has stopped.
	viewerQueueLen = 128
	// viewerPingPeriod is how often viewers are pinged. Short, so that a
	// viewer that stops reading is noticed in seconds, not in a minute.
	viewerPingPeriod = time.Second
	// viewerPongWait is how long a viewer may go without answering.
	viewerPongWait = 3 * time.Second
	// viewerWriteWait bounds one write to a viewer.
	viewerWriteWait = 3 * time.Second
	// DefaultMaxViewers caps the viewers of a room: a big lecture hall.
	DefaultMaxViewers = 500
)

// The message kinds of a room (see protocol.go).
const (
	// MsgView carries the presenter's view state, relayed to viewers.
	MsgView = "view"
	// MsgPoll opens (Poll set) or closes (Poll nil) a vote.
	MsgPoll = "poll"
	// MsgVote is a viewer's choice in the open poll.
	MsgVote = "vote"
	// MsgTally is the count of votes, sent to presenters.
	MsgTally = "tally"
	// MsgRoom says who the connection is and how many viewers follow.
	MsgRoom = "room"
	// MsgSync asks the room for its current state again (a viewer who
	// rejoins after exploring on their own).
	MsgSync = "sync"
)

// Poll is a question put to the room.
type Poll struct {
	// ID names the poll, so that votes for an old one are not counted.
	ID       string   `json:"id"`
	Question string   `json:"question"`
	Options  []string `json:"options"`
}

// Tally counts the votes of the open poll.
type Tally struct {
	Poll   string         `json:"poll"`
	Counts map[string]int `json:"counts"`
	// Voters is how many viewers voted; Viewers how many follow.
	Voters  int `json:"voters"`
	Viewers int `json:"viewers"`
}

// RoomState is the payload of a "room" message.
type RoomState struct {
	Role    string `json:"role"`
	Viewers int    `json:"viewers"`
}

// room is the audience of one server.
type room struct {
	srv *Server

	mu sync.Mutex
	// viewers are the connected viewers.
	viewers map[*viewer]struct{}
	// presenters are the presenter sessions, to which tallies and viewer
	// counts go.
	presenters map[*session]struct{}
	// runs maps a presenter session's run number to the room's, since
	// every session counts its runs from 1.
	runs map[runKey]int64
	// seq numbers the room's runs.
	seq int64
	// started, status and end are the encoded messages of the current
	// run; updates are its updates so far, merged where they fit.
	started, status, end []byte
	updates              []*tracer.Update
	// view is the encoded last view message, poll the open poll (nil for
	// none) and votes the viewers' choices in it.
	view  []byte
	poll  *Poll
	votes map[*viewer]string
}

type runKey struct {
	ss  *session
	run int64
}

// viewer is one viewer's websocket.
type viewer struct {
	conn *websocket.Conn
	// send holds encoded messages for the writer; closed never, dropped
	// viewers are cut off by cancel.
	send   chan []byte
	ctx    context.Context
	cancel context.CancelFunc
	// dropped is set, under room.mu, when the queue overflowed.
	dropped bool
}

func newRoom(s *Server) *room {
	return &room{
		srv:        s,
		viewers:    map[*viewer]struct{}{},
		presenters: map[*session]struct{}{},
		runs:       map[runKey]int64{},
		votes:      map[*viewer]string{},
	}
}

func (rm *room) viewerCount() int {
	if rm == nil {
		return 0
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return len(rm.viewers)
}

// addPresenter registers a presenter session, which then relays its runs.
// The caller must call removePresenter when the session ends.
func (rm *room) addPresenter(ss *session) {
	rm.mu.Lock()
	rm.presenters[ss] = struct{}{}
	n := len(rm.viewers)
	rm.mu.Unlock()
	ss.relay = func(m Message) { rm.relay(ss, m) }
	ss.enqueue(Message{Type: MsgRoom, Room: &RoomState{Role: "presenter", Viewers: n}})
}

func (rm *room) removePresenter(ss *session) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	delete(rm.presenters, ss)
	for k := range rm.runs {
		if k.ss == ss {
			delete(rm.runs, k)
		}
	}
}

// relay hands a message of a presenter's run to the room. It is called
// with the session's lock held, so it never blocks and never calls back
// into a session; the update it is given may change once it returns, so it
// is encoded at once.
func (rm *room) relay(ss *session, m Message) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	key := runKey{ss, m.Run}
	switch m.Type {
	case MsgStarted:
		rm.seq++
		rm.runs[key] = rm.seq
		m.Run = rm.seq
		rm.started = rm.encode(m)
		rm.status, rm.end, rm.updates = nil, nil, nil
		rm.broadcast(rm.started)
	case MsgStatus, MsgUpdate, MsgEnd:
		id, ok := rm.runs[key]
		if !ok || id != rm.seq {
			// A run that is not the room's current one (superseded
			// by another presenter's): its messages are of no use.
			return
		}
		m.Run = id
		b := rm.encode(m)
		switch m.Type {
		case MsgStatus:
			rm.status = b
		case MsgUpdate:
			rm.keepUpdate(b)
		case MsgEnd:
			rm.end = b
			rm.updates = nil
			delete(rm.runs, key)
		}
		rm.broadcast(b)
	}
}

// keepUpdate adds an encoded update to the current run's backlog, merged
// into the last one where the two fit, so that a late joiner gets the run
// so far in one or a few messages. Decoding the bytes gives the room its
// own copy, which nothing else changes.
func (rm *room) keepUpdate(b []byte) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil || m.Update == nil {
		return
	}
	if n := len(rm.updates); n > 0 && mergeUpdate(rm.updates[n-1], m.Update) {
		return
	}
	rm.updates = append(rm.updates, m.Update)
}

// setView keeps and relays the presenter's view state.
func (rm *room) setView(view json.RawMessage) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	rm.view = rm.encode(Message{Type: MsgView, View: view})
	rm.broadcast(rm.view)
}

// setPoll opens a poll (p set) or closes the open one, relays it to the
// viewers and returns the fresh tally for the presenters.
func (rm *room) setPoll(p *Poll) {
	rm.mu.Lock()
	rm.poll = p
	rm.votes = map[*viewer]string{}
	rm.broadcast(rm.encode(Message{Type: MsgPoll, Poll: p}))
	t := rm.tally()
	pres := rm.presenterList()
	rm.mu.Unlock()
	sendAll(pres, Message{Type: MsgTally, Tally: t})
}

// vote records a viewer's choice, which must be one of the open poll's
// options, and sends the tally to the presenters.
func (rm *room) vote(v *viewer, poll, choice string) error {
	rm.mu.Lock()
	if rm.poll == nil || poll != rm.poll.ID {
		rm.mu.Unlock()
		return errors.New("vote: no such poll is open")
	}
	if !slices.Contains(rm.poll.Options, choice) {
		rm.mu.Unlock()
		return fmt.Errorf("vote: %q is not one of the options", clip(choice))
	}
	rm.votes[v] = choice
	t := rm.tally()
	pres := rm.presenterList()
	rm.mu.Unlock()
	sendAll(pres, Message{Type: MsgTally, Tally: t})
	return nil
}

// tally counts the votes; rm.mu must be held.
func (rm *room) tally() *Tally {
	if rm.poll == nil {
		return nil
	}
	t := &Tally{Poll: rm.poll.ID, Counts: map[string]int{}, Viewers: len(rm.viewers)}
	for _, o := range rm.poll.Options {
		t.Counts[o] = 0
	}
	for _, c := range rm.votes {
		t.Counts[c]++
		t.Voters++
	}
	return t
}

func (rm *room) presenterList() []*session {
	out := make([]*session, 0, len(rm.presenters))
	for ss := range rm.presenters {
		out = append(out, ss)
	}
	return out
}

// sendAll queues m on each session, outside the room's lock (a session's
// lock is taken before the room's, never after).
func sendAll(list []*session, m Message) {
	for _, ss := range list {
		ss.enqueue(m)
	}
}

// encode marshals a message for the viewers. The types involved always
// encode; a failure would be a bug, reported as an error message.
func (rm *room) encode(m Message) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		rm.srv.logf("web: encode %s message for the room: %v", m.Type, err)
		b, _ = json.Marshal(Message{Type: MsgError, Error: "internal error: " + err.Error()})
	}
	return b
}

// broadcast queues b on every viewer; rm.mu must be held.
func (rm *room) broadcast(b []byte) {
	for v := range rm.viewers {
		rm.push(v, b)
	}
}

// push queues b on viewer v, dropping v if its queue is full; rm.mu must
// be held.
func (rm *room) push(v *viewer, b []byte) {
	if v.dropped {
		return
	}
	select {
	case v.send <- b:
	default:
		v.dropped = true
		rm.srv.logf("web: dropping a viewer that reads too slowly (%d messages queued)", len(v.send))
		v.cancel()
	}
}

// snapshot queues on v what a newcomer needs: who it is, the current run
// so far, the view and the open poll; rm.mu must be held.
func (rm *room) snapshot(v *viewer) {
	rm.push(v, rm.encode(Message{Type: MsgRoom, Room: &RoomState{Role: "viewer", Viewers: len(rm.viewers)}}))
	if rm.started != nil {
		rm.push(v, rm.started)
		if rm.status != nil {
			rm.push(v, rm.status)
		}
		var run Message
		json.Unmarshal(rm.started, &run)
		for _, u := range rm.updates {
			rm.push(v, rm.encode(Message{Type: MsgUpdate, Run: run.Run, Update: u}))
		}
		if rm.end != nil {
			rm.push(v, rm.end)
		}
	}
	if rm.view != nil {
		rm.push(v, rm.view)
	}
	if rm.poll != nil {
		rm.push(v, rm.encode(Message{Type: MsgPoll, Poll: rm.poll}))
	}
}

// join adds a viewer. It is sent nothing until it asks with "sync": a
// page opens its socket by sending one, and would otherwise get the state
// twice.
func (rm *room) join(v *viewer) bool {
	rm.mu.Lock()
	if len(rm.viewers) >= rm.maxViewers() {
		rm.mu.Unlock()
		return false
	}
	rm.viewers[v] = struct{}{}
	n := len(rm.viewers)
	pres := rm.presenterList()
	rm.mu.Unlock()
	sendAll(pres, Message{Type: MsgRoom, Room: &RoomState{Role: "presenter", Viewers: n}})
	return true
}

func (rm *room) leave(v *viewer) {
	rm.mu.Lock()
	delete(rm.viewers, v)
	delete(rm.votes, v)
	n := len(rm.viewers)
	pres := rm.presenterList()
	rm.mu.Unlock()
	sendAll(pres, Message{Type: MsgRoom, Room: &RoomState{Role: "presenter", Viewers: n}})
}

func (rm *room) maxViewers() int {
	if rm.srv.opt.MaxViewers > 0 {
		return rm.srv.opt.MaxViewers
	}
	return DefaultMaxViewers
}

// serveViewer runs a viewer's websocket until it ends. Viewers do not take
// one of the server's socket slots, which bound child processes: a viewer
// never starts one. Their own cap is MaxViewers.
func (rm *room) serveViewer(w http.ResponseWriter, r *http.Request) {
	s := rm.srv
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "503 server is shutting down", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	if rm.viewerCount() >= rm.maxViewers() {
		http.Error(w, "503 the room is full", http.StatusServiceUnavailable)
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.logf("web: viewer websocket upgrade: %v", err)
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	v := &viewer{conn: conn, send: make(chan []byte, viewerQueueLen), ctx: ctx, cancel: cancel}
	if !rm.join(v) {
		cancel()
		conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "the room is full"), time.Now().Add(time.Second))
		conn.Close()
		return
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		rm.writeViewer(v)
	}()
	rm.readViewer(v)
	cancel()
	rm.leave(v)
	<-writerDone
	conn.Close()
}

// readViewer reads a viewer's messages until the connection fails or the
// viewer is dropped. A viewer may vote and ask for the state again; every
// other kind, above all run and cancel, is refused with an error.
func (rm *room) readViewer(v *viewer) {
	v.conn.SetReadLimit(maxMessageSize)
	v.conn.SetReadDeadline(time.Now().Add(viewerPongWait))
	v.conn.SetPongHandler(func(string) error {
		return v.conn.SetReadDeadline(time.Now().Add(viewerPongWait))
	})
	// The writer cuts the connection when the viewer is dropped or the
	// server closes, which ends ReadMessage.
	for {
		kind, data, err := v.conn.ReadMessage()
		if err != nil {
			return
		}
		v.conn.SetReadDeadline(time.Now().Add(viewerPongWait))
		if kind != websocket.TextMessage {
			rm.viewerError(v, "messages must be JSON text, not binary")
			continue
		}
		var m Message
		if err := json.Unmarshal(data, &m); err != nil {
			rm.viewerError(v, fmt.Sprintf("malformed message: %v", err))
			continue
		}
		switch m.Type {
		case MsgVote:
			pollID := ""
			if m.Poll != nil {
				pollID = m.Poll.ID
			}
			if err := rm.vote(v, pollID, m.Choice); err != nil {
				rm.viewerError(v, err.Error())
			}
		case MsgSync:
			rm.mu.Lock()
			rm.snapshot(v)
			rm.mu.Unlock()
		default:
			rm.viewerError(v, fmt.Sprintf("a viewer of a shared session cannot send %q: only the presenter runs code or changes what the room sees; a viewer may send %q or %q", clip(m.Type), MsgVote, MsgSync))
		}
	}
}

func (rm *room) viewerError(v *viewer, text string) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	rm.push(v, rm.encode(Message{Type: MsgError, Error: text}))
}

// writeViewer writes a viewer's queue and its pings until the viewer is
// dropped or gone, then closes the connection so that the reader returns.
func (rm *room) writeViewer(v *viewer) {
	ping := time.NewTicker(viewerPingPeriod)
	defer ping.Stop()
	defer v.conn.Close()
	for {
		select {
		case b := <-v.send:
			v.conn.SetWriteDeadline(time.Now().Add(viewerWriteWait))
			if err := v.conn.WriteMessage(websocket.TextMessage, b); err != nil {
				v.cancel()
				return
			}
		case <-ping.C:
			v.conn.SetWriteDeadline(time.Now().Add(viewerWriteWait))
			if err := v.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				v.cancel()
				return
			}
		case <-v.ctx.Done():
			v.conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseGoingAway, "dropped or closing"),
				time.Now().Add(100*time.Millisecond))
			return
		}
	}
}

// fromPresenter acts on a room message of a presenter's session: a view
// to relay or a poll to open or close. A server that is not shared has no
// room to tell, and ignores them.
func (rm *room) fromPresenter(ss *session, m Message) {
	if rm.srv.opt.Share == nil {
		return
	}
	switch m.Type {
	case MsgView:
		rm.setView(m.View)
	case MsgPoll:
		if m.Poll != nil && (m.Poll.ID == "" || len(m.Poll.Options) == 0) {
			ss.sendError(0, "poll: want an id and at least one option")
			return
		}
		rm.setPoll(m.Poll)
	}
}
