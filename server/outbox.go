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
// (Config.OutboxMaxBytes). A connection's claim is what waits in its outbox,
// the frames handed to its writer and not yet written, and the pooled write
// buffer its writer holds while it has such frames (a write to a socket
// that is not read blocks with the buffer in hand). It is charged when a
// frame is queued or handed over and released when it is written, or
// dropped, or the connection ends.
//
// The budget is enforced when a claim is charged, not after the fact: a
// charge that would take the total past the budget is refused (reserve).
// The connection that asked then makes room by closing, with 1013, the
// connections whose claims are larger than its own, largest first, and
// cutting their sockets off (their whole claims are released then: their
// writers let go of their frames as soon as they see the closed socket),
// until its charge fits; if it does not, it closes itself. So the total
// never passes the budget, and no more connections are closed than needed. Ahead of that, the reclaimer goroutine
// starts closing the largest claims when the total passes three quarters of
// the budget (outboxHighWater) and goes on until it is back under half of it
// (outboxLowWater), so that the limit is seldom met by a reading client.
// The reclaimer counts only the live claims: those of connections already
// closing (their writers let go of their frames within budgetCloseGrace, or
// WriteWait) are on their way out, and closing more connections for them
// would close too many; without that, every charge while a thousand closed
// connections' frames were still held woke it for another pass over all
// the connections, each closing one more (docs/benchmarks.md, issue 18).
//
// A broadcast frame is shared in memory by every connection it waits for, but
// it is charged to each of them: the budget bounds the worst case (every
// connection on a different document), so the memory really held is at most
// the claims, usually less. Frames a connection coalesces for its writer are
// its own copy and are charged to it alone.
//
// Lock order: a connection's outMu may be held while the server's connMu is
// taken (makeRoomLocked reads the connections), never the other way round.
// A connection that holds its own outMu takes another connection's outMu
// only with TryLock (and skips that connection when it is busy), so two
// connections making room at the same time cannot deadlock; the reclaimer
// holds no outMu when it takes one.

// outboxHighWater is the fraction of the budget past which the reclaimer
// starts closing the largest claims; outboxLowWater the fraction it brings
// the claims back to, so that one pass frees room for a while instead of
// closing one connection per frame.
const (
	outboxHighWater = 3.0 / 4
	outboxLowWater  = 1.0 / 2
)

// writerBufferCost is what a connection's writer holds besides its frames
// while it has any: the pooled write buffer gorilla/websocket takes for a
// write and gives back when the write returns (4 KiB plus the largest frame
// header), which a socket that is not read keeps blocked.
const writerBufferCost = 4096 + 14

