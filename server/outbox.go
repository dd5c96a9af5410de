package server

import (
	"cmp"
	"math"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/olahol/melody"
)

// The outbox budget bounds the memory that all connections' outboxes claim
// together (Config.OutboxBudget), besides each connection's own bound
// (Config.OutboxMaxBytes). A connection's claim is what waits in its outbox
// plus the frames handed to its writer and not yet written; it is charged
// when a frame is queued or handed over and released when it is written, or
// dropped, or the connection ends. When the sum passes the budget, the
// reclaimer goroutine closes the connections with the largest claims with
// 1013 until the sum is back under seven eighths of it: a slow client is what
// holds a large claim, and it catches up by re-joining with its version.
//
// A broadcast frame is shared in memory by every connection it waits for, but
// it is charged to each of them: the budget bounds the worst case (every
// connection on a different document), so the memory really held is at most
// the budget, usually much less.

// outboxLowWater is the fraction of the budget the reclaimer brings the
// claims back to, so that one pass frees room for a while instead of closing
// one connection per frame.
const outboxLowWater = 7.0 / 8

// budgetCloseGrace is how long a connection closed because the budget was
// reached may take to write what its writer holds and its close frame. A
// client that does not read even that is cut off (it sees the connection end
// without a close frame), so that the memory its writer holds is freed now,
// while memory is short, rather than after WriteWait. A connection closed
// for passing its own bound keeps the whole WriteWait.
const budgetCloseGrace = time.Second

// outboxBudgetFraction is the share of the memory available to the process
// that the default budget gives to outboxes; see DefaultOutboxBudget.
const outboxBudgetFraction = 8

// minOutboxBudget is the smallest default budget.
const minOutboxBudget = 64 << 20

var (
	defaultBudgetOnce sync.Once
	defaultBudget     int64
)

// DefaultOutboxBudget is the default Config.OutboxBudget: an eighth of the
// memory this process may use, which is the smallest of the cgroup's memory
// limit (a container's), the machine's RAM and GOMEMLIMIT when set; at least
// 64 MiB. An eighth because queued frames are transient garbage for the Go
// collector: with the default GOGC=100 the heap may grow to about twice what
// is live, so a full budget can cost a quarter of the memory, and the rest is
// what documents (each loaded one holds its text and a window of ops), idle
// connections and the runtime need. Measured in docs/benchmarks.md (outbox).
func DefaultOutboxBudget() int64 {
	defaultBudgetOnce.Do(func() {
		limit := int64(math.MaxInt64)
		if n, err := memlimit.FromCgroup(); err == nil && n > 0 && n < math.MaxInt64 {
			limit = int64(n)
		}
		if n, err := memlimit.FromSystem(); err == nil && n > 0 && n < math.MaxInt64 {
			limit = min(limit, int64(n))
		}
		if n := debug.SetMemoryLimit(-1); n > 0 && n < math.MaxInt64 {
			limit = min(limit, n)
		}
		if limit == math.MaxInt64 {
			limit = 4 << 30 // nothing could be read: assume a small machine
		}
		defaultBudget = max(limit/outboxBudgetFraction, minOutboxBudget)
	})
	return defaultBudget
}

