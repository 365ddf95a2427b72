package tracer

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// envTestChild makes the test binary play a misbehaving child for the
// runner's tests, the way os/exec's tests run helper processes.
const envTestChild = "CONCVIZ_TEST_CHILD"

func TestMain(m *testing.M) {
	// The test binary is the child of every scenario run in these tests.
	MaybeRunChild()
	if mode, ok := os.LookupEnv(envTestChild); ok {
		os.Exit(testChild(mode))
	}
	goleak.VerifyTestMain(m)
}

// hoard keeps what the "alloc" child allocates reachable.
var hoard [][]byte

// testChild misbehaves in the way its mode names.
func testChild(mode string) int {
	switch mode {
	case "hang":
		// Sleeps far past any timeout without touching the trace pipe.
		time.Sleep(time.Hour)
		return 0
	case "flood":
		// Writes far more output than the parent keeps.
		line := strings.Repeat("x", 1023) + "\n"
		for range 8 << 10 {
			os.Stdout.WriteString(line)
		}
		return 0
	case "alloc":
		// Allocates without bound, touching every page, and keeps it all.
		for {
			b := make([]byte, 16<<20)
			for i := range b {
				b[i] = 1
			}
			hoard = append(hoard, b)
		}
	case "fork":
		// Starts a grandchild that outlives this process unless the
		// parent kills the whole group, prints its pid and exits.
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(cmd.Process.Pid)
		time.Sleep(50 * time.Millisecond)
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown test child mode %q\n", mode)
	return 1
}
