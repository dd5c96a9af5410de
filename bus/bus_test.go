package bus_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/bus"
	"github.com/tandem-collab/tandem/internal/testkit"
)

// The Bus contract suite: the same rules, checked against every engine.

// openRedisBus opens a RedisBus on url with a prefix of its own (so that
// parallel test runs on one Redis never hear each other); it fails the test
// loudly when Redis is unreachable.
func openRedisBus(t *testing.T, url, prefix string) *bus.RedisBus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := bus.OpenRedis(ctx, url, bus.RedisOptions{
		Prefix: prefix,
		Logger: slog.New(slog.NewTextHandler(testkit.LogWriter(t), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatalf("the Redis bus tests need Redis at TANDEM_TEST_REDIS_URL (%s) and cannot reach it: %v; start it with `make services`", testkit.Redact(url), err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close redis bus: %v", err)
		}
	})
	return b
}

type busEngine struct {
	name string
	// nodes returns n endpoints that hear each other.
	nodes func(t *testing.T, n int) []bus.Bus
}

var busEngines = []busEngine{
	{"local", func(t *testing.T, n int) []bus.Bus {
		net := bus.NewLocalNetwork()
		out := make([]bus.Bus, n)
		for i := range out {
			b := net.Bus()
			t.Cleanup(func() { _ = b.Close() })
			out[i] = b
		}
		return out
	}},
	{"redis", func(t *testing.T, n int) []bus.Bus {
		prefix := "tandemtest:" + testkit.RandHex(6) + ":"
		out := make([]bus.Bus, n)
		for i := range out {
			out[i] = openRedisBus(t, testkit.RedisURL(), prefix)
		}
		return out
	}},
}

// recorder is a Subscriber that keeps what it gets.
type recorder struct {
	mu    sync.Mutex
	msgs  []busMsgSeen
	lost  int
	wake  chan struct{}
	block chan struct{} // when set, the first BusMessage waits on it (overflow test)
}

type busMsgSeen struct {
	from    string
	payload []byte
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{}, 1)} }

func (r *recorder) BusMessage(from string, payload []byte) {
	r.mu.Lock()
	block := r.block
	r.block = nil
	r.msgs = append(r.msgs, busMsgSeen{from, payload})
	r.mu.Unlock()
	if block != nil {
		<-block
	}
	r.poke()
}

func (r *recorder) BusLost() {
	r.mu.Lock()
	r.lost++
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *recorder) snapshot() ([]busMsgSeen, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]busMsgSeen(nil), r.msgs...), r.lost
}

// waitFor polls cond until it holds or d passes.
func (r *recorder) waitFor(t *testing.T, d time.Duration, what string, cond func(msgs []busMsgSeen, lost int) bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		msgs, lost := r.snapshot()
		if cond(msgs, lost) {
			return
		}
		select {
		case <-r.wake:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s: have %d messages, %d lost signals", what, len(msgs), lost)
		}
	}
}

func subscribe(t *testing.T, b bus.Bus, topic string, sub bus.Subscriber) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := b.Subscribe(ctx, topic, sub)
	if err != nil {
		c()
		t.Fatalf("subscribe %q: %v", topic, err)
	}
	t.Cleanup(c)
	return c
}

func publish(t *testing.T, b bus.Bus, topic, payload string) {
	t.Helper()
	if err := b.Publish(context.Background(), topic, []byte(payload)); err != nil {
		t.Fatalf("publish %q on %q: %v", payload, topic, err)
	}
}