// outboxBudget is the server-wide account of outbox claims and the owner of
// the reclaimer goroutine, which Server.Shutdown stops.
type outboxBudget struct {
	srv   *Server
	limit int64
	used  atomic.Int64
	wake  chan struct{} // capacity 1: a pending wake-up
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newOutboxBudget(srv *Server, limit int64) *outboxBudget {
	b := &outboxBudget{srv: srv, limit: limit, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

// charge adds delta (negative to release) to the total; over the budget it
// wakes the reclaimer. It never blocks: callers hold a connection's outMu.
func (b *outboxBudget) charge(delta int64) {
	if b.used.Add(delta) > b.limit && delta > 0 {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
}

// close stops the reclaimer and waits for it; safe to call more than once.
func (b *outboxBudget) close() {
	b.once.Do(func() { close(b.stop) })
	<-b.done
}

func (b *outboxBudget) run() {
	defer close(b.done)
	for {
		select {
		case <-b.stop:
			return
		case <-b.wake:
			b.reclaim()
		}
	}
}

// reclaim closes the connections with the largest claims until the claims
// that remain are under the low-water mark. Connections already closing are
// counted as freed: their writers let go within budgetCloseGrace (or
// WriteWait for one closed for its own bound).
func (b *outboxBudget) reclaim() {
	used := b.used.Load()
	if used <= b.limit {
		return
	}
	type claim struct {
		c *conn
		n int64
	}
	b.srv.connMu.Lock()
	claims := make([]claim, 0, len(b.srv.conns))
	for c := range b.srv.conns {
		if n := c.claim.Load(); n > 0 {
			claims = append(claims, claim{c, n})
		}
	}
	b.srv.connMu.Unlock()
	slices.SortFunc(claims, func(x, y claim) int { return cmp.Compare(y.n, x.n) })
	target := int64(float64(b.limit) * outboxLowWater)
	var live []claim
	for _, cl := range claims {
		if cl.c.closing() {
			used -= cl.n
		} else {
			live = append(live, cl)
		}
	}
	closed := 0
	for _, cl := range live {
		if used <= target {
			break
		}
		if cl.c.closeForBudget(b.used.Load(), b.limit) {
			used -= cl.n
			closed++
		}
	}
	if closed > 0 {
		b.srv.log.Warn("outbox budget reached: closed the connections with the largest queues (1013)",
			"closed", closed, "budget_bytes", b.limit, "claimed_bytes", b.used.Load())
	}
}

// ---- the connection's side (all under c.outMu) ----

// chargeLocked changes the connection's claim by delta and the server's total.
func (c *conn) chargeLocked(delta int) {
	if delta == 0 {
		return
	}
	c.claim.Add(int64(delta))
	c.srv.budget.charge(int64(delta))
}

// dropQueueLocked forgets every queued frame (the client re-joins to catch up).
func (c *conn) dropQueueLocked() {
	c.chargeLocked(-c.queuedBytes)
	c.queue, c.queuedBytes = nil, 0
}

// releaseLocked returns the whole claim when the connection is gone.
func (c *conn) releaseLocked() {
	c.chargeLocked(-(c.queuedBytes + c.inflightBytes))
	c.queue, c.queuedBytes, c.inflightBytes = nil, 0, 0
	c.released = true
	if c.hardClose != nil {
		c.hardClose.Stop()
	}
}

// closeSlowLocked closes a connection that cannot keep up: its queue is
// dropped and its close frame follows what its writer already has.
func (c *conn) closeSlowLocked(reason string) {
	c.srv.metrics.slowCloses.Inc()
	c.dropQueueLocked()
	c.closeLocked(melody.CloseTryAgainLater, reason)
}

// closing reports whether the connection no longer takes frames.
func (c *conn) closing() bool {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	return c.outClosed
}

// closeForBudget closes the connection because the server's outbox budget is
// reached; false if it was already closing.
func (c *conn) closeForBudget(used, limit int64) bool {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.outClosed {
		return false
	}
	c.srv.metrics.budgetCloses.Inc()
	c.log.Info("closing a connection: the server's outbox budget is reached and its queue is among the largest",
		"sid", c.sid, "claimed_bytes", c.queuedBytes+c.inflightBytes, "server_claimed_bytes", used, "budget_bytes", limit)
	c.closeSlowLocked("server outbox budget reached; re-join to catch up")
	if ms := c.ms; ms != nil && c.hardClose == nil && !c.released {
		c.hardClose = time.AfterFunc(budgetCloseGrace, func() { _ = ms.WebsocketConnection().Close() })
	}
	return true
}
