package client

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestWatchBackoff: a rate limit's resend waits 50 ms, doubling to 2 s while
// refusals go on, and starts short again once nothing is in flight.
func TestWatchBackoff(t *testing.T) {
	w := newWatch()
	var got []time.Duration
	for range 8 {
		w.retryLocked(func() {})
		got = append(got, w.delay)
	}
	w.stopLocked()
	want := []time.Duration{50, 100, 200, 400, 800, 1600, 3200, 3200}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("delays %v, want %v ms", got, want)
		}
	}
	w.wakeLocked(false) // an op still in flight: the back-off goes on
	if w.delay == 0 {
		t.Fatal("the back-off ended while an op was in flight")
	}
	w.wakeLocked(true)
	w.retryLocked(func() {})
	w.stopLocked()
	if w.delay != 50*time.Millisecond {
		t.Fatalf("after an idle moment the first delay is %v, want 50ms", w.delay)
	}
}

// TestWatchWait: a waiter wakes on the change that makes its condition
// true, returns the document's error, or ctx's.
func TestWatchWait(t *testing.T) {
	var mu sync.Mutex
	w := newWatch()
	done := false
	errc := make(chan error, 1)
	go func() {
		errc <- w.wait(context.Background(), &mu, "d", "sync", func() (bool, error) { return done, nil })
	}()
	for {
		mu.Lock()
		watched := w.watched
		if watched {
			done = true
			w.wakeLocked(true)
		}
		mu.Unlock()
		if watched {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := <-errc; err != nil {
		t.Fatalf("wait: %v", err)
	}
	gone := errors.New("detached")
	if err := w.wait(context.Background(), &mu, "d", "sync", func() (bool, error) { return true, gone }); err != gone {
		t.Fatalf("wait on a detached document: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.wait(ctx, &mu, "d", "reach v3", func() (bool, error) { return false, nil }); !errors.Is(err, context.Canceled) || err.Error() != `client: wait for "d" to reach v3: context canceled` {
		t.Fatalf("wait with ctx done: %v", err)
	}
}
