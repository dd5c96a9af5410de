package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configures OpenRedis.
type RedisOptions struct {
	// Prefix is put before every channel name, so that several deployments
	// can share one Redis (pub/sub channels ignore the database number).
	// Empty means "tandem:".
	Prefix string
	// QueueSize bounds the messages waiting to be published; past it Publish
	// drops with ErrOverflow. 0 means 8192.
	QueueSize int
	// Logger receives connection state changes; nil means slog.Default().
	Logger *slog.Logger
}

// RedisBus is the Bus engine for several processes: Redis pub/sub, one
// channel per topic. A node has one subscriber connection (SUBSCRIBE and
// UNSUBSCRIBE as its documents open and close) and a small pool for PUBLISH.
//
// It owns two goroutines, both stopped by Close: the publisher, which drains
// the outgoing queue in pipelines so that an actor never waits for Redis, and
// the receiver, which reads the subscriber connection, dispatches messages and
// re-establishes the connection after any failure. After a reconnect every
// subscription is re-made and, once Redis confirms it, told BusLost: what was
// published meanwhile is gone, and the actors catch up from the store.
type RedisBus struct {
	client *redis.Client
	prefix string
	node   string
	log    *slog.Logger

	out chan redisOut

	// fanout holds the subscriptions, keyed by the channel name, and the
	// closed flag; its mu also guards the field below.
	fanout[redisTopic]
	ps *redis.PubSub // guarded by mu; the current subscriber connection

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ Bus = (*RedisBus)(nil)

type redisOut struct {
	channel string
	frame   []byte
}

// redisTopic is the engine's state of a channel (guarded by mu).
type redisTopic struct {
	active bool          // Redis confirmed the subscription on the current connection
	waiter chan struct{} // closed at the confirmation a Subscribe is waiting for
}

// Timings of the Redis engine. Short, because every one of them is time in
// which the other nodes do not hear this one (the store keeps them correct
// meanwhile, but remote carets and ops would lag).
const (
	redisDialTimeout   = 2 * time.Second
	redisIOTimeout     = 2 * time.Second
	redisIdleCheck     = 2 * time.Second // read this long without a frame: ping
	redisMaxPingMisses = 2               // unanswered pings before the connection is replaced
	redisBackoffMax    = time.Second
	redisPublishBatch  = 256
	redisSubscribeWait = 3 * time.Second
)

// OpenRedis connects to the Redis at url (redis://[user:password@]host:port/db,
// or rediss:// for TLS) and starts the bus. It fails with ErrUnavailable
// when Redis cannot be reached now; later outages are survived.
func OpenRedis(ctx context.Context, url string, opts RedisOptions) (*RedisBus, error) {
	ro, err := redis.ParseURL(url)
	if err != nil {
		// The error may quote the URL and its password: do not wrap it.
		return nil, errors.New("open redis bus: cannot parse the Redis URL (want redis://[user:password@]host:port/db or rediss://...)")
	}
	ro.DialTimeout = redisDialTimeout
	ro.ReadTimeout = redisIOTimeout
	ro.WriteTimeout = redisIOTimeout
	ro.MaxRetries = 1
	ro.PoolSize = 4
	ro.ClientName = "tandem"
	// Pub/sub frames on RESP2 are what this engine reads; RESP3 push
	// handling adds nothing here.
	ro.Protocol = 2
	if opts.Prefix == "" {
		opts.Prefix = "tandem:"
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 8192
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := redis.NewClient(ro)
	pctx, cancel := context.WithTimeout(ctx, redisDialTimeout+redisIOTimeout)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("open redis bus at %s: %w: %v", ro.Addr, ErrUnavailable, err)
	}
	b := &RedisBus{
		client: c,
		prefix: opts.Prefix,
		node:   newNodeID(),
		log:    opts.Logger.With("bus", "redis", "addr", ro.Addr),
		out:    make(chan redisOut, opts.QueueSize),
	}
	b.fanout.init()
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.wg.Add(2)
	go b.publisher()
	go b.receiver()
	return b, nil
}

// Node is this endpoint's id.
func (b *RedisBus) Node() string { return b.node }

// frame is [len(node)] node payload: the receiver drops its own messages and
// tells the others who sent them.
func (b *RedisBus) frame(payload []byte) []byte {
	f := make([]byte, 0, 1+len(b.node)+len(payload))
	f = append(f, byte(len(b.node)))
	f = append(f, b.node...)
	return append(f, payload...)
}

func unframe(f string) (from string, payload []byte, ok bool) {
	if len(f) < 1 || len(f) < 1+int(f[0]) {
		return "", nil, false
	}
	n := int(f[0])
	return f[1 : 1+n], []byte(f[1+n:]), true
}

// Publish queues payload for PUBLISH; it never waits for Redis.
func (b *RedisBus) Publish(_ context.Context, topic string, payload []byte) error {
	if b.isClosed() {
		return fmt.Errorf("publish on %q: %w", topic, ErrClosed)
	}
	select {
	case b.out <- redisOut{channel: b.prefix + topic, frame: b.frame(payload)}:
		return nil
	default:
		return fmt.Errorf("publish on %q: %w", topic, ErrOverflow)
	}
}

// publisher sends the queue in pipelines. A failed pipeline is dropped: the
// receivers notice the gap (or this node's next heartbeat) and read the store.
func (b *RedisBus) publisher() {
	defer b.wg.Done()
	down := false
	batch := make([]redisOut, 0, redisPublishBatch)
	for {
		select {
		case <-b.ctx.Done():
			return
		case m := <-b.out:
			batch = append(batch[:0], m)
		}
	drain:
		for len(batch) < cap(batch) {
			select {
			case m := <-b.out:
				batch = append(batch, m)
			default:
				break drain
			}
		}
		ctx, cancel := context.WithTimeout(b.ctx, redisIOTimeout)
		pipe := b.client.Pipeline()
		for _, m := range batch {
			pipe.Publish(ctx, m.channel, m.frame)
		}
		_, err := pipe.Exec(ctx)
		cancel()
		switch {
		case err != nil && b.ctx.Err() != nil:
			return
		case err != nil && !down:
			down = true
			b.log.Warn("publishing to Redis failed; messages dropped until it is back (nodes catch up from the store)", "msgs", len(batch), "err", err)
		case err == nil && down:
			down = false
			b.log.Info("publishing to Redis works again")
		}
	}
}

// Subscribe registers sub and waits (up to ctx, at most a few seconds) for
// Redis to confirm the channel.
func (b *RedisBus) Subscribe(ctx context.Context, topic string, sub Subscriber) (func(), error) {
	ch := b.prefix + topic
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return func() {}, fmt.Errorf("subscribe to %q: %w", topic, ErrClosed)
	}
	s, t, first := b.addLocked(ch, sub)
	if first {
		t.state.waiter = make(chan struct{})
	}
	active, waiter, ps := t.state.active, t.state.waiter, b.ps
	b.mu.Unlock()
	cancel := b.canceller(s, b.unsubscribe)
	if active {
		return cancel, nil
	}
	if first && ps != nil {
		// Errors here mean the connection is failing; the receiver replaces
		// it and subscribes every registered channel again.
		sctx, c := context.WithTimeout(ctx, redisIOTimeout)
		_ = ps.Subscribe(sctx, ch)
		c()
	}
	if waiter == nil {
		// Registered, not confirmed, and nobody waits: BusLost comes at the
		// confirmation.
		return cancel, fmt.Errorf("subscribe to %q: %w: not confirmed yet", topic, ErrUnavailable)
	}
	timer := time.NewTimer(redisSubscribeWait)
	defer timer.Stop()
	select {
	case <-waiter:
		return cancel, nil
	case <-ctx.Done():
	case <-timer.C:
	case <-b.ctx.Done():
	}
	b.mu.Lock()
	if t.state.waiter == waiter {
		// From now on the confirmation is reported as BusLost.
		t.state.waiter = nil
	}
	confirmed := t.state.active
	b.mu.Unlock()
	if confirmed {
		return cancel, nil
	}
	return cancel, fmt.Errorf("subscribe to %q: %w: Redis did not confirm in time", topic, ErrUnavailable)
}

