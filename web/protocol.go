package web

import (
	"encoding/json"

	"github.com/concviz/concviz/tracer"
)

// Message is the one message type of the /ws websocket, in both directions.
// PROTOCOL.md describes the conversation; this comment lists the kinds.
//
// Client to server:
//   - "run": start Scenario in Variant ("" means "broken"; "fixed" the
//     default fixed variant); Hidden asks for hidden goroutines too. A
//     client has at most one run at a time; a new run cancels the previous
//     one.
//     Source, if set, is the learner's edit of the scenario's file: the
//     server builds and runs that instead (edit.go). A shared server
//     refuses it, as it does a source over tracer.MaxSource bytes.
//   - "cancel": stop the current run; its child process is killed.
//   - "view" (presenter): View is the page's view state, relayed to the
//     room's viewers as it is (room.go).
//   - "poll" (presenter): open Poll for the room's vote, or close it (no
//     Poll).
//   - "vote" (viewer): Choice in the poll whose ID is Poll.ID.
//   - "sync" (viewer): send the room's current state again.
//
// A viewer of a shared server may send only "vote" and "sync"; anything
// else gets an error and changes nothing.
//
// Server to client (every message of a run carries its Run number):
//   - "status": Text says, in words for a person, what a run is waiting
//     for before its child starts (the first race puzzle builds a -race
//     child, which takes seconds).
//   - "started": a run began (Scenario, Variant resolved to its real name).
//   - "update": Update holds what changed in the timeline since the last
//     update, sent as each trace generation arrives while the child runs.
//   - "end": the run is over; every started run ends with one. Report is
//     exactly what `viz run --json` prints; Timeline is the complete final
//     timeline, which replaces what the updates built; Recording names
//     the run's recording (a run that ends is always kept). Cancelled says the
//     run was stopped; Error is set when it was cut short or failed, and
//     Report and Timeline then hold what there is of it, or are absent.
//     Edited (in started and end) says the run is of the learner's edit;
//     Compile, with Error, lists the compiler's complaints about an edit
//     that does not build, by line of the edited file.
//   - "room": Room says who this connection is and how many viewers follow.
//   - "view", "poll": the presenter's view and poll, sent to viewers.
//   - "tally": the votes of the open poll, sent to presenters.
//   - "error": Error is a readable text (bad message, unknown scenario,
//     internal failure). The connection stays open and usable.
type Message struct {
	Type string `json:"type"`

	Scenario string `json:"scenario,omitempty"`
	Variant  string `json:"variant,omitempty"`
	// Hidden, in a run message, asks for the goroutines of the harness and
	// the runtime too, which updates and the end timeline leave out by
	// default.
	Hidden bool `json:"hidden,omitempty"`
	// Profile, in a run message, asks for a profile of the run: "cpu",
	// "wall" or "none"; "" takes the scenario's default. In started and
	// end messages it is the kind the run records, "" for none: an end's
	// profile is served under /pprof/{Recording.ID}/, and any window of
	// the recording under /pprof/{Recording.ID}/window/ (pprof.go).
	Profile string `json:"profile,omitempty"`
	// Source, in a run message, is the learner's edit of the scenario's
	// file (edit.go); Edited, in started and end, says the run is of one.
	Source string `json:"source,omitempty"`
	Edited bool   `json:"edited,omitempty"`
	// Compile, in an end message, lists why the learner's edit does not
	// build.
	Compile *tracer.CompileError `json:"compile,omitempty"`

	Run      int64            `json:"run,omitempty"`
	Update   *tracer.Update   `json:"update,omitempty"`
	Report   *tracer.Report   `json:"report,omitempty"`
	Timeline *tracer.Timeline `json:"timeline,omitempty"`
	Error    string           `json:"error,omitempty"`
	// Text is a status message\'s words.
	Text string `json:"text,omitempty"`
	// Recording, in an end message, names the recording of the run: it
	// is in GET /api/recordings, and /?open=ID shows it again.
	Recording *RecordingInfo `json:"recording,omitempty"`
	// Cancelled, in an end message, says that the run was stopped by a
	// cancel, a newer run or the server's shutdown rather than finishing.
	Cancelled bool `json:"cancelled,omitempty"`

	// The room's fields (room.go). View is opaque to the server: the page
	// writes it and the viewers' pages read it.
	View   json.RawMessage `json:"view,omitempty"`
	Poll   *Poll           `json:"poll,omitempty"`
	Choice string          `json:"choice,omitempty"`
	Tally  *Tally          `json:"tally,omitempty"`
	Room   *RoomState      `json:"room,omitempty"`
}

// The message types.
const (
	MsgRun     = "run"
	MsgCancel  = "cancel"
	MsgStarted = "started"
	MsgStatus  = "status"
	MsgUpdate  = "update"
	MsgEnd     = "end"
	MsgError   = "error"
)
