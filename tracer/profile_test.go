package tracer

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// TestWallProfileSeesBlockedTime records fgprof's wall-clock profile of a
// real run: the worker spends its time sleeping in slowWork, which only a
// wall-clock profile sees.
func TestWallProfileSeesBlockedTime(t *testing.T) {
	res, err := Run(context.Background(), RunOptions{Scenario: "leak-unread-result", Variant: "fixed", Profile: ProfileWall})
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(bytes.NewReader(res.Profile))
	if err != nil {
		t.Fatalf("wall profile does not parse: %v", err)
	}
	if !profileHas(p, "scenarios.slowWork") {
		t.Errorf("wall profile never sees scenarios.slowWork")
	}
	if profileHas(p, "tracer.(*watchdog).poll") {
		t.Errorf("the harness's watchdog is in the scenario's profile")
	}
}

func TestCPUProfileParses(t *testing.T) {
	res, err := Run(context.Background(), RunOptions{Scenario: "race-counter", Variant: "fixed-atomic", Profile: ProfileCPU})
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(bytes.NewReader(res.Profile))
	if err != nil {
		t.Fatalf("cpu profile does not parse: %v", err)
	}
	if len(p.SampleType) == 0 || p.SampleType[len(p.SampleType)-1].Type != "cpu" {
		t.Errorf("sample types %v, want cpu", p.SampleType)
	}
}

func TestUnknownProfileKind(t *testing.T) {
	if _, err := Run(context.Background(), RunOptions{Scenario: "deadlock-main-recv", Profile: "heap"}); err == nil {
		t.Fatal("an unknown profile kind was accepted")
	}
}

func profileHas(p *profile.Profile, fn string) bool {
	for _, s := range p.Sample {
		for _, l := range s.Location {
			for _, line := range l.Line {
				if line.Function != nil && strings.HasSuffix(line.Function.Name, fn) {
					return true
				}
			}
		}
	}
	return false
}
