package tracer

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/trace"
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
	case "spin":
		// Loops for ever on every CPU, never blocking.
		for range runtime.GOMAXPROCS(0) - 1 {
			go spin()
		}
		spin()
	case "flood-forever":
		// Writes to stdout and stderr for ever, as fast as the pipes take
		// it.
		line := strings.Repeat("y", 1023) + "\n"
		go func() {
			for {
				os.Stderr.WriteString(line)
			}
		}()
		for {
			os.Stdout.WriteString(line)
		}
	case "fork-hang":
		// Starts a grandchild, prints its pid and hangs: only a kill of
		// the whole group at the timeout ends both.
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(cmd.Process.Pid)
		time.Sleep(time.Hour)
		return 0
	case "trace-flood":
		// Traces busy ping-pong pairs for ever: the trace grows by tens of
		// megabytes a second.
		if err := trace.Start(os.NewFile(traceFD, "trace")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for range 4 {
			ping, pong := make(chan int), make(chan int)
			go func() {
				for v := range ping {
					pong <- v
				}
			}()
			go func() {
				for i := 0; ; i++ {
					ping <- i
					<-pong
				}
			}()
		}
		select {}
	}
	fmt.Fprintf(os.Stderr, "unknown test child mode %q\n", mode)
	return 1
}

// spin burns a CPU for ever.
func spin() {
	for n := 0; ; n++ {
		if n < 0 {
			fmt.Println(n)
		}
	}
}
