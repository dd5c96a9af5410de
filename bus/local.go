package bus

import (
	"context"
	"fmt"
	"sync"
)

// LocalNetwork connects the LocalBus endpoints of several servers in one
// process, as Redis connects the nodes of a deployment. Tests use it to run
// several nodes over one shared store without any network.
type LocalNetwork struct {
	mu    sync.Mutex
	nodes map[*LocalBus]struct{} // guarded by mu
}

// NewLocalNetwork returns an empty network.
func NewLocalNetwork() *LocalNetwork {
	return &LocalNetwork{nodes: make(map[*LocalBus]struct{})}
}

// LocalBus is the in-process Bus engine: one node's endpoint on a
// LocalNetwork. A server without a configured bus gets one on a network of its
// own, where it hears nobody, which is exactly single-node operation.
//
// Each endpoint has one delivery goroutine (its owner is the endpoint; Close
// stops it) fed by a bounded queue: a publisher never waits for a slow
// receiver, and an overflow is reported to the receiver's subscriptions as
// BusLost, as a reconnect would be over Redis.
type LocalBus struct {
	net  *LocalNetwork
	node string

	// fanout holds the subscriptions and the closed flag; its mu also
	// guards the fields below.
	fanout[struct{}]
	queue []localMsg // guarded by mu
	lost  bool       // guarded by mu: the queue overflowed

	wake    chan struct{}
	done    chan struct{}
	stopped chan struct{}
}

var _ Bus = (*LocalBus)(nil)

// localQueueMax bounds what waits for one endpoint's delivery goroutine.
const localQueueMax = 8192

type localMsg struct {
	topic   string
	from    string
	payload []byte
}

// NewLocalBus returns an endpoint on a network of its own (single node).
func NewLocalBus() *LocalBus { return NewLocalNetwork().Bus() }

// Bus joins a new node to the network and returns its endpoint.
func (n *LocalNetwork) Bus() *LocalBus {
	b := &LocalBus{
		net:     n,
		node:    newNodeID(),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	b.fanout.init()
	n.mu.Lock()
	n.nodes[b] = struct{}{}
	n.mu.Unlock()
	go b.deliverLoop()
	return b
}

// Node is this endpoint's id.
func (b *LocalBus) Node() string { return b.node }

// Publish queues payload for every other endpoint of the network that has a
// subscription to topic. It never waits for a receiver.
func (b *LocalBus) Publish(_ context.Context, topic string, payload []byte) error {
	if b.isClosed() {
		return fmt.Errorf("publish on %q: %w", topic, ErrClosed)
	}
	b.net.mu.Lock()
	peers := make([]*LocalBus, 0, len(b.net.nodes))
	for p := range b.net.nodes {
		if p != b {
			peers = append(peers, p)
		}
	}
	b.net.mu.Unlock()
	for _, p := range peers {
		// Each receiver gets its own copy: a subscriber keeps its payload.
		p.enqueue(localMsg{topic: topic, from: b.node, payload: append([]byte(nil), payload...)})
	}
	return nil
}

func (b *LocalBus) enqueue(m localMsg) {
	b.mu.Lock()
	if b.closed || b.topics[m.topic] == nil {
		b.mu.Unlock()
		return
	}
	if len(b.queue) >= localQueueMax {
		b.lost = true
	} else {
		b.queue = append(b.queue, m)
	}
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Subscribe registers sub for topic; it is active at once.
func (b *LocalBus) Subscribe(_ context.Context, topic string, sub Subscriber) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return func() {}, fmt.Errorf("subscribe to %q: %w", topic, ErrClosed)
	}
	s, _, _ := b.addLocked(topic, sub)
	return b.canceller(s, nil), nil
}

// deliverLoop is the endpoint's delivery goroutine.
func (b *LocalBus) deliverLoop() {
	defer close(b.stopped)
	for {
		select {
		case <-b.done:
			return
		case <-b.wake:
		}
		for {
			b.mu.Lock()
			if b.closed {
				b.mu.Unlock()
				return
			}
			var lost []*subscription
			if b.lost {
				b.lost = false
				lost = b.allSubsLocked()
			}
			q := b.queue
			b.queue = nil
			b.mu.Unlock()
			if len(q) == 0 && lost == nil {
				break
			}
			for _, m := range q {
				b.mu.Lock()
				targets := b.subsLocked(m.topic)
				b.mu.Unlock()
				b.deliver(targets, m.from, m.payload)
			}
			b.tellLost(lost)
		}
	}
}

// Close leaves the network and stops the delivery goroutine.
func (b *LocalBus) Close() error {
	if !b.markClosed(func() { b.queue = nil }) {
		return nil
	}
	b.net.mu.Lock()
	delete(b.net.nodes, b)
	b.net.mu.Unlock()
	close(b.done)
	<-b.stopped
	return nil
}