func TestBusContract(t *testing.T) {
	for _, eng := range busEngines {
		t.Run(eng.name, func(t *testing.T) {
			t.Run("OrderedDeliveryToOtherNodesOnly", func(t *testing.T) {
				n := eng.nodes(t, 3)
				a, b, c := n[0], n[1], n[2]
				if a.Node() == b.Node() || a.Node() == "" {
					t.Fatalf("node ids must be unique and set: %q %q", a.Node(), b.Node())
				}
				ra, rb, rc := newRecorder(), newRecorder(), newRecorder()
				subscribe(t, a, "t1", ra)
				subscribe(t, b, "t1", rb)
				subscribe(t, c, "t2", rc) // another topic: hears nothing
				const count = 200
				for i := range count {
					publish(t, a, "t1", strconv.Itoa(i))
				}
				rb.waitFor(t, 5*time.Second, "200 messages on b", func(m []busMsgSeen, _ int) bool { return len(m) >= count })
				msgs, _ := rb.snapshot()
				for i, m := range msgs[:count] {
					if string(m.payload) != strconv.Itoa(i) || m.from != a.Node() {
						t.Fatalf("message %d: got %q from %q, want %q from %q", i, m.payload, m.from, strconv.Itoa(i), a.Node())
					}
				}
				// A marker published after everything: once b has it, a and
				// c would have had the others too.
				publish(t, b, "t2", "marker")
				publish(t, b, "t1", "marker")
				ra.waitFor(t, 5*time.Second, "the marker on a", func(m []busMsgSeen, _ int) bool { return len(m) >= 1 })
				rc.waitFor(t, 5*time.Second, "the marker on c", func(m []busMsgSeen, _ int) bool { return len(m) >= 1 })
				am, _ := ra.snapshot()
				cm, _ := rc.snapshot()
				if len(am) != 1 || string(am[0].payload) != "marker" || am[0].from != b.Node() {
					t.Fatalf("a heard its own messages or missed b's: %v", am)
				}
				if len(cm) != 1 || string(cm[0].payload) != "marker" {
					t.Fatalf("c heard another topic: %v", cm)
				}
			})

			t.Run("EverySubscriptionGetsItsOwnPayload", func(t *testing.T) {
				n := eng.nodes(t, 2)
				r1, r2 := newRecorder(), newRecorder()
				subscribe(t, n[1], "t", r1)
				subscribe(t, n[1], "t", r2)
				publish(t, n[0], "t", "hello")
				r1.waitFor(t, 5*time.Second, "delivery to r1", func(m []busMsgSeen, _ int) bool { return len(m) == 1 })
				r2.waitFor(t, 5*time.Second, "delivery to r2", func(m []busMsgSeen, _ int) bool { return len(m) == 1 })
				m1, _ := r1.snapshot()
				m1[0].payload[0] = 'X'
				m2, _ := r2.snapshot()
				if string(m2[0].payload) != "hello" {
					t.Fatalf("subscriptions share a payload buffer: r2 sees %q", m2[0].payload)
				}
			})

			t.Run("NoCallAfterCancel", func(t *testing.T) {
				n := eng.nodes(t, 2)
				keep, gone := newRecorder(), newRecorder()
				subscribe(t, n[1], "t", keep)
				cancel := subscribe(t, n[1], "t", gone)
				publish(t, n[0], "t", "one")
				gone.waitFor(t, 5*time.Second, "the first message", func(m []busMsgSeen, _ int) bool { return len(m) == 1 })
				cancel()
				cancel() // idempotent
				publish(t, n[0], "t", "two")
				keep.waitFor(t, 5*time.Second, "both messages on the kept subscription", func(m []busMsgSeen, _ int) bool { return len(m) == 2 })
				if m, _ := gone.snapshot(); len(m) != 1 {
					t.Fatalf("a cancelled subscription got %d messages, want 1", len(m))
				}
			})

			t.Run("CancelWaitsForACallInProgress", func(t *testing.T) {
				n := eng.nodes(t, 2)
				r := newRecorder()
				release := make(chan struct{})
				var once sync.Once
				free := func() { once.Do(func() { close(release) }) }
				t.Cleanup(free) // after a failure too, before the nodes close
				r.block = release
				cancel := subscribe(t, n[1], "t", r)
				publish(t, n[0], "t", "one")
				r.waitFor(t, 5*time.Second, "the call in progress", func(m []busMsgSeen, _ int) bool { return len(m) == 1 })
				done := make(chan struct{})
				go func() {
					cancel()
					close(done)
				}()
				select {
				case <-done:
					t.Fatal("cancel returned while the subscriber was still being called")
				case <-time.After(100 * time.Millisecond):
				}
				free()
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					t.Fatal("cancel did not return once the call ended")
				}
			})

			t.Run("SubscribeAgainAfterTheLastCancel", func(t *testing.T) {
				n := eng.nodes(t, 2)
				first := newRecorder()
				subscribe(t, n[1], "t", first)() // the topic's last subscription: the engine stops listening
				again := newRecorder()
				subscribe(t, n[1], "t", again)
				publish(t, n[0], "t", "after")
				again.waitFor(t, 5*time.Second, "delivery to the new subscription", func(m []busMsgSeen, _ int) bool { return len(m) == 1 })
				if m, _ := first.snapshot(); len(m) != 0 {
					t.Fatalf("the cancelled subscription got %d messages", len(m))
				}
			})

			t.Run("ClosedBusRefuses", func(t *testing.T) {
				n := eng.nodes(t, 1)
				if err := n[0].Close(); err != nil {
					t.Fatalf("close: %v", err)
				}
				if err := n[0].Publish(context.Background(), "t", []byte("x")); !errors.Is(err, bus.ErrClosed) {
					t.Fatalf("publish after close: %v, want ErrClosed", err)
				}
				c, err := n[0].Subscribe(context.Background(), "t", newRecorder())
				c()
				if !errors.Is(err, bus.ErrClosed) {
					t.Fatalf("subscribe after close: %v, want ErrClosed", err)
				}
			})
		})
	}
}

