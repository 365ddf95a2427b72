package tracer

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concviz/concviz/scenarios"
)

// TestLinkedPackagesStayOut checks the point of Link: neither viz nor the
// race child (the harness alone, customMain) compiles a package that a
// scenario links.
func TestLinkedPackagesStayOut(t *testing.T) {
	goTool, err := findGo()
	if err != nil {
		t.Skip(err)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(goTool, "list", "-deps", "./cmd/viz", "./tracer")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	links := 0
	for _, s := range scenarios.Catalog() {
		if s.Link == "" {
			continue
		}
		links++
		if slices.Contains(deps, s.Link) {
			t.Errorf("%s links %s, which viz or the race child imports", s.ID, s.Link)
		}
	}
	if links == 0 {
		t.Fatal("no scenario has a Link: the test checks nothing")
	}
	if slices.Contains(deps, "modernc.org/sqlite") {
		t.Error("viz or the race child imports modernc.org/sqlite")
	}
}

// TestLinkedChildBuild builds a child that links a small package, through
// the path a scenario with a Link takes: the first run hears that it
// waits for a build if the build is slow, the runs after it get the same binary at once, and a
// package that does not build gives an error each time it is asked for.
func TestLinkedChildBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a child with the go command")
	}
	if _, err := findGo(); err != nil {
		t.Skip(err)
	}
	s := &scenarios.Scenario{ID: "test-linked", Link: "github.com/concviz/concviz/scenarios"}
	var mu sync.Mutex
	var said []string
	status := func(text string) {
		mu.Lock()
		defer mu.Unlock()
		said = append(said, text)
	}
	begin := time.Now()
	exe, err := scenarioChild(s, status)
	if err != nil {
		t.Fatal(err)
	}
	// A warm build (the go command's cache) says nothing; one that took
	// well past slowBuildAfter must have said what it waited for.
	took := time.Since(begin)
	mu.Lock()
	if len(said) > 0 && !strings.Contains(said[0], "Building the scenarios child") {
		t.Errorf("the first build said %q, want a building message that names the package", said)
	}
	if len(said) == 0 && took > slowBuildAfter+time.Second {
		t.Errorf("the first build took %v and said nothing, want a building message after %v", took, slowBuildAfter)
	}
	mu.Unlock()
	if fi, err := os.Stat(exe); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("the child %s is not an executable: %v", exe, err)
	}
	said = nil
	again, err := scenarioChild(s, status)
	if err != nil || again != exe {
		t.Errorf("the second ask gave %q, %v; want the first build %q", again, err, exe)
	}
	if len(said) != 0 {
		t.Errorf("the second ask said %q, want nothing: nothing is built", said)
	}

	bad := &scenarios.Scenario{ID: "test-linked-bad", Link: "github.com/concviz/concviz/scenarios/no-such-package"}
	for i := range 2 {
		if _, err := scenarioChild(bad, nil); err == nil || !strings.Contains(err.Error(), "no-such-package") {
			t.Errorf("ask %d for a child of a missing package: %v, want an error naming it", i+1, err)
		}
	}
}

// TestPaginationOffsetTimeline runs the SQLite puzzle in its linked child
// and checks what its timeline shows: each page on the reader's lane,
// each insert on the writer's, and the posts read twice.
func TestPaginationOffsetTimeline(t *testing.T) {
	res, err := Run(context.Background(), RunOptions{Scenario: "pagination-offset", Variant: "broken"})
	if err != nil {
		t.Fatal(err)
	}
	tl := res.Timeline
	names := map[int64]string{}
	var visible []string
	for _, g := range tl.Goroutines {
		names[g.ID] = g.Name
		if !g.Hidden {
			visible = append(visible, g.Name)
		}
	}
	if len(visible) > 3 {
		t.Errorf("visible lanes %q: want the reader, the writer and database/sql's opener", visible)
	}
	logs := map[string][]string{}
	for _, l := range tl.Logs {
		logs[l.Category] = append(logs[l.Category], names[l.G]+": "+l.Message)
	}
	wantPages := []string{"1: [9 8 7]", "2: [7 6 5]", "3: [5 4 3]", "4: [3 2 1]", "5: [1]"}
	if len(logs["page"]) != len(wantPages) {
		t.Fatalf("page logs %q, want %q", logs["page"], wantPages)
	}
	for i, l := range logs["page"] {
		if !strings.HasSuffix(l, wantPages[i]) || !strings.Contains(l, "paginationBroken:") {
			t.Errorf("page log %d: %q, want %q on the reader's lane", i, l, wantPages[i])
		}
	}
	if len(logs["insert"]) != 4 {
		t.Errorf("insert logs %q, want 4, one between every two pages", logs["insert"])
	}
	for _, l := range logs["insert"] {
		if !strings.Contains(l, "insertNewer") {
			t.Errorf("insert log %q, want it on the writer's lane", l)
		}
	}
	if len(logs["check"]) != 1 || !strings.Contains(logs["check"][0], "read twice [7 5 3 1]") {
		t.Errorf("check logs %q, want the posts read twice", logs["check"])
	}
}
