//go:build !race

package tracer

// raceEnabled says this binary is built with the race detector.
const raceEnabled = false
