package scenarios

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

var loadBalancer = Scenario{
	ID:       "load-balancer",
	Title:    "Round-robin with a racy counter and a dead backend",
	Category: "Races",
	Statement: "A load balancer spreads requests over three backends with a counter, " +
		"next++, and an httputil.ReverseProxy per backend. Backend b is down. Three clients " +
		"send three requests each at once. What goes wrong?",
	Failure: "Two things. next++ runs in every request's goroutine with no synchronisation: a " +
		"data race, reported by the race detector in every run (the clients start together, " +
		"and nothing orders their first increments), and under load two requests can read the " +
		"same value and go to the same backend. And the balancer never asks whether a backend " +
		"is alive, so every third request goes to the dead one and fails with 502 Bad Gateway.",
	Fix: "Use an atomic counter (atomic.Uint64.Add), as the module suggests, and run a health " +
		"checker: it probes every backend once before traffic starts and then every 20 ms in a " +
		"goroutine of its own, which stops with the balancer; the picker skips backends marked " +
		"unhealthy.",
	File: "load_balancer.go",
	Race: true,
	Variants: []Variant{
		{Name: "broken", Expect: Race, Run: balancerBroken},
		{Name: "fixed", Expect: OK, Run: balancerFixed},
	},
}

// lbBackend is one backend with its proxy and health.
type lbBackend struct {
	url     string
	proxy   *httputil.ReverseProxy
	healthy atomic.Bool
}

func newLBBackend(raw string) *lbBackend {
	u, _ := url.Parse(raw)
	b := &lbBackend{url: raw, proxy: httputil.NewSingleHostReverseProxy(u)}
	b.proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		w.WriteHeader(http.StatusBadGateway)
	}
	return b
}

// check marks the backend healthy if it answers its health URL.
func (b *lbBackend) check() {
	resp, err := http.Get(b.url + "/health")
	if err == nil {
		resp.Body.Close()
	}
	b.healthy.Store(err == nil && resp.StatusCode == http.StatusOK)
}

// racyBalancer is the first version: a plain counter, no health checks.
type racyBalancer struct {
	backends []*lbBackend
	next     uint64
}

func (lb *racyBalancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lb.next++                                          // BUG: unsynchronised increment in every request
	b := lb.backends[lb.next%uint64(len(lb.backends))] // BUG: dead or alive
	b.proxy.ServeHTTP(w, r)
}

// healthyBalancer counts atomically and skips unhealthy backends.
type healthyBalancer struct {
	backends []*lbBackend
	next     atomic.Uint64 // FIX: atomic counter
}

func (lb *healthyBalancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for range lb.backends {
		b := lb.backends[lb.next.Add(1)%uint64(len(lb.backends))]
		if b.healthy.Load() { // FIX: only to backends that answered
			b.proxy.ServeHTTP(w, r)
			return
		}
	}
	w.WriteHeader(http.StatusServiceUnavailable)
}

// checkHealth probes every backend now and then every 20 ms until stopped.
func checkHealth(backends []*lbBackend) (stop func()) {
	for _, b := range backends {
		b.check()
	}
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		ticker := time.NewTicker(20 * time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				for _, b := range backends {
					b.check()
				}
			}
		}
	}()
	return func() { close(done); <-exited }
}

// withBackends starts backends a and c, and a b that is down, and runs
// three clients of three requests each through the balancer made by mk.
func withBackends(mk func([]*lbBackend) http.Handler) error {
	var backends []*lbBackend
	for _, name := range []string{"a", "b", "c"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, name)
		}))
		defer srv.Close()
		if name == "b" {
			srv.Close() // b is down: connections are refused
		}
		backends = append(backends, newLBBackend(srv.URL))
	}
	lb := mk(backends)

	var failed atomic.Int32
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range 3 {
				rec := httptest.NewRecorder()
				lb.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				if rec.Code != http.StatusOK {
					failed.Add(1)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	fmt.Println("failed requests:", failed.Load(), "of 9")
	if n := failed.Load(); n != 0 {
		return fmt.Errorf("%d of 9 requests failed: sent to a backend that is down", n)
	}
	return nil
}

func balancerBroken(ctx context.Context) error {
	return withBackends(func(b []*lbBackend) http.Handler { return &racyBalancer{backends: b} })
}

func balancerFixed(ctx context.Context) error {
	var stop func()
	defer func() { stop() }()
	return withBackends(func(b []*lbBackend) http.Handler {
		stop = checkHealth(b) // FIX: health checks, stopped when done
		return &healthyBalancer{backends: b}
	})
}