// A receiver that falls behind by more than its queue is told BusLost
// rather than blocking the publisher.
func TestLocalBusOverflowIsReportedLost(t *testing.T) {
	net := bus.NewLocalNetwork()
	a, b := net.Bus(), net.Bus()
	defer a.Close()
	defer b.Close()
	r := newRecorder()
	release := make(chan struct{})
	r.block = release
	subscribe(t, b, "t", r)
	publish(t, a, "t", "first")
	r.waitFor(t, 5*time.Second, "the first message", func(m []busMsgSeen, _ int) bool { return len(m) == 1 })
	start := time.Now()
	for i := range 10000 {
		publish(t, a, "t", strconv.Itoa(i))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("publishing to a stuck receiver took %v: the publisher must not wait", d)
	}
	close(release)
	r.waitFor(t, 5*time.Second, "a lost signal", func(_ []busMsgSeen, lost int) bool { return lost >= 1 })
}

// After Redis restarts, every subscription is re-made and told BusLost, and
// delivery works again.
func TestRedisBusSurvivesRedisRestart(t *testing.T) {
	port := testkit.FreePort(t)
	rs := testkit.StartRedis(t, port)
	defer func() { rs.Stop() }()
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	a := openRedisBus(t, url, "")
	b := openRedisBus(t, url, "")
	r := newRecorder()
	subscribe(t, b, "t", r)
	publish(t, a, "t", "before")
	r.waitFor(t, 5*time.Second, "the first message", func(m []busMsgSeen, _ int) bool { return len(m) == 1 })

	rs.Stop()
	// Published while Redis is down: dropped (the store covers for it).
	_ = a.Publish(context.Background(), "t", []byte("during"))
	time.Sleep(300 * time.Millisecond)
	rs = testkit.StartRedis(t, port)
	r.waitFor(t, 15*time.Second, "a lost signal after the restart", func(_ []busMsgSeen, lost int) bool { return lost >= 1 })
	deadline := time.Now().Add(10 * time.Second)
	for {
		publish(t, a, "t", "after")
		msgs, _ := r.snapshot()
		if string(msgs[len(msgs)-1].payload) == "after" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery after the restart: %d messages", len(msgs))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
