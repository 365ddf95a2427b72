package tracer

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/google/pprof/profile"
)

// harnessOnly lists the harness functions whose samples say nothing about
// the scenario: the watchdog's dumps, the harness's main loop and the
// tracer's own reader and advancer goroutines. The
// closure that runs the scenario's root (runWatched.func1.1) is not one of
// them: everything the scenario does runs below it.
var harnessOnly = []string{
	harnessPkg + ".(*watchdog).",
	harnessPkg + ".runChild",
	harnessPkg + ".startProfile",
	"runtime.ReadTrace",
	"runtime/trace.",
	"runtime.(*traceAdvancerState).",
}

// scenarioProfile drops the harness's own samples from a profile the child
// wrote, so that pprof shows where the scenario's time went. A profile that
// does not parse is returned unchanged with an error for the warnings.
func scenarioProfile(raw []byte) ([]byte, error) {
	if len(raw) == 0 {
		return raw, nil
	}
	p, err := profile.Parse(bytes.NewReader(raw))
	if err != nil {
		return raw, fmt.Errorf("the profile does not parse: %w", err)
	}
	kept := p.Sample[:0]
	for _, s := range p.Sample {
		if !harnessSample(s) {
			kept = append(kept, s)
		}
	}
	p.Sample = kept
	var out bytes.Buffer
	if err := p.Write(&out); err != nil {
		return raw, fmt.Errorf("rewrite the profile: %w", err)
	}
	return out.Bytes(), nil
}

func harnessSample(s *profile.Sample) bool {
	for _, l := range s.Location {
		for _, line := range l.Line {
			if line.Function == nil {
				continue
			}
			if line.Function.Name == harnessPkg+".runWatched.func1.1" {
				return false
			}
			for _, h := range harnessOnly {
				if strings.HasPrefix(line.Function.Name, h) {
					return true
				}
			}
		}
	}
	return false
}
