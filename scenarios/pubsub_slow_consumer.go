package scenarios

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

var pubsubSlowConsumer = Scenario{
	ID:       "pubsub-slow-consumer",
	Title:    "One slow subscriber stalls the broker",
	Category: "Wrong results",
	Statement: "A broker delivers each message to every subscriber on that subscriber's " +
		"unbuffered channel. One subscriber takes 20 ms per message, the other is fast. " +
		"The publisher sends a message every 2 ms. How long does publishing ten take?",
	Failure: "An unbuffered send waits for the receiver, so every publish waits until the slow " +
		"subscriber takes the message, and the fast subscriber, the publisher and everything " +
		"behind them move at the slow one's pace: ten messages take about 200 ms instead of " +
		"20. The scenario's check fails when publishing could end only after the " +
		"slow subscriber had taken the messages.",
	Fix: "Decouple the subscribers: each gets a buffered channel, and the broker sends with " +
		"select and default, so a full buffer means a dropped message (counted and shown) " +
		"instead of a stalled broker. Whether to drop, buffer more or disconnect a slow " +
		"subscriber is a policy; blocking everyone is never the right one.",
	File: "pubsub_slow_consumer.go",
	Variants: []Variant{
		{Name: "broken", Expect: Wrong, Run: pubsubBroken},
		{Name: "fixed", Expect: OK, Run: pubsubFixed},
	},
}

// broker fans each message out to its subscribers.
type broker struct {
	mu      sync.RWMutex
	subs    []chan int
	dropped int
}

func (b *broker) subscribe(buffer int) <-chan int {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := make(chan int, buffer)
	b.subs = append(b.subs, ch)
	return ch
}

// publishBlocking waits for every subscriber to take the message.
func (b *broker) publishBlocking(msg int) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, ch := range b.subs {
		ch <- msg // BUG: waits for the slowest subscriber
	}
}

// publishDropping never waits: a subscriber whose buffer is full misses it.
func (b *broker) publishDropping(msg int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.subs {
		select {
		case ch <- msg:
		default: // FIX: full buffer: drop and count, do not wait
			b.dropped++
		}
	}
}

func (b *broker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.subs {
		close(ch)
	}
}

// runPubSub publishes ten messages to a fast and a slow subscriber. Its
// check counts instead of timing, so that a busy machine cannot fail it:
// a publisher that waited for the slow subscriber finishes only after that
// subscriber has taken (nearly) every message, one that did not finishes
// long before.
func runPubSub(ctx context.Context, buffer int, publish func(*broker, int)) error {
	b := &broker{}
	var slowTaken atomic.Int32
	var wg sync.WaitGroup
	for _, name := range []string{"fast", "slow"} {
		ch := b.subscribe(buffer)
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := 0
			for range ch {
				got++
				if name == "slow" {
					slowTaken.Add(1)
					time.Sleep(20 * time.Millisecond)
				}
			}
			show(ctx, name, "received %d messages", got)
		}()
	}

	start := time.Now()
	for msg := range 10 {
		publish(b, msg)
		time.Sleep(2 * time.Millisecond) // a message every 2 ms
	}
	took, taken := time.Since(start), slowTaken.Load()
	b.close()
	wg.Wait()
	show(ctx, "broker", "published 10 in %v, dropped %d", took.Round(time.Millisecond), b.dropped)
	if taken > 5 {
		return fmt.Errorf("publishing took %v: it ended only after the slow subscriber had taken %d of 10 messages", took.Round(time.Millisecond), taken)
	}
	return nil
}

func pubsubBroken(ctx context.Context) error {
	return runPubSub(ctx, 0, (*broker).publishBlocking)
}

func pubsubFixed(ctx context.Context) error {
	return runPubSub(ctx, 4, (*broker).publishDropping) // FIX: a buffer per subscriber
}
