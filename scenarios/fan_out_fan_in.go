package scenarios

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
)

var fanOutFanIn = Scenario{
	ID:       "fan-out-fan-in",
	Title:    "Returning on the first error of a fan-out",
	Category: "Leaks",
	Statement: "Five fetchers run at once and send their results on one channel; the caller " +
		"collects them and returns as soon as one fetch fails. One URL fails at once; the " +
		"others take 10 ms. What happens to the other four fetchers?",
	Failure: "The channel is unbuffered, so each send waits for a receive. The caller stops " +
		"receiving after the first error, and the four slower fetchers then wait on their " +
		"sends for ever: four leaked goroutines per call. The module's version does not leak, " +
		"because its channel has room for every result, but it waits for all of them before " +
		"returning; returning early is the change that makes the buffer matter.",
	Fix: "Give the channel a buffer of len(urls), as the module does: every fetcher can send " +
		"and exit whether or not anyone still reads. Or use golang.org/x/sync/errgroup: each " +
		"fetcher stores its own slot, the group's context is cancelled on the first error so " +
		"the slow fetchers give up early, and Wait returns that error after every fetcher " +
		"has returned.",
	File: "fan_out_fan_in.go",
	Variants: []Variant{
		{Name: "broken", Expect: Leak, Run: fanOutBroken},
		{Name: "fixed-buffer", Expect: OK, Run: fanOutFixed},
		{Name: "fixed-errgroup", Expect: OK, Run: fanOutErrgroup},
	},
	DefaultFixed: "fixed-buffer",
}

var errFetch = errors.New("connection refused")

// fetch stands for an HTTP GET: the bad URL fails at once, the others are slow.
func fetch(ctx context.Context, url string) (string, error) {
	if url == "bad" {
		return "", errFetch
	}
	select {
	case <-time.After(10 * time.Millisecond):
		return "<html>" + url + "</html>", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// fetched is one fetcher's result.
type fetched struct {
	index int
	body  string
	err   error
}

// fetchAll fans out one fetch per URL, sends results on a channel of the given
// capacity, and returns on the first error.
func fetchAll(ctx context.Context, urls []string, ch chan fetched) ([]string, error) {
	for i, u := range urls {
		go func() {
			body, err := fetch(ctx, u)
			ch <- fetched{i, body, err} // BUG: with no buffer, blocks for ever once the caller returned
		}()
	}
	bodies := make([]string, len(urls))
	for range urls {
		f := <-ch
		if f.err != nil {
			return nil, fmt.Errorf("url %d: %w", f.index, f.err)
		}
		bodies[f.index] = f.body
	}
	return bodies, nil
}

var fanOutURLs = []string{"a.example", "b.example", "bad", "c.example", "d.example"}

func fanOutBroken(ctx context.Context) error {
	ch := make(chan fetched) // BUG: no room: every send waits for the caller
	_, err := fetchAll(ctx, fanOutURLs, ch)
	fmt.Println("fetch failed:", err)
	return nil
}

func fanOutFixed(ctx context.Context) error {
	ch := make(chan fetched, len(fanOutURLs)) // FIX: room for every result
	_, err := fetchAll(ctx, fanOutURLs, ch)
	fmt.Println("fetch failed:", err)
	if !errors.Is(err, errFetch) {
		return fmt.Errorf("fetchAll returned %v, want %v", err, errFetch)
	}
	return nil
}

// fetchAllGroup fetches every URL in an errgroup, which cancels the others on
// the first error and waits for all of them.
func fetchAllGroup(ctx context.Context, urls []string) ([]string, error) {
	g, ctx := errgroup.WithContext(ctx) // FIX: cancel on the first error, wait for all
	bodies := make([]string, len(urls))
	for i, u := range urls {
		g.Go(func() error {
			body, err := fetch(ctx, u)
			bodies[i] = body // each fetcher writes its own slot
			return err
		})
	}
	if err := g.Wait(); err != nil { // FIX: returns once every fetcher has
		return nil, err
	}
	return bodies, nil
}

func fanOutErrgroup(ctx context.Context) error {
	_, err := fetchAllGroup(ctx, fanOutURLs)
	fmt.Println("fetch failed:", err)
	if !errors.Is(err, errFetch) {
		return fmt.Errorf("fetchAllGroup returned %v, want %v", err, errFetch)
	}
	return nil
}
