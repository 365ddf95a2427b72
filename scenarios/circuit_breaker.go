package scenarios

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

var circuitBreaker = Scenario{
	ID:       "circuit-breaker",
	Title:    "A half-open breaker that lets everyone through",
	Category: "Wrong results",
	Statement: "A circuit breaker opens after three failures and, after a cool-down, goes " +
		"half-open to test whether the backend has recovered. Ten requests arrive together " +
		"just after the cool-down. How many reach the recovering backend?",
	Failure: "All ten. This is the module's breaker: the first caller after the cool-down " +
		"switches to half-open and calls the backend, and every other caller, finding the " +
		"state half-open rather than open, calls it too. Half-open is meant to send one " +
		"trial request; instead a backend that is just getting back on its feet gets the " +
		"whole stampede, which can knock it straight over again. The scenario counts the " +
		"calls admitted in half-open.",
	Fix: "Admit one probe at a time: half-open lets a call through only when no probe is in " +
		"flight, and turns the others away as if open. The probe's result then closes the " +
		"circuit or opens it again.",
	File: "circuit_breaker.go",
	Variants: []Variant{
		{Name: "broken", Expect: Wrong, Run: breakerBroken},
		{Name: "fixed", Expect: OK, Run: breakerFixed},
	},
}

// breakerState is closed (normal), open (failing fast) or half-open (testing).
type breakerState int

const (
	breakerClosed breakerState = iota
	breakerOpen
	breakerHalfOpen
)

var errCircuitOpen = errors.New("circuit open")

// breaker is a small version of the module's circuit breaker.
type breaker struct {
	mu       sync.Mutex
	state    breakerState
	failures int
	openedAt time.Time
	probing  bool // a half-open probe is in flight (fixed version)
	probes   int  // calls admitted while half-open
}

const (
	breakerThreshold = 3
	breakerCooldown  = 20 * time.Millisecond
)

// callBroken is the module's Execute.
func (b *breaker) callBroken(fn func() error) error {
	b.mu.Lock()
	if b.state == breakerOpen {
		if time.Since(b.openedAt) < breakerCooldown {
			b.mu.Unlock()
			return errCircuitOpen
		}
		b.state = breakerHalfOpen
	}
	if b.state == breakerHalfOpen {
		b.probes++ // BUG: every caller that finds it half-open goes through
	}
	b.mu.Unlock()
	return b.record(fn())
}

// callFixed admits a single probe while half-open.
func (b *breaker) callFixed(fn func() error) error {
	b.mu.Lock()
	if b.state == breakerOpen && time.Since(b.openedAt) >= breakerCooldown {
		b.state = breakerHalfOpen
	}
	if b.state == breakerOpen || (b.state == breakerHalfOpen && b.probing) { // FIX: one probe at a time
		b.mu.Unlock()
		return errCircuitOpen
	}
	if b.state == breakerHalfOpen {
		b.probing = true // FIX: this call is the probe
		b.probes++
	}
	b.mu.Unlock()
	return b.record(fn())
}

// record updates the state with the result of a call.
func (b *breaker) record(err error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if err != nil {
		b.failures++
		if b.failures >= breakerThreshold || b.state == breakerHalfOpen {
			b.state, b.openedAt = breakerOpen, time.Now()
		}
		return err
	}
	b.state, b.failures = breakerClosed, 0
	return nil
}

// runBreaker trips the breaker, waits out the cool-down and sends ten
// requests at once to a backend that has recovered but is slow.
func runBreaker(ctx context.Context, call func(*breaker, func() error) error) error {
	b := &breaker{}
	down := func() error { return errors.New("backend down") }
	for range breakerThreshold {
		_ = call(b, down)
	}
	time.Sleep(breakerCooldown + 5*time.Millisecond)

	recovering := func() error {
		time.Sleep(20 * time.Millisecond)
		return nil
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_ = call(b, recovering)
		}()
	}
	close(start)
	wg.Wait()

	show(ctx, "breaker", "calls admitted while half-open: %d", b.probes)
	if b.probes != 1 {
		return fmt.Errorf("%d calls reached the recovering backend in half-open, want 1 probe", b.probes)
	}
	return nil
}

func breakerBroken(ctx context.Context) error {
	return runBreaker(ctx, (*breaker).callBroken)
}

func breakerFixed(ctx context.Context) error {
	return runBreaker(ctx, (*breaker).callFixed)
}
