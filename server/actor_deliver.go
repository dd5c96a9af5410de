package server

import (
	"slices"

	"github.com/tandem-collab/tandem/wire"
)

// How an actor hands events to its subscribers: one by one, or, while it
// holds (a committed batch, a catch-up, the ops of another node's message),
// collected per subscriber and handed over together, so that a whole batch
// is one coalesced WebSocket frame per receiver and one encoding for all of
// them (SharedBatch).

// deliver hands ev to sub and detaches a subscriber that cannot take it.
func (a *actor) deliver(sub Subscriber, ev *Event) {
	if sub == nil {
		return
	}
	if a.holding {
		evs, seen := a.held[sub]
		if !seen {
			a.heldOrder = append(a.heldOrder, sub)
		}
		a.held[sub] = append(evs, ev)
		return
	}
	if !sub.Deliver(ev) {
		a.leave(sub)
	}
}

// batchSubscriber is a Subscriber that can take several events in one call,
// in order, with the same all-or-nothing meaning as Deliver. shared is the
// actor's memo of the last batch encoded as one array frame: subscribers
// given the same events (a broadcast) reuse that frame instead of each
// building a copy of it.
type batchSubscriber interface {
	Subscriber
	DeliverBatch(evs []*Event, shared *SharedBatch) bool
}

// SharedBatch is an encoded array frame of a list of events, reused by the
// subscribers of one release (releaseHeld) that are given the same events.
// Only the actor's goroutine touches it.
type SharedBatch struct {
	evs   []*Event
	frame []byte
}

// Frame is the array frame of evs (whose frames are frames), encoded once
// for as long as the subscribers ask for the same events.
func (b *SharedBatch) Frame(evs []*Event, frames [][]byte) []byte {
	if b.frame != nil && slices.Equal(b.evs, evs) {
		return b.frame
	}
	b.evs = append(b.evs[:0], evs...)
	b.frame = wire.EncodeBatch(frames)
	return b.frame
}

func (b *SharedBatch) reset() {
	clear(b.evs)
	b.evs, b.frame = b.evs[:0], nil
}

// hold starts collecting deliveries; releaseHeld hands them over.
func (a *actor) hold() {
	if a.held == nil {
		a.held = make(map[Subscriber][]*Event)
	}
	a.holding = true
}

// holdOnce is hold that nests: each call is paired with a releaseHeld, and
// only the outermost release delivers.
func (a *actor) holdOnce() {
	if a.holding {
		a.holdDepth++
		return
	}
	a.hold()
}

// releaseHeld delivers what hold collected, each subscriber's events in the
// order they were produced, and detaches subscribers that cannot take them.
func (a *actor) releaseHeld() {
	if a.holdDepth > 0 {
		a.holdDepth--
		return
	}
	a.holding = false
	for _, sub := range a.heldOrder {
		evs := a.held[sub]
		ok := true
		if bs, batched := sub.(batchSubscriber); batched && len(evs) > 1 {
			ok = bs.DeliverBatch(evs, &a.shared)
		} else {
			for _, ev := range evs {
				if ok = sub.Deliver(ev); !ok {
					break
				}
			}
		}
		if !ok {
			a.leave(sub)
		}
	}
	a.shared.reset()
	clear(a.held)
	clear(a.heldOrder)
	a.heldOrder = a.heldOrder[:0]
}
