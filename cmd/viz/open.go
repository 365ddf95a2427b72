package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/concviz/concviz/tracer"
	"github.com/concviz/concviz/web"
)

// cmdOpen is `viz open FILE [FILE2]`: the visualizer on a trace a user
// brings (`go test -trace`, runtime/trace, the flight recorder) or on a
// saved .concviz recording; two files open side by side on one clock. The
// files are read before the server listens, so that the printed address
// draws at once and a file that cannot be read fails the command.
func cmdOpen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("open", "open [--addr HOST:PORT] [--open] [--static DIR] [--data DIR] FILE [FILE2]\n       viz open --stats FILE", stderr)
	addr := fs.String("addr", defaultAddr, "listen on `HOST:PORT`; port 0 picks a free port")
	open := fs.Bool("open", false, "open the visualizer in the browser")
	static := fs.String("static", "", "serve the UI's files from `DIR` instead of the built-in ones (for editing them)")
	openStore := addDataFlag(fs)
	stats := fs.Bool("stats", false, "print the trace's statistics instead of serving it")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *stats {
		if len(rest) != 1 {
			return usagef("open --stats takes one FILE, got %d", len(rest))
		}
		return openStats(ctx, rest[0], stdout, stderr)
	}
	if len(rest) == 0 || len(rest) > 2 {
		return usagef("open takes one FILE, or two to compare side by side; got %d", len(rest))
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return usagef("open: --addr %q: want HOST:PORT (for example %s)", *addr, defaultAddr)
	}
	if *static != "" {
		if fi, err := os.Stat(*static); err != nil || !fi.IsDir() {
			return usagef("open: --static %q is not a directory", *static)
		}
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "viz: "+strings.TrimPrefix(format, "web: ")+"\n", args...)
	}
	store := openStore(logf, stderr)
	var ids []string
	for _, path := range rest {
		rec, tl, err := tracer.OpenRecordingFile(path)
		if err != nil {
			return err
		}
		for _, w := range tl.Warnings {
			fmt.Fprintf(stderr, "viz: warning: %s: %s\n", path, w)
		}
		// A user's file stays where it is: it is not copied into the data
		// directory.
		info, err := store.AddFile(path, rec, tl)
		if err != nil {
			return err
		}
		ids = append(ids, info.ID)
	}
	if !isLoopback(host) {
		return usagef("open: --addr %s is not a loopback address; the server runs code, so only viz serve --share listens beyond this machine", *addr)
	}

	var opener sync.WaitGroup
	defer opener.Wait()
	ready := func(url string) {
		fmt.Fprintf(stdout, "viz: serving on %s\n", url)
		if *open {
			opener.Go(func() { openBrowser(ctx, url+"?open="+strings.Join(ids, ","), stderr) })
		}
	}
	opt := web.Options{Static: *static, Logf: logf, Store: store, Open: ids}
	err = web.ListenAndServe(ctx, *addr, opt, ready)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w (is another viz serving there? --addr 127.0.0.1:0 picks a free port)", err)
	}
	return err
}

// addDataFlag adds --data to a command that serves the page, and returns
// the function that opens the store of recordings it names: the page's runs
// are saved there, under a cap. A directory that cannot be used is a
// warning, and the recordings stay in memory.
func addDataFlag(fs *flag.FlagSet) func(logf func(string, ...any), stderr io.Writer) *web.Store {
	dir := fs.String("data", defaultDataDir(), "keep the recordings of runs in `DIR` (capped at 512 MB; the oldest are deleted); empty keeps them in memory")
	return func(logf func(string, ...any), stderr io.Writer) *web.Store {
		store, err := web.NewStore(*dir, 0, logf)
		if err != nil {
			fmt.Fprintf(stderr, "viz: warning: %v; recordings of runs are kept in memory only\n", err)
			store, _ = web.NewStore("", 0, logf)
		}
		return store
	}
}

// defaultDataDir is where recordings are kept unless --data says otherwise:
// the user's cache directory, since the directory is capped and its oldest
// recordings are deleted (a run to keep is downloaded from the page). It is
// "" (memory only) where the system has no such directory.
func defaultDataDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "concviz", "recordings")
}
