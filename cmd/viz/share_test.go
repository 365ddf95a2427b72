package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeShare starts viz serve --share, reads its lines, joins with each
// link and checks what each may do over HTTP; the websocket side is tested
// in package web.
func TestServeShare(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	session := filepath.Join(t.TempDir(), "session.json")
	os.WriteFile(session, []byte(`{"title":"t","scenarios":[{"id":"deadlock-cross-wait","notes":"say hello"}]}`), 0o644)
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	var stderr strings.Builder
	go func() {
		done <- Run(ctx, []string{"serve", "--share", "--addr", "127.0.0.1:0", "--session", session}, outW, &stderr)
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	var got []string
	for len(got) < 4 && lines.Scan() {
		got = append(got, lines.Text())
	}
	go io.Copy(io.Discard, outR)
	if len(got) < 4 {
		t.Fatalf("serve --share printed %q; stderr: %s", got, stderr.String())
	}
	if !regexp.MustCompile(`^viz: serving on http://127\.0\.0\.1:\d+/$`).MatchString(got[0]) {
		t.Errorf("line 1 %q", got[0])
	}
	link := regexp.MustCompile(`^(presenter|viewer): (http://127\.0\.0\.1:\d+/join\?key=[0-9a-f]{32})$`)
	urls := map[string]string{}
	for _, l := range got[1:3] {
		m := link.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q, want presenter: URL or viewer: URL", l)
		}
		urls[m[1]] = m[2]
	}
	if len(urls) != 2 || !strings.HasPrefix(got[3], "\x1b[30;47m") {
		t.Errorf("links %v and QR line %q", urls, got[3])
	}
	if strings.Contains(stderr.String(), "WARNING") || !strings.Contains(stderr.String(), "only this machine can follow") {
		t.Errorf("stderr on loopback: %s", stderr.String())
	}
	base := strings.TrimSuffix(urls["viewer"], "/join?key="+urls["viewer"][len(urls["viewer"])-32:])

	for role, u := range urls {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(page), "<html") {
			t.Errorf("%s link: %d", role, resp.StatusCode)
		}
		resp, err = c.Get(base + "/api/room")
		if err != nil {
			t.Fatal(err)
		}
		room, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(room), `"role":"`+role+`"`) {
			t.Errorf("%s's room: %s", role, room)
		}
		if hasNotes := strings.Contains(string(room), "say hello"); hasNotes != (role == "presenter") {
			t.Errorf("%s's room shows the notes: %v", role, hasNotes)
		}
		resp, err = c.Get(base + "/api/recordings")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[string]int{"presenter": 200, "viewer": 403}[role]; resp.StatusCode != want {
			t.Errorf("%s GET /api/recordings: %d, want %d", role, resp.StatusCode, want)
		}
	}
	resp, err := http.Get(base + "/api/scenarios")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("no token: %d, want 403", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestServeShareWarnsBeyondLoopback(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	var stderr strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--share", "--addr", "0.0.0.0:0"}, outW, &stderr)
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	lines.Scan()
	go io.Copy(io.Discard, outR)
	cancel()
	<-done
	if !strings.Contains(stderr.String(), "RUNS CODE") {
		t.Errorf("no warning for 0.0.0.0: %q", stderr.String())
	}
}
