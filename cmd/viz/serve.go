package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/concviz/concviz/web"
)

// defaultAddr is loopback only: the server runs code, so no other machine
// may reach it unless the user says so.
const defaultAddr = "127.0.0.1:7070"

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "serve [--addr HOST:PORT] [--open] [--static DIR] [--data DIR] [--share] [--session FILE|URL] [--index-above SIZE]", stderr)
	addr := fs.String("addr", defaultAddr, "listen on `HOST:PORT`; port 0 picks a free port")
	open := fs.Bool("open", false, "open the visualizer in the browser")
	static := fs.String("static", "", "serve the UI's files from `DIR` instead of the built-in ones (for editing them)")
	share := fs.Bool("share", false, "share with a room: print a presenter link and a read-only viewer link (with a QR code)")
	session := fs.String("session", "", "present the scenarios listed in `FILE` (or at an http(s) URL), in order")
	openStore := addDataFlag(fs)
	indexAbove := addIndexAboveFlag(fs)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("serve takes no arguments, got %q", rest[0])
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return usagef("serve: --addr %q: want HOST:PORT (for example %s)", *addr, defaultAddr)
	}
	if *static != "" {
		if fi, err := os.Stat(*static); err != nil || !fi.IsDir() {
			return usagef("serve: --static %q is not a directory", *static)
		}
	}
	var ps *web.PresentSession
	if *session != "" {
		if ps, err = loadSession(ctx, *session); err != nil {
			return usagef("serve: --session: %v", err)
		}
	}
	var sh *web.Share
	if *share {
		if sh, err = web.NewShare(); err != nil {
			return err
		}
		if !isLoopback(host) {
			fmt.Fprintf(stderr, shareWarning, *addr)
		} else {
			fmt.Fprintf(stderr, "viz: note: --share on %s: only this machine can follow; --addr 0.0.0.0:%s lets the room in\n", *addr, port)
		}
	} else if !isLoopback(host) {
		// Without --share there are no tokens: anyone who could reach the
		// server could run code on this machine.
		return usagef("serve: --addr %s is not a loopback address; the server runs code, so it listens beyond this machine only with --share, whose links carry tokens", *addr)
	}

	// The browser opener is started once the server accepts connections
	// and is waited for before returning, so that it is never orphaned.
	var opener sync.WaitGroup
	defer opener.Wait()
	ready := func(url string) {
		fmt.Fprintf(stdout, "viz: serving on %s\n", url)
		if sh != nil {
			printShare(stdout, sh, web.ShareBaseURL(url, host))
		}
		if *open {
			// A shared server answers only to its links: the presenter's
			// is the one for this machine's browser.
			page := url
			if sh != nil {
				page = web.JoinURL(web.ShareBaseURL(url, host), sh.PresenterToken)
			}
			opener.Go(func() { openBrowser(ctx, page, stderr) })
		}
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "viz: "+strings.TrimPrefix(format, "web: ")+"\n", args...)
	}
	opt := web.Options{
		Static:  *static,
		Share:   sh,
		Session: ps,
		Logf:    logf,
		Store:   openStore(logf, stderr),
		// An uploaded trace over the size is indexed as viz open's is.
		IndexAbove: indexAbove.options(),
	}
	if sh != nil {
		// The room reaches the server at this machine's own addresses,
		// which the Host check must then accept (names stay refused).
		opt.Hosts = append(opt.Hosts, web.LANAddrs()...)
	}
	err = web.ListenAndServe(ctx, *addr, opt, ready)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w (is another viz serving there? --addr 127.0.0.1:0 picks a free port)", err)
	}
	return err
}

// isLoopback reports whether host, from --addr, reaches only this machine.
// An empty host listens on every interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// openBrowser asks the desktop to open url. Failing is only a warning: the
// printed address works just as well. Some openers return at once, others
// stay until the browser exits; openBrowser waits for at most openWait, and
// the goroutine that reaps the opener ends when the opener does.
func openBrowser(ctx context.Context, url string, stderr io.Writer) {
	var name string
	var args []string
	switch runtime.GOOS {
	case "darwin":
		name = "open"
	case "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler"}
	default:
		name = "xdg-open"
	}
	cmd := exec.Command(name, append(args, url)...)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "viz: warning: could not open the browser: %v; open %s yourself\n", err, url)
		return
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t := time.NewTimer(openWait)
	defer t.Stop()
	select {
	case err := <-exited:
		if err != nil {
			fmt.Fprintf(stderr, "viz: warning: could not open the browser (%s: %v); open %s yourself\n", name, err, url)
		}
	case <-t.C:
	case <-ctx.Done():
	}
}

// openWait is how long a failure of the browser opener is waited for.
const openWait = 5 * time.Second
