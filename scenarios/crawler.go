package scenarios

import (
	"context"
	"fmt"
	"sync"
	"time"
)

var crawler = Scenario{
	ID:       "crawler",
	Title:    "A crawler that never finishes",
	Category: "Deadlocks",
	Statement: "The module's concurrent crawler: three workers take URLs from a jobs queue, " +
		"skip visited ones, fetch each page, report it and queue its links, dropping a link " +
		"when the queue is full. The caller ranges over the reports. Does the crawl end?",
	Failure: "No. A worker stops only when jobs is closed, and nobody closes it, because no " +
		"single goroutine knows when the crawl is over: an idle queue may still be refilled by " +
		"a worker that is busy. So when the last page is done, every worker waits on the empty " +
		"queue, the goroutine that would close results waits for the workers, and the caller " +
		"waits on results: nothing can move. The module's answer also drops links when the " +
		"queue is full (select with default), so even a crawl that ended would miss pages, " +
		"silently and by chance; here the drops are printed.",
	Fix: "Count outstanding work: a WaitGroup goes up before a URL is queued and down when it " +
		"has been processed, and one goroutine closes jobs when the count reaches zero, which " +
		"ends the workers and then the results. Never drop: each queued URL is handed over by " +
		"its own short-lived goroutine, so a busy worker never waits on a full queue.",
	File: "crawler.go",
	Variants: []Variant{
		{Name: "broken", Expect: Deadlock, Run: crawlerBroken},
		{Name: "fixed", Expect: OK, Run: crawlerFixed},
	},
}

// site is the web being crawled: each page and its links.
var site = map[string][]string{
	"/":    {"/a", "/b", "/c", "/d"},
	"/a":   {"/a/1", "/a/2", "/a/3", "/"},
	"/b":   {"/b/1", "/b/2", "/"},
	"/c":   {"/c/1", "/"},
	"/d":   {"/d/1", "/d/2"},
	"/a/1": {"/b/1"}, "/a/2": nil, "/a/3": nil,
	"/b/1": {"/d/2"}, "/b/2": nil, "/c/1": nil,
	"/d/1": nil, "/d/2": {"/"},
}

// fetchPage stands for an HTTP GET and an HTML parse.
func fetchPage(url string) []string {
	time.Sleep(2 * time.Millisecond)
	return site[url]
}

// crawlerBroken is the module's crawler: nobody closes jobs.
func crawlerBroken(ctx context.Context) error {
	jobs := make(chan string, 2)
	results := make(chan string, 100)
	var visited sync.Map
	go func() { jobs <- "/" }()

	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select { // BUG: jobs is never closed, so after the last page this waits for ever
				case url, ok := <-jobs:
					if !ok {
						return
					}
					if _, seen := visited.LoadOrStore(url, true); seen {
						continue
					}
					links := fetchPage(url)
					results <- url
					for _, link := range links {
						select {
						case jobs <- link:
						default: // BUG: queue full: the link is lost
							fmt.Println("queue full, dropped", link)
						}
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait() // waits for workers that never return
		close(results)
	}()

	return countPages(results)
}

// countPages is the scenario's check that every page was crawled.
func countPages(results <-chan string) error {
	n := 0
	for range results { // BUG: ends only when results is closed
		n++
	}
	fmt.Println("pages crawled:", n)
	if n != len(site) {
		return fmt.Errorf("crawled %d pages, want %d", n, len(site))
	}
	return nil
}

// crawlerFixed counts pending URLs and closes jobs when none are left.
func crawlerFixed(ctx context.Context) error {
	jobs := make(chan string)
	results := make(chan string, 100)
	var visited sync.Map
	var pending sync.WaitGroup // URLs queued or being processed
	enqueue := func(url string) {
		pending.Add(1)              // FIX: count the URL before it is queued
		go func() { jobs <- url }() // FIX: never drop, never block a worker
	}
	enqueue("/")
	go func() {
		pending.Wait() // FIX: no URL left anywhere ...
		close(jobs)    // FIX: ... so the workers can stop
	}()

	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for url := range jobs {
				if _, seen := visited.LoadOrStore(url, true); !seen {
					links := fetchPage(url)
					results <- url
					for _, link := range links {
						enqueue(link)
					}
				}
				pending.Done()
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	return countPages(results)
}
