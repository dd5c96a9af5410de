package client

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// watch is what a document (Doc, TreeDoc) shares with the goroutines that
// wait on it, and its back-off for ops a rate limit dropped. Every field is
// guarded by the document's mutex; the methods ending in Locked run with it
// held.
type watch struct {
	// notify is closed and replaced after a change, when watched: someone
	// holds it (a Wait call), so the next change must close it; otherwise
	// changes (every remote op) skip that.
	notify  chan struct{}
	watched bool
	retry   *time.Timer
	delay   time.Duration
}

func newWatch() watch { return watch{notify: make(chan struct{})} }

// wakeLocked wakes the waiters after a change. idle (nothing in flight)
// ends a rate limit's back-off, so that the next one starts short again.
func (w *watch) wakeLocked(idle bool) {
	if w.watched {
		close(w.notify)
		w.notify = make(chan struct{})
		w.watched = false
	}
	if idle {
		w.delay = 0
	}
}

// retryLocked calls resend after a delay that grows from 50 ms, doubling
// while under 2 s (so at most 3.2 s), while the server keeps answering
// rate_limited.
func (w *watch) retryLocked(resend func()) {
	if w.delay == 0 {
		w.delay = 50 * time.Millisecond
	} else if w.delay < 2*time.Second {
		w.delay *= 2
	}
	w.stopLocked()
	w.retry = time.AfterFunc(w.delay, resend)
}

// stopLocked cancels a pending resend.
func (w *watch) stopLocked() {
	if w.retry != nil {
		w.retry.Stop()
	}
}

// wait blocks until check, called with mu held after every change, reports
// done or an error (the document detached), or ctx ends.
func (w *watch) wait(ctx context.Context, mu *sync.Mutex, doc, what string, check func() (bool, error)) error {
	for {
		mu.Lock()
		done, err := check()
		if err != nil || done {
			mu.Unlock()
			return err
		}
		ch := w.notify
		w.watched = true
		mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("client: wait for %q to %s: %w", doc, what, ctx.Err())
		}
	}
}

// deliver calls fn, when the user set it, with each of xs in order (a
// document's callbacks, after its lock is released).
func deliver[T any](fn func(T), xs []T) {
	if fn == nil {
		return
	}
	for _, x := range xs {
		fn(x)
	}
}
