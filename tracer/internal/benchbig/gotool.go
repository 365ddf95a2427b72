package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"time"
)

// goToolFigures are what `go tool trace` measured on the same file.
type goToolFigures struct {
	// Ready is the time from the start of `go tool trace` until its HTTP
	// server answered "/" with 200.
	Ready time.Duration
	// TimedOut says the viewer was not ready within the timeout; Ready
	// is then the timeout.
	TimedOut bool
	// PeakRSS is the sum of the peak RSS of the go command and of the
	// trace tool it runs, read before they are killed.
	PeakRSS int64
}

// goToolTrace times `go tool trace` on file until its viewer is ready.
// cmd/trace listens first, then parses the whole trace and splits it into
// ranges for the viewer, and only then serves: a request to "/" made
// while it parses waits in the listen backlog and is answered once the
// viewer is ready, so the first 200 is the moment a user could start
// looking. The tool is built, or found in the build cache, before the
// clock starts, so the figure is the viewer's alone; BROWSER=true keeps it
// from opening a browser of its own.
func goToolTrace(ctx context.Context, file string, timeout time.Duration, stderr io.Writer) (goToolFigures, error) {
	var f goToolFigures
	warm := exec.CommandContext(ctx, "go", "tool", "-n", "trace")
	if out, err := warm.CombinedOutput(); err != nil {
		return f, fmt.Errorf("build go tool trace: %w: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return f, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command("go", "tool", "trace", "-http="+addr, file)
	cmd.Env = append(os.Environ(), "BROWSER=true")
	var log tail
	cmd.Stdout, cmd.Stderr = &log, &log
	t0 := time.Now()
	g, err := startGroup(cmd)
	if err != nil {
		return f, err
	}
	defer g.stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	progress := time.NewTicker(15 * time.Second)
	defer progress.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
		if err != nil {
			return f, fmt.Errorf("go tool trace: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				f.Ready = time.Since(t0)
				f.PeakRSS = g.peakRSS()
				return f, g.stop()
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				f.Ready, f.TimedOut = timeout, true
				f.PeakRSS = g.peakRSS()
				return f, g.stop()
			}
			return f, ctx.Err()
		case <-g.exited:
			return f, fmt.Errorf("go tool trace exited before its viewer was ready: %s", log.String())
		case <-progress.C:
			fmt.Fprintf(stderr, "benchbig: go tool trace still preparing after %.0f s, %.1f GB resident at peak\n",
				time.Since(t0).Seconds(), float64(g.peakRSS())/1e9)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freePort returns a loopback port that was free a moment ago. cmd/trace
// prints its address only when it is ready, so the port is chosen here.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