// budgetCloseGrace is how long a connection closed by the reclaimer may take
// to write what its writer holds and its close frame. A client that does not
// read even that is cut off (it sees the connection end without a close
// frame), so that the memory its writer holds is freed now, while memory is
// short, rather than after WriteWait. A connection closed to make room for a
// refused charge is cut off at once; one closed for passing its own bound
// keeps the whole WriteWait.
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
// collector: at GOGC=100 the heap may grow to about twice what is live, so a
// full budget can cost a quarter of the memory, and the rest is what
// documents (each loaded one holds its text and a window of ops), idle
// connections and the runtime need. cmd/tandem runs at GOGC=400 with a soft
// memory limit of 90% of the memory (internal/gcdefaults), read here when it
// is set first: the limit, not GOGC, then bounds what garbage may take, the
// collector working harder as the heap nears it. Measured in
// docs/benchmarks.md (outbox).
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
	high  int64 // outboxHighWater of limit: the reclaimer's trigger
	low   int64 // outboxLowWater of limit: where the reclaimer stops
	used  atomic.Int64
	// closing is the part of used claimed by connections that take no more
	// frames (conn.markClosedLocked): it is freed without closing anything
	// else, so the reclaimer leaves it out.
	closing atomic.Int64
	wake    chan struct{} // capacity 1: a pending wake-up
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newOutboxBudget(srv *Server, limit int64) *outboxBudget {
	b := &outboxBudget{srv: srv, limit: limit,
		high: int64(float64(limit) * outboxHighWater), low: int64(float64(limit) * outboxLowWater),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

// reserve adds n bytes to the total unless that would take it past the
// budget; when the live claims pass the high-water mark it wakes the
// reclaimer. It never blocks: callers hold a connection's outMu.
func (b *outboxBudget) reserve(n int64) bool {
	for {
		used := b.used.Load()
		if used+n > b.limit {
			b.kick()
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			if used+n-b.closing.Load() > b.high {
				b.kick()
			}
			return true
		}
	}
}

// live is the claims of the connections that still take frames.
func (b *outboxBudget) live() int64 { return b.used.Load() - b.closing.Load() }

// release returns n bytes to the budget.
func (b *outboxBudget) release(n int64) { b.used.Add(-n) }

func (b *outboxBudget) kick() {
	select {
	case b.wake <- struct{}{}:
	default:
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

// connClaim is one connection's claim at the time it was read.
type connClaim struct {
	c *conn
	n int64
}

// largestClaims lists the connections that claim anything, largest first.
// It takes connMu, so a caller may hold its own outMu but no connMu.
func (b *outboxBudget) largestClaims() []connClaim {
	b.srv.connMu.Lock()
	claims := make([]connClaim, 0, len(b.srv.conns))
	for c := range b.srv.conns {
		if n := c.claim.Load(); n > 0 {
			claims = append(claims, connClaim{c, n})
		}
	}
	b.srv.connMu.Unlock()
	slices.SortFunc(claims, func(x, y connClaim) int { return cmp.Compare(y.n, x.n) })
	return claims
}

// reclaim closes the connections with the largest claims until the live
// claims are under the low-water mark. A connection it closes stops counting
// at once: its queue is dropped, and what its writer holds is freed within
// budgetCloseGrace (closing).
func (b *outboxBudget) reclaim() {
	if b.live() <= b.high {
		return
	}
	closed := 0
	for _, cl := range b.largestClaims() {
		if b.live() <= b.low {
			break
		}
		if cl.c.closeForBudget(b.used.Load(), b.limit) {
			closed++
		}
	}
	if closed > 0 {
		b.srv.log.Warn("outbox budget nearly reached: closed the connections with the largest queues (1013)",
			"closed", closed, "budget_bytes", b.limit, "claimed_bytes", b.used.Load())
	}
}

// ---- the connection's side (all under c.outMu) ----

// chargeLocked changes the connection's claim by delta and the server's
// total. A positive delta that the budget refuses, even after closing the
// connections with larger claims, is not charged and chargeLocked reports
// false: the caller must not hold the memory (it closes the connection).
func (c *conn) chargeLocked(delta int) bool {
	if delta == 0 {
		return true
	}
	if delta < 0 {
		c.claim.Add(int64(delta))
		c.srv.budget.release(int64(-delta))
		c.countClosingLocked(int64(delta))
		return true
	}
	if !c.srv.budget.reserve(int64(delta)) && !c.makeRoomLocked(int64(delta)) {
		return false
	}
	c.claim.Add(int64(delta))
	c.countClosingLocked(int64(delta))
	return true
}

// countClosingLocked keeps the budget's closing total in step with the claim
// of a connection that takes no more frames.
func (c *conn) countClosingLocked(delta int64) {
	if c.closingCounted {
		c.srv.budget.closing.Add(delta)
	}
}

// markClosedLocked records that the connection takes no more frames: from
// now on its claim is on its way out and the reclaimer leaves it out
// (outboxBudget.closing).
func (c *conn) markClosedLocked() {
	c.outClosed = true
	if !c.closingCounted {
		c.closingCounted = true
		c.srv.budget.closing.Add(c.claim.Load())
	}
}

// makeRoomLocked is called when the budget refused a charge of need bytes to
// c: it closes the connections whose claims are larger than c's would be,
// largest first, cutting their sockets off at once so that their writers let
// go of their frames (those already closing are cut off too), until the
// claims with the charge are back at the reclaimer's trigger (outboxHighWater;
// the reclaimer takes them on to outboxLowWater, with grace). It reports
// whether it was charged. See the lock order at the top of this file.
//
// It reads and sorts the claims once and makes room for more than this one
// charge: a refusal comes when many connections grow at once (a broadcast to
// a thousand clients that stopped reading), and the actor delivering that
// broadcast would otherwise list and sort every connection again for each of
// them, and close one at a time (docs/benchmarks.md, issue 18).
func (c *conn) makeRoomLocked(need int64) bool {
	b := c.srv.budget
	mine := c.claim.Load() + need
	target := b.high - need
	closed := 0
	for _, cl := range b.largestClaims() {
		if cl.n <= mine || b.used.Load() <= target {
			break
		}
		v := cl.c
		if v == c || !v.outMu.TryLock() {
			continue
		}
		switch {
		case !v.outClosed:
			v.closeForBudgetLocked(b.used.Load(), b.limit, 0)
			closed++
		case v.ms != nil && !v.released:
			// Already closing, its writer still holding frames: memory is
			// short now, so it does not get the rest of its grace.
			_ = v.ms.WebsocketConnection().Close()
		}
		if v.ms != nil && !v.released {
			// Its socket is cut: the frames its writer holds are let go
			// as soon as that goroutine sees the closed socket, which is
			// what onClose would release a moment later. Releasing them
			// now is what lets the charge fit.
			v.releaseLocked()
		}
		v.outMu.Unlock()
	}
	if closed > 0 {
		b.srv.log.Warn("outbox budget reached: closed the connections with the largest queues to make room (1013)",
			"closed", closed, "budget_bytes", b.limit, "claimed_bytes", b.used.Load())
	}
	return b.reserve(need)
}

// dropQueueLocked forgets every queued frame (the client re-joins to catch up).
func (c *conn) dropQueueLocked() {
	c.chargeLocked(-c.queuedBytes)
	c.queue, c.queuedBytes = nil, 0
}

// releaseLocked returns the whole claim when the connection is gone.
func (c *conn) releaseLocked() {
	c.chargeLocked(-int(c.claim.Load()))
	c.queue, c.queuedBytes, c.inflightBytes = nil, 0, 0
	c.released = true
	c.unpollLocked()
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
// nearly reached; false if it was already closing.
func (c *conn) closeForBudget(used, limit int64) bool {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.outClosed {
		return false
	}
	c.closeForBudgetLocked(used, limit, budgetCloseGrace)
	return true
}

// closeForBudgetLocked closes the connection with 1013 for the budget and
// cuts its socket off after grace (at once for 0) unless it is gone by then.
func (c *conn) closeForBudgetLocked(used, limit int64, grace time.Duration) {
	c.srv.metrics.budgetCloses.Inc()
	// At Debug: a thousand of these come at once when a thousand clients
	// stall together, and each would be a write to the log on the goroutine
	// making room (the document's actor); the callers log one line for all.
	c.log.Debug("closing a connection: the server's outbox budget is (nearly) reached and its queue is among the largest",
		"sid", c.sid, "claimed_bytes", c.claim.Load(), "server_claimed_bytes", used, "budget_bytes", limit)
	c.closeSlowLocked("server outbox budget reached; re-join to catch up")
	ms := c.ms
	if ms == nil || c.released {
		return
	}
	if grace <= 0 {
		_ = ms.WebsocketConnection().Close()
		return
	}
	if c.hardClose == nil {
		c.hardClose = time.AfterFunc(grace, func() { _ = ms.WebsocketConnection().Close() })
	}
}
