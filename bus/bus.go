package bus

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
)

// Bus carries opaque payloads on named topics between the Tandem nodes; the
// server publishes a document's events (the ops each node committed, the
// presence of the peers connected to it, deletions, forwarded ops) on one
// topic per document. The store stays the source of truth (Postgres orders
// the ops); the bus only makes other nodes hear about a commit without
// polling. So the contract is deliberately weak, and the server is written to
// need no more:
//
//   - Publish hands payload to every subscription of topic made through the
//     other nodes' Bus values (never back to the publishing node). It does not
//     wait for the network: it queues and returns, and reports an error only
//     when the message was dropped (bus closed, queue full). Delivery is best
//     effort: a message may be lost or, after a network retry, delivered
//     twice. Messages of one publisher on one topic that do arrive, arrive in
//     publication order, except that a duplicate may follow later ones.
//   - Subscribe registers sub for topic and, when it can, returns once the
//     subscription is active: every message published after Subscribe
//     returned nil reaches sub (unless lost as above). When the bus cannot
//     confirm in time (ctx ends, the bus service is down) it returns an error
//     wrapping ErrUnavailable but keeps the registration: sub gets
//     BusLost once the subscription becomes active. Either way the caller
//     must call the returned cancel exactly once; after cancel returns, sub
//     is called no more.
//   - BusLost tells sub that messages of its topic may have been lost (the
//     bus reconnected, or a queue overflowed). The subscriber must then
//     re-read what it needs from the store.
//   - sub's methods are called from the bus's own goroutines, one call at a
//     time per subscription, and must not block: a subscriber hands the
//     payload over to its owner (an actor's mailbox) or drops it and treats
//     the drop as BusLost.
//   - Node is this endpoint's id, unique among the nodes; BusMessage gets the
//     publisher's.
//   - Close stops the bus's goroutines; Publish and Subscribe fail after it.
//
// Engines: LocalBus (in-process; the single-node default, and several
// servers in one process can share a LocalNetwork) and RedisBus (Redis
// pub/sub, for several processes). Both keep their subscriptions and call
// them through the same fan-out (fanout.go), and both pass the same contract
// suite (bus_test.go).
type Bus interface {
	Node() string
	Publish(ctx context.Context, topic string, payload []byte) error
	Subscribe(ctx context.Context, topic string, sub Subscriber) (cancel func(), err error)
	Close() error
}

// Subscriber receives the messages of one topic (see Bus for the rules).
type Subscriber interface {
	// BusMessage is one payload published by node from. The payload is the
	// subscriber's to keep.
	BusMessage(from string, payload []byte)
	// BusLost says that messages of the topic may have been lost.
	BusLost()
}

// Errors of a Bus that callers branch on.
var (
	// ErrClosed: Publish or Subscribe after Close.
	ErrClosed = errors.New("bus closed")
	// ErrUnavailable: the bus service cannot be reached right now; a
	// Subscribe that got it stays registered and recovers by itself.
	ErrUnavailable = errors.New("bus unavailable")
	// ErrOverflow: Publish dropped the message because the outgoing queue
	// is full (the bus service is slow or down).
	ErrOverflow = errors.New("bus queue full")
)

// newNodeID is a random node id (hex, 16 characters).
func newNodeID() string {
	var b [8]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}
