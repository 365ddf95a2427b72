package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/concviz/concviz/web"
)

// printShare prints the two links of a shared server, one line each, then
// the viewer link as a QR code for the room to scan. base is the URL the
// room reaches the server at.
func printShare(stdout io.Writer, sh *web.Share, base string) {
	viewer := web.JoinURL(base, sh.ViewerToken)
	fmt.Fprintf(stdout, "presenter: %s\n", web.JoinURL(base, sh.PresenterToken))
	fmt.Fprintf(stdout, "viewer: %s\n", viewer)
	if code, err := web.TerminalQR(viewer); err == nil {
		fmt.Fprint(stdout, code)
	}
}

// shareWarning is printed to stderr whenever a server listens beyond
// loopback: whoever holds the presenter link runs code on this machine.
const shareWarning = `viz: WARNING: ################################################################
viz: WARNING: this server listens on %s, beyond this machine.
viz: WARNING: it RUNS CODE: whoever has the presenter link controls it.
viz: WARNING: share only the viewer link; stop the server after the session.
viz: WARNING: ################################################################
`

// maxSessionFetch bounds how long a session given as a URL may take.
const maxSessionFetch = 10 * time.Second

// loadSession reads a session from a file or, for an http(s) address, from
// the web, once, before the server starts: the page never fetches other
// sites.
func loadSession(ctx context.Context, where string) (*web.PresentSession, error) {
	if !strings.HasPrefix(where, "http://") && !strings.HasPrefix(where, "https://") {
		return web.ReadSessionFile(where)
	}
	ctx, cancel := context.WithTimeout(ctx, maxSessionFetch)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch session: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch session: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch session %s: %s", where, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("fetch session %s: %w", where, err)
	}
	ps, err := web.ParseSession(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return ps, nil
}
