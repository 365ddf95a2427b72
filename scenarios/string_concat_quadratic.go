package scenarios

import (
	"context"
	"fmt"
	"runtime"
	"strings"
)

var stringConcatQuadratic = Scenario{
	ID:       "string-concat-quadratic",
	Title:    "A report built with +=",
	Category: "Performance",
	Statement: "BuildReport adds one line per user to a string with report += .... " +
		"It is fast for ten users. What happens to its cost when the number of users doubles?",
	Failure: "Strings are immutable, so each += allocates a new string and copies everything " +
		"written so far into it. Line k copies k lines: n users cost about n*n/2 line copies. " +
		"Doubling the users makes the work about four times larger, not twice. The scenario " +
		"builds the report for 2000 and for 4000 users and compares the bytes allocated; the " +
		"CPU profile of the run shows the time going to copying (runtime.concatstrings and " +
		"memmove).",
	Fix: "strings.Builder appends into a buffer that grows by doubling, so every byte is " +
		"copied a constant number of times on average: twice the users, twice the work. " +
		"fmt.Fprintf writes straight into the builder.",
	File:    "string_concat_quadratic.go",
	Profile: "cpu",
	Variants: []Variant{
		{Name: "broken", Expect: Wrong, Run: concatBroken},
		{Name: "fixed", Expect: OK, Run: concatFixed},
	},
}

// User is one line of the report.
type User struct{ Name, Email string }

func makeUsers(n int) []User {
	users := make([]User, n)
	for i := range users {
		users[i] = User{Name: fmt.Sprintf("user%04d", i), Email: fmt.Sprintf("user%04d@example.com", i)}
	}
	return users
}

func buildReportConcat(users []User) string {
	report := ""
	for _, u := range users {
		report += fmt.Sprintf("User: %s, Email: %s\n", u.Name, u.Email) // BUG: copies the whole report every time
	}
	return report
}

func buildReportBuilder(users []User) string {
	var b strings.Builder // FIX: one growing buffer
	for _, u := range users {
		fmt.Fprintf(&b, "User: %s, Email: %s\n", u.Name, u.Email) // FIX
	}
	return b.String()
}

func concatBroken(ctx context.Context) error { return checkGrowth(ctx, buildReportConcat) }

func concatFixed(ctx context.Context) error { return checkGrowth(ctx, buildReportBuilder) }

// checkGrowth is the scenario's check: it measures the bytes a build
// allocates for n and for 2n users. Linear work allocates about twice as
// much for twice the users; quadratic work about four times as much.
// Bytes, unlike seconds, do not depend on how busy the machine is.
func checkGrowth(ctx context.Context, build func([]User) string) error {
	small, large := allocated(build, makeUsers(2000)), allocated(build, makeUsers(4000))
	ratio := float64(large) / float64(small)
	show(ctx, "growth", "2000 users: %d KB allocated, 4000 users: %d KB (%.1fx)", small>>10, large>>10, ratio)
	if ratio > 3 {
		return fmt.Errorf("twice the users allocated %.1fx the bytes: the cost grows with the square of the users", ratio)
	}
	return nil
}

// allocated returns the bytes allocated while building one report.
func allocated(build func([]User) string, users []User) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	build(users)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
