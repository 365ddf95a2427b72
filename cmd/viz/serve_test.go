package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServePrintsOneLineAndServes starts viz serve on a free port, reads
// the one line it promises, fetches the page and shuts it down.
func TestServePrintsOneLineAndServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	var stderr strings.Builder
	go func() {
		done <- Run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, outW, &stderr)
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	if !lines.Scan() {
		t.Fatalf("serve printed nothing; stderr: %s", stderr.String())
	}
	line := lines.Text()
	m := regexp.MustCompile(`^viz: serving on (http://127\.0\.0\.1:\d+/)$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("first line %q, want viz: serving on http://127.0.0.1:PORT/", line)
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET / = %d", resp.StatusCode)
	}
	go io.Copy(io.Discard, outR)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop after cancel")
	}
	if lines.Scan() {
		t.Errorf("serve printed a second line: %q", lines.Text())
	}
}

func TestServeUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--addr", "nonsense"},
		{"serve", "--static", "/no/such/dir"},
		{"serve", "extra"},
		{"serve", "--addr", "0.0.0.0:0"},
	} {
		code, _, stderr := viz(t, args...)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", args, code, stderr)
		}
	}
}
