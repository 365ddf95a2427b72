package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/concviz/concviz/scenarios"
)

// listEntry is one scenario as `viz list --json` prints it.
type listEntry struct {
	ID           string        `json:"id"`
	Title        string        `json:"title"`
	Category     string        `json:"category"`
	Statement    string        `json:"statement"`
	Race         bool          `json:"race,omitempty"`
	Variants     []listVariant `json:"variants"`
	DefaultFixed string        `json:"default_fixed,omitempty"`
}

type listVariant struct {
	Name   string            `json:"name"`
	Expect scenarios.Outcome `json:"expect"`
}

func cmdList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("list", "list [--json]", stderr)
	asJSON := fs.Bool("json", false, "print the catalog as JSON")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("list takes no arguments, got %q", rest[0])
	}
	var entries []listEntry
	for _, s := range scenarios.Catalog() {
		e := listEntry{ID: s.ID, Title: s.Title, Category: s.Category, Statement: s.Statement, Race: s.Race, DefaultFixed: s.DefaultFixed}
		for _, v := range s.Variants {
			e.Variants = append(e.Variants, listVariant{Name: v.Name, Expect: v.Expect})
		}
		entries = append(entries, e)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(entries)
	}
	// Categories in the order they first appear, as the browser's picker
	// shows them, each with all of its scenarios.
	var categories []string
	byCategory := map[string][]listEntry{}
	for _, e := range entries {
		if byCategory[e.Category] == nil {
			categories = append(categories, e.Category)
		}
		byCategory[e.Category] = append(byCategory[e.Category], e)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for i, c := range categories {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "%s\n", c)
		for _, e := range byCategory[c] {
			var vs []string
			for _, v := range e.Variants {
				vs = append(vs, v.Name)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", e.ID, e.Title, strings.Join(vs, ", "))
		}
	}
	tw.Flush()
	fmt.Fprintln(stdout, "\nRun one with: viz run ID [--variant broken|fixed|fixed-...]")
	return nil
}
