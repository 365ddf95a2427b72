package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/concviz/concviz/tracer"
	"github.com/concviz/concviz/web"
)

func TestMain(m *testing.M) {
	// The test binary is the scenario's child too.
	tracer.MaybeRunChild()
	m.Run()
}

// TestSmallRoom runs the load test with a small room and real runs: every
// viewer gets every action and every run, and the stalled viewers are
// dropped. The delay target is the program's to check on a quiet machine;
// here the figures are logged, since tests share the machine with builds.
func TestSmallRoom(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real scenarios for seconds")
	}
	c := Config{
		Viewers: 20, Stalled: 2, Duration: 4 * time.Second, Interval: 50 * time.Millisecond,
		Scenario: "deadlock-cross-wait", Variant: "broken", RunEvery: time.Second,
		MaxP99: time.Second, MaxDrop: 6 * time.Second,
	}
	res, err := Measure(context.Background(), c, web.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = Report(&out, c, res)
	t.Logf("\n%s", out.String())
	if err != nil {
		t.Error(err)
	}
	if res.Runs < 2 || res.Updates == 0 {
		t.Errorf("%d runs and %d updates: the viewers did not follow live runs", res.Runs, res.Updates)
	}
	if res.Actions < 20 {
		t.Errorf("only %d presenter actions in %v", res.Actions, c.Duration)
	}
}
