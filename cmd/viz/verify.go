package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/concviz/concviz/scenarios"
	"github.com/concviz/concviz/tracer"
)

// verifyRow is one variant's tally, as `viz verify --json` prints it.
type verifyRow struct {
	Scenario string                    `json:"scenario"`
	Variant  string                    `json:"variant"`
	Expected scenarios.Outcome         `json:"expected"`
	Runs     int                       `json:"runs"`
	Matched  int                       `json:"matched"`
	Observed map[scenarios.Outcome]int `json:"observed"`
	// Errors counts runs that viz itself could not complete.
	Errors int `json:"errors,omitempty"`
	// Misses says why runs ended otherwise than expected, one line a run.
	Misses []string `json:"misses,omitempty"`
}

// missText says in one line why a run did not end as expected: its worst
// finding's summary, and the first line of a crash's output, so that a
// teacher who sees a miss in the table knows what happened without running
// it again.
func missText(run int, rep *tracer.Report) string {
	text := fmt.Sprintf("run %d: %s", run, rep.Outcome)
	for _, f := range rep.Findings {
		if f.Kind == rep.Outcome {
			text += ": " + f.Summary
			break
		}
	}
	if first, _, _ := strings.Cut(strings.TrimSpace(rep.Crash), "\n"); first != "" {
		text += " (" + first + ")"
	}
	for _, w := range rep.Warnings {
		text += "; warning: " + w
	}
	return text
}

func (r *verifyRow) ok() bool { return r.Matched == r.Runs }

func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", "verify [--count N] [--json] [ID ...]", stderr)
	count := fs.Int("count", 10, "runs of each variant")
	asJSON := fs.Bool("json", false, "print the tally as JSON")
	timeout := fs.Duration("timeout", tracer.DefaultTimeout, "kill a run after this long")
	ids, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *count < 1 {
		return usagef("--count must be at least 1")
	}
	var list []*scenarios.Scenario
	if len(ids) == 0 {
		list = scenarios.Catalog()
	}
	for _, id := range ids {
		s, err := scenarios.Lookup(id)
		if err != nil {
			return usagef("%v", err)
		}
		list = append(list, s)
	}

	var rows []*verifyRow
	start := time.Now()
	progress := isTerminal(stderr)
	for _, s := range list {
		for _, v := range s.Variants {
			row := &verifyRow{Scenario: s.ID, Variant: v.Name, Expected: v.Expect, Observed: map[scenarios.Outcome]int{}}
			for run := range *count {
				res, err := tracer.Run(ctx, tracer.RunOptions{Scenario: s.ID, Variant: v.Name, Timeout: *timeout, OnStatus: statusTo(stderr)})
				if ctx.Err() != nil {
					return fmt.Errorf("verify: interrupted: %w", ctx.Err())
				}
				row.Runs++
				if err != nil {
					row.Errors++
					fmt.Fprintf(stderr, "viz: verify %s %s: %v\n", s.ID, v.Name, err)
					continue
				}
				row.Observed[res.Report.Outcome]++
				if res.Report.Outcome == v.Expect {
					row.Matched++
				} else {
					miss := missText(run+1, res.Report)
					row.Misses = append(row.Misses, miss)
					fmt.Fprintf(stderr, "viz: verify %s %s %s\n", s.ID, v.Name, miss)
				}
			}
			rows = append(rows, row)
			if progress {
				fmt.Fprintf(stderr, "\r%-60s", fmt.Sprintf("verified %s %s", s.ID, v.Name))
			}
		}
	}
	if progress {
		fmt.Fprintf(stderr, "\r%-60s\r", "")
	}
	failed := 0
	for _, r := range rows {
		if !r.ok() {
			failed++
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return err
		}
	} else {
		printVerify(stdout, rows)
		fmt.Fprintf(stdout, "\n%d variants, %d runs each, %s: ", len(rows), *count, time.Since(start).Round(time.Second))
		if failed == 0 {
			fmt.Fprintln(stdout, "every variant produced its expected outcome in every run")
		} else {
			fmt.Fprintf(stdout, "%d variants missed their expected outcome\n", failed)
		}
	}
	if failed > 0 {
		return fmt.Errorf("verify: %d of %d variants missed their expected outcome", failed, len(rows))
	}
	return nil
}

func printVerify(w io.Writer, rows []*verifyRow) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tVARIANT\tEXPECTED\tOBSERVED\tRATE\t")
	for _, r := range rows {
		mark := "ok"
		if !r.ok() {
			mark = "MISS"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\n", r.Scenario, r.Variant, r.Expected, observed(r), r.Matched, r.Runs, mark)
	}
	tw.Flush()
}

// observed lists the outcomes seen, most frequent first: "deadlock 9, ok 1".
func observed(r *verifyRow) string {
	type kv struct {
		o scenarios.Outcome
		n int
	}
	var kvs []kv
	for o, n := range r.Observed {
		kvs = append(kvs, kv{o, n})
	}
	sort.Slice(kvs, func(i, j int) bool {
		if kvs[i].n != kvs[j].n {
			return kvs[i].n > kvs[j].n
		}
		return kvs[i].o < kvs[j].o
	})
	parts := make([]string, len(kvs))
	for i, x := range kvs {
		parts[i] = fmt.Sprintf("%s %d", x.o, x.n)
	}
	if r.Errors > 0 {
		parts = append(parts, fmt.Sprintf("error %d", r.Errors))
	}
	return strings.Join(parts, ", ")
}

// isTerminal reports whether w is a terminal, where a progress line that
// rewrites itself is welcome.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