// unsubscribe tells Redis that this node no longer listens to channel ch,
// which the last cancel left without subscriptions; not if a Subscribe
// registered it again meanwhile.
func (b *RedisBus) unsubscribe(ch string) {
	b.mu.Lock()
	ps := b.ps
	if b.topics[ch] != nil {
		ps = nil
	}
	b.mu.Unlock()
	if ps != nil {
		ctx, cancel := context.WithTimeout(b.ctx, redisIOTimeout)
		_ = ps.Unsubscribe(ctx, ch)
		cancel()
	}
}

// receiver owns the subscriber connection: it (re)connects, subscribes every
// registered channel and reads until the connection fails.
func (b *RedisBus) receiver() {
	defer b.wg.Done()
	backoff := 50 * time.Millisecond
	down := false
	for b.ctx.Err() == nil {
		ps := b.client.Subscribe(b.ctx)
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			_ = ps.Close()
			return
		}
		b.ps = ps
		chans := make([]string, 0, len(b.topics))
		for ch := range b.topics {
			chans = append(chans, ch)
		}
		b.mu.Unlock()
		var err error
		if len(chans) > 0 {
			ctx, cancel := context.WithTimeout(b.ctx, redisIOTimeout)
			err = ps.Subscribe(ctx, chans...)
			cancel()
		} else {
			ctx, cancel := context.WithTimeout(b.ctx, redisIOTimeout)
			err = ps.Ping(ctx)
			cancel()
		}
		if err == nil {
			if down {
				b.log.Info("Redis subscriber connection is back; resubscribing", "channels", len(chans))
				down = false
			}
			backoff = 50 * time.Millisecond
			err = b.read(ps)
		}
		b.mu.Lock()
		if b.ps == ps {
			b.ps = nil
		}
		for _, t := range b.topics {
			t.state.active = false
		}
		b.mu.Unlock()
		_ = ps.Close()
		if b.ctx.Err() != nil {
			return
		}
		if !down {
			down = true
			b.log.Warn("Redis subscriber connection lost; reconnecting (nodes catch up from the store)", "err", err)
		}
		select {
		case <-b.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, redisBackoffMax)
	}
}

