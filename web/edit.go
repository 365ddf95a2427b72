package web

import (
	"fmt"

	"github.com/concviz/concviz/tracer"
)

// A learner may edit a scenario's file in the code pane and run their
// version (tracer.RunOptions.Source): the server compiles the edit with the
// local Go toolchain and runs it as its own child. That is running the
// page's code on the machine, which is the point on a learner's own server
// and never acceptable on a shared one: there the presenter's page could be
// anyone holding the link's token, and the room would run what it types. So
// a shared server refuses every edited run, the presenter's included.

// maxEditMessage is the read limit of a local server's websocket: a run
// message carries up to tracer.MaxSource bytes of source, which JSON
// escapes to at most two bytes each for what Go source holds (tabs,
// newlines, quotes, backslashes), plus the message's own few fields. A
// source full of other control characters (six bytes each, \u00XX) closes
// the connection as any oversized message does; the page checks the size
// before it sends. A shared server keeps maxMessageSize, since it takes no
// source.
const maxEditMessage = 2*tracer.MaxSource + 4<<10

// readLimit is the largest message this server reads from a session.
func (s *Server) readLimit() int64 {
	if s.opt.Share != nil {
		return maxMessageSize
	}
	return maxEditMessage
}

// checkSource says why an edited run may not start, or nil when it may.
// An empty source is no edit: the catalog's code runs.
func (s *Server) checkSource(src string) error {
	if src == "" {
		return nil
	}
	if s.opt.Share != nil {
		return fmt.Errorf("a shared server runs only the catalog's code: edit and run your own version on your own machine (viz, or viz serve without --share)")
	}
	if len(src) > tracer.MaxSource {
		return fmt.Errorf("your version is %d bytes; a scenario file may have at most %d", len(src), tracer.MaxSource)
	}
	return nil
}
