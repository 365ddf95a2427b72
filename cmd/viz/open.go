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
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/concviz/concviz/tracer"
	"github.com/concviz/concviz/tracer/index"
	"github.com/concviz/concviz/web"
)

// cmdOpen is `viz open FILE [FILE2]`: the visualizer on a trace a user
// brings (`go test -trace`, runtime/trace, the flight recorder) or on a
// saved .concviz recording; two files open side by side on one clock. The
// files are read before the server listens, so that the printed address
// draws at once and a file that cannot be read fails the command.
//
// A single plain trace over --index-above is not read first: the server
// listens at once and indexes it as a stream (web.BigTrace), a progress bar
// runs on stderr, and the page draws the indexed prefix while the rest is
// read. Reading a trace of a gigabyte whole would take minutes and many
// times its size in memory.
func cmdOpen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("open", "open [--addr HOST:PORT] [--open] [--static DIR] [--data DIR] [--index-above SIZE] FILE [FILE2]\n       viz open --stats FILE", stderr)
	addr := fs.String("addr", defaultAddr, "listen on `HOST:PORT`; port 0 picks a free port")
	open := fs.Bool("open", false, "open the visualizer in the browser")
	static := fs.String("static", "", "serve the UI's files from `DIR` instead of the built-in ones (for editing them)")
	openStore := addDataFlag(fs)
	stats := fs.Bool("stats", false, "print the trace's statistics instead of serving it")
	indexAbove := addIndexAboveFlag(fs)
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
	var big []web.BigTrace
	if len(rest) == 1 && indexable(rest[0], int64(*indexAbove)) {
		path := rest[0]
		bar := newProgressBar(stderr, fileSize(path))
		big = append(big, web.BigTrace{Path: path, Progress: func(st index.Stats) {
			if st.Done {
				bar.clear()
				return
			}
			bar.update(st)
		}})
	}
	for _, path := range rest {
		if big != nil {
			// The one file is indexed by the server.
			break
		}
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
			page := url + "?open=" + strings.Join(ids, ",")
			if big != nil {
				page = url + "?big=1"
			}
			opener.Go(func() { openBrowser(ctx, page, stderr) })
		}
	}
	opt := web.Options{Static: *static, Logf: logf, Store: store, Open: ids, Big: big, IndexAbove: indexAbove.options()}
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

// defaultIndexAbove is the size over which viz open indexes a trace, and
// the server an uploaded one, instead of reading it whole.
const defaultIndexAbove = web.DefaultIndexAbove

// addIndexAboveFlag adds --index-above to a command that serves the page:
// the size over which a plain trace, named on the command line or uploaded
// from the page, is indexed as a stream instead of read whole.
func addIndexAboveFlag(fs *flag.FlagSet) *byteSize {
	b := byteSize(defaultIndexAbove)
	fs.Var(&b, "index-above", "index a trace larger than `SIZE` (32MB, 1GB, ...), opened or uploaded, as a stream, drawn while it is read; 0 indexes every trace")
	return &b
}

// options is the flag's value as web.Options.IndexAbove takes it, where 0
// means the default and a negative size indexes every trace.
func (b byteSize) options() int64 {
	if b == 0 {
		return -1
	}
	return int64(b)
}

// indexable reports whether the file at path is a plain execution trace
// (not a .concviz archive) larger than above bytes, to be indexed as a
// stream. A file that cannot be read, or does not start like a trace, is
// left to the ordinary path, which says what is wrong with it.
func indexable(path string, above int64) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() <= above {
		return false
	}
	// Every execution trace starts with its header, "go 1.NN trace"; a
	// recording is a zip archive.
	head := make([]byte, 5)
	if _, err := io.ReadFull(f, head); err != nil {
		return false
	}
	return string(head) == "go 1."
}

// fileSize returns the size of the file at path, or 0.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// byteSize is a flag of a size in bytes, written with an optional unit:
// 0, 4096, 512KB, 32MB, 1.5GB (units of 1024).
type byteSize int64

func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		s string
		m int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}} {
		if n >= u.m && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Set(s string) error {
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, suf := range []struct {
		s string
		m int64
	}{{"GB", 1 << 30}, {"G", 1 << 30}, {"MB", 1 << 20}, {"M", 1 << 20}, {"KB", 1 << 10}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(u, suf.s) {
			u, mult = strings.TrimSuffix(u, suf.s), suf.m
			break
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(u), 64)
	if err != nil || n < 0 || n*float64(mult) > 1<<62 {
		return fmt.Errorf("want a size such as 0, 32MB or 1GB")
	}
	*b = byteSize(n * float64(mult))
	return nil
}
