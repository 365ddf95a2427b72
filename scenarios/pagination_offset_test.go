package scenarios

import (
	"strings"
	"testing"

	// The test binary links the driver that the pagination scenario's
	// child links, so that TestFixedVariants can run it in process.
	_ "github.com/concviz/concviz/scenarios/sqlite"
)

// TestPaginationOffsetPages runs both variants against the real database in
// process: OFFSET reads the last post of every full page again, the cursor
// reads each post once.
func TestPaginationOffsetPages(t *testing.T) {
	for range 20 {
		err := runBounded(paginationBroken)
		if err == nil {
			t.Fatal("paging with OFFSET read every post once; want repeats")
		}
		if want := "posts read twice: [7 5 3 1], posts never read: []"; err.Error() != want {
			t.Fatalf("paging with OFFSET: %v, want %q", err, want)
		}
		if err := runBounded(paginationFixed); err != nil {
			t.Fatalf("paging with a cursor: %v", err)
		}
	}
}

// TestPaginationOffsetLink checks that the package the scenario links is
// the one this test links, so that what passes here runs in the child.
func TestPaginationOffsetLink(t *testing.T) {
	if !strings.HasSuffix(paginationOffset.Link, "/scenarios/sqlite") {
		t.Errorf("pagination-offset links %q, want the scenarios/sqlite package", paginationOffset.Link)
	}
}
