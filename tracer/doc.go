// Package tracer runs a scenario variant under the Go execution tracer in a
// child process, turns the trace into a goroutine timeline as it arrives,
// and diagnoses what went wrong.
//
// The pieces, in the order a run uses them:
//
//   - run.go starts the child (this same binary, re-executed), reads its
//     trace from a dedicated pipe and kills its whole process group on
//     timeout or cancel;
//   - child.go is the harness inside the child: it labels the scenario's
//     goroutines, watches for a deadlock and for leaks, and reports to the
//     parent;
//   - builder.go turns x/exp/trace events into the Timeline model of
//     model.go, incrementally, one generation at a time;
//   - dump.go and race.go parse the child's stderr: goroutine dumps of a
//     panic or fatal error, and race detector reports;
//   - diagnose.go combines all of it into a Report.
//
// The package knows nothing of HTTP or colours.
package tracer
