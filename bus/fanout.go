package bus

import "sync"

// fanout is the part of a Bus engine that both engines share: the registry
// of subscriptions by topic, and the calls to them. An engine embeds it,
// registers and cancels subscriptions through it, and hands it every message
// that arrives (deliver) and every possible loss (tellLost).
//
// T is the engine's own state per topic (RedisBus: whether Redis confirmed
// the channel); it lives and dies with the topic's first and last
// subscription.
//
// Locks: mu guards topics, and the engine uses it for its own state too;
// deliverMu is held while a subscriber is called. Order: deliverMu, then mu.
// No subscriber is called with mu held, so a subscriber may publish or
// subscribe (but not cancel: cancel waits for deliverMu).
type fanout[T any] struct {
	mu     sync.Mutex
	topics map[string]*topic[T] // guarded by mu; keyed by the engine's name of the topic
	closed bool                 // guarded by mu: the engine was closed (Publish and Subscribe fail)

	deliverMu sync.Mutex
}

// topic is the subscriptions of one topic and the engine's state of it.
type topic[T any] struct {
	subs  map[*subscription]struct{}
	state T
}

// subscription is one Subscribe call: it is live while it is in its topic's
// set, and is called only then.
type subscription struct {
	topic string
	sub   Subscriber
}

func (f *fanout[T]) init() { f.topics = make(map[string]*topic[T]) }

// addLocked registers sub for name and returns its subscription and topic;
// first reports that the topic had no subscription before. mu must be held.
func (f *fanout[T]) addLocked(name string, sub Subscriber) (s *subscription, t *topic[T], first bool) {
	t = f.topics[name]
	if first = t == nil; first {
		t = &topic[T]{subs: make(map[*subscription]struct{})}
		f.topics[name] = t
	}
	s = &subscription{topic: name, sub: sub}
	t.subs[s] = struct{}{}
	return s, t, first
}

// subsLocked lists the subscriptions of name (nil when none). mu must be held.
func (f *fanout[T]) subsLocked(name string) []*subscription {
	t := f.topics[name]
	if t == nil {
		return nil
	}
	out := make([]*subscription, 0, len(t.subs))
	for s := range t.subs {
		out = append(out, s)
	}
	return out
}

// allSubsLocked lists every subscription of every topic. mu must be held.
func (f *fanout[T]) allSubsLocked() []*subscription {
	var out []*subscription
	for _, t := range f.topics {
		for s := range t.subs {
			out = append(out, s)
		}
	}
	return out
}

// canceller returns the cancel of s: idempotent; it unregisters s, runs
// emptied (when not nil) if that left the topic without subscriptions, and
// returns once no call to s is in progress. It must not be called from a
// subscriber method (it would wait for itself).
func (f *fanout[T]) canceller(s *subscription, emptied func(name string)) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			last := false
			if t := f.topics[s.topic]; t != nil {
				delete(t.subs, s)
				if last = len(t.subs) == 0; last {
					delete(f.topics, s.topic)
				}
			}
			f.mu.Unlock()
			if last && emptied != nil {
				emptied(s.topic)
			}
			f.deliverMu.Lock()
			//lint:ignore SA2001 the empty section waits for a call in progress.
			f.deliverMu.Unlock()
		})
	}
}

// deliver hands payload from node from to each of targets still subscribed,
// one call at a time; every subscription after the first gets its own copy,
// since a subscriber keeps its payload.
func (f *fanout[T]) deliver(targets []*subscription, from string, payload []byte) {
	for i, s := range targets {
		p := payload
		if i > 0 {
			p = append([]byte(nil), payload...)
		}
		f.call(s, func() { s.sub.BusMessage(from, p) })
	}
}

// tellLost tells each of targets still subscribed that messages may have
// been lost.
func (f *fanout[T]) tellLost(targets []*subscription) {
	for _, s := range targets {
		f.call(s, s.sub.BusLost)
	}
}

// isClosed reports whether the engine was closed.
func (f *fanout[T]) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// markClosed marks the engine closed and runs underMu (the engine's own
// clean-up of the state mu guards) with mu held; it reports false, and runs
// nothing, when the engine was closed already.
func (f *fanout[T]) markClosed(underMu func()) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.closed = true
	underMu()
	return true
}

// call runs fn unless s was cancelled meanwhile, holding deliverMu so that
// cancel can wait for it.
func (f *fanout[T]) call(s *subscription, fn func()) {
	f.deliverMu.Lock()
	defer f.deliverMu.Unlock()
	f.mu.Lock()
	live := false
	if t := f.topics[s.topic]; t != nil {
		_, live = t.subs[s]
	}
	f.mu.Unlock()
	if live {
		fn()
	}
}
