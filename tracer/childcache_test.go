package tracer

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Pruning keeps the children used most recently and any used within
// childInUse, however many there are: another viz process may be running
// one of them. Only old ones beyond the count go.
func TestPruneChildrenSparesChildrenInUse(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * childInUse)
	var paths []string
	for i := range 6 {
		p := filepath.Join(dir, fmt.Sprintf("viz-race-%d", i))
		if err := os.WriteFile(p, []byte("x"), 0o755); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	// 0-3 are old, 0 the oldest; 4 and 5 are in use.
	for i := range 4 {
		mod := old.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(paths[i], mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	current := filepath.Join(dir, "viz-race-current")
	if err := os.WriteFile(current, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	pruneChildren(filepath.Join(dir, "viz-race-*"), current, 3)
	// Kept: current, the 3 most recent (5, 4, 3), and nothing else old.
	for i, p := range paths {
		_, err := os.Stat(p)
		if kept := err == nil; kept != (i >= 3) {
			t.Errorf("%s kept %v, want %v", filepath.Base(p), kept, i >= 3)
		}
	}
	if _, err := os.Stat(current); err != nil {
		t.Errorf("the current child was removed: %v", err)
	}
	// Children in use survive even beyond the count.
	pruneChildren(filepath.Join(dir, "viz-race-*"), current, 0)
	for _, p := range paths[4:] {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s, in use, was removed: %v", filepath.Base(p), err)
		}
	}
	if _, err := os.Stat(paths[3]); err == nil {
		t.Errorf("%s, old and beyond the count, was kept", filepath.Base(paths[3]))
	}
}

// A race child removed while viz runs (by hand, or by another viz process's
// pruning) is built again at the next race run, not exec'd as a missing
// file: a long verify once failed 36 runs of 50 that way.
func TestRaceChildRebuiltAfterRemoval(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("builds the race child")
	}
	if _, err := findGo(); err != nil {
		t.Skip(err)
	}
	if _, err := raceChild(); err != nil {
		t.Fatal(err)
	}
	// The file itself is shared with every viz process and test binary of
	// this source, so the test removes a stand-in, not it.
	gone := filepath.Join(t.TempDir(), "viz-race-removed")
	raceBuild.mu.Lock()
	raceBuild.path = gone
	raceBuild.mu.Unlock()
	again, err := raceChild()
	if err != nil {
		t.Fatal(err)
	}
	if again == gone {
		t.Fatalf("raceChild gave the removed %s", gone)
	}
	if _, err := os.Stat(again); err != nil {
		t.Fatalf("raceChild gave %s after its removal, which does not exist: %v", again, err)
	}
}