// read dispatches frames until the connection fails or looks dead.
func (b *RedisBus) read(ps *redis.PubSub) error {
	misses := 0
	for {
		msg, err := ps.ReceiveTimeout(b.ctx, redisIdleCheck)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && b.ctx.Err() == nil {
				if misses >= redisMaxPingMisses {
					return fmt.Errorf("redis subscriber: %d pings unanswered", misses)
				}
				misses++
				ctx, cancel := context.WithTimeout(b.ctx, redisIOTimeout)
				perr := ps.Ping(ctx)
				cancel()
				if perr != nil {
					return fmt.Errorf("redis subscriber ping: %w", perr)
				}
				continue
			}
			return fmt.Errorf("redis subscriber: %w", err)
		}
		misses = 0
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				b.confirmed(m.Channel)
			}
		case *redis.Message:
			b.dispatch(m)
		case *redis.Pong:
		}
	}
}

// confirmed marks a channel active: a waiting Subscribe returns, and
// otherwise (a resubscription) every subscriber is told BusLost.
func (b *RedisBus) confirmed(ch string) {
	b.mu.Lock()
	t := b.topics[ch]
	if t == nil {
		b.mu.Unlock()
		return
	}
	t.state.active = true
	var lost []*subscription
	if t.state.waiter != nil {
		close(t.state.waiter)
		t.state.waiter = nil
	} else {
		lost = b.subsLocked(ch)
	}
	b.mu.Unlock()
	b.tellLost(lost)
}

// dispatch hands a message to the channel's subscriptions, unless this node
// sent it.
func (b *RedisBus) dispatch(m *redis.Message) {
	from, payload, ok := unframe(m.Payload)
	if !ok || from == b.node {
		return
	}
	b.mu.Lock()
	targets := b.subsLocked(m.Channel)
	b.mu.Unlock()
	b.deliver(targets, from, payload)
}

// Close stops both goroutines and closes the connections. Queued messages
// not yet published are dropped.
func (b *RedisBus) Close() error {
	var ps *redis.PubSub
	if !b.markClosed(func() { ps = b.ps }) {
		return nil
	}
	b.cancel()
	if ps != nil {
		_ = ps.Close()
	}
	b.wg.Wait()
	if err := b.client.Close(); err != nil && !strings.Contains(err.Error(), "closed") {
		return fmt.Errorf("close redis bus: %w", err)
	}
	return nil
}
