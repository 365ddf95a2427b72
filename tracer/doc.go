// Package tracer runs Go code under the execution tracer in a child
// process, turns the trace into a goroutine timeline as it arrives, and
// diagnoses what went wrong. It knows nothing of HTTP or colours.
//
// Running a scenario, in the order a run uses the files:
//
//   - run.go starts the child (this same binary, re-executed), reads its
//     trace, report and profile from dedicated pipes, caps its memory,
//     output and trace, and kills its whole process group on timeout or
//     cancel; racebuild.go builds the -race child of race scenarios;
//   - child.go is the harness inside the child: it labels the scenario's
//     goroutines, watches for a deadlock (progress.go asks the flight
//     recorder whether "stuck" goroutines really are) and for leaks, and
//     reports to the parent;
//   - builder.go turns x/exp/trace events into the Timeline of model.go,
//     incrementally, one generation at a time; runtime.go adds the GC,
//     pause and heap lanes;
//   - dump.go and race.go parse the child's stderr: goroutine dumps of a
//     panic or fatal error (crashmerge.go folds them into the timeline),
//     and race detector reports;
//   - diagnose.go combines all of it into a Report; chanops.go reads the
//     source to say which goroutine could end another's wait.
//
// Other inputs: open.go and open_ctx.go read a finished trace a user
// brings; recording.go saves and loads a run as one file; profile.go and
// window.go make pprof profiles of a run or of a window of its trace; the
// gotest*.go files run a user's tests or program under the tracer (viz test,
// viz trace) with a watchdog injected through go build -overlay.
package tracer
