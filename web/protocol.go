package web

import "github.com/concviz/concviz/tracer"

// Message is the one message type of the /ws websocket, in both directions.
// PROTOCOL.md describes the conversation; this comment lists the kinds.
//
// Client to server:
//   - "run": start Scenario in Variant ("" means "broken"). A client has at
//     most one run at a time; a new run cancels the previous one.
//   - "cancel": stop the current run; its child process is killed.
//
// Server to client (every message of a run carries its Run number):
//   - "started": a run began (Scenario, Variant resolved to its real name).
//   - "update": Update holds what changed in the timeline since the last
//     update, sent as each trace generation arrives while the child runs.
//   - "end": the run is over. Report is exactly what `viz run --json`
//     prints; Timeline is the complete final timeline, which replaces what
//     the updates built.
//   - "error": Error is a readable text (bad message, unknown scenario,
//     internal failure). The connection stays open and usable.
type Message struct {
	Type string `json:"type"`

	Scenario string `json:"scenario,omitempty"`
	Variant  string `json:"variant,omitempty"`

	Run      int64            `json:"run,omitempty"`
	Update   *tracer.Update   `json:"update,omitempty"`
	Report   *tracer.Report   `json:"report,omitempty"`
	Timeline *tracer.Timeline `json:"timeline,omitempty"`
	Error    string           `json:"error,omitempty"`
}

// The message types.
const (
	MsgRun     = "run"
	MsgCancel  = "cancel"
	MsgStarted = "started"
	MsgUpdate  = "update"
	MsgEnd     = "end"
	MsgError   = "error"
)
