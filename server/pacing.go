package server

import (
	"sync"
	"syscall"
	"time"
)

// Pacing: a connection whose client has stopped reading stops being handed
// frames long before the kernel's buffers for it are full.
//
// Until a stalled client's socket is full (its receive buffer and our send
// buffer: ~250 KiB on loopback with the test's 64 KiB buffers), every frame
// broadcast to it is written, by its melody writer goroutine, which each
// broadcast wakes. A thousand such clients on a busy document cost a thousand
// wake-ups and socket writes per broadcast for the first half second, and
// the readers' ops wait behind them in the Go run queues (docs/benchmarks.md,
// issue 18, "The first second, traced"). Shrinking the buffers shortens that
// but costs every client's throughput over a long round trip.
//
// So the writer samples its socket (TCP_INFO) every paceSampleBytes it
// writes and reads its backlog: what the kernel holds that the client has
// not been seen to consume, i.e. the bytes not yet acknowledged (in flight or
// unsent) plus what the client's advertised window lost against the largest
// it advertised (acknowledged, but left unread in its buffer). A client that
// reads acknowledges within a round trip (Linux ACKs every second segment at
// once while its application keeps reading), so its backlog stays near what
// it sends in a round trip; one that does not read stops acknowledging (a
// Linux receiver whose window cannot advance delays its ACKs) and its window
// shrinks, so its backlog grows by everything written to it. Past
// paceMinBacklog plus what the connection is sent in its round trip (the
// least seen lately: a client that delays its ACKs because it does not read
// inflates the smoothed one) and paceSlack (at the rate measured by the
// writer), the connection is paced:
// no more frames are handed to its writer, they wait in its outbox, where the
// outbox bounds and the budget count them (and close the connection with 1013
// when they pass them, as for any slow reader), and broadcasts no longer wake
// its writer. The pacer goroutine samples the paced connections that hold
// frames, at paceFirstCheck and then less often while nothing moves (up to
// paceMaxCheck), and hands their frames over again once the backlog is under
// half of what paced it: the kernel still holds data to send then, so a
// client far away that was only slow for a moment does not see its pipe run
// dry. A client that reads again acknowledges what it got (at once, or within
// its delayed-ACK timer), and a Linux receiver announces a window that a read
// doubled. In case a receiver does not (another stack, or a window that
// shrank for its own reasons, not for unread data), a paced connection whose
// kernel holds nothing unacknowledged is handed one frame every
// paceProbeAfter: once that frame is acknowledged, a window that did not
// shrink by it says the client read it, and the window it shows now becomes
// its reference.
//
// Frames never skip or pass one another: pacing only decides when the
// outbox's head is handed to the writer. Without TCP_INFO (not Linux) nothing
// is paced.

const (
	// paceSampleBytes is how much a connection's writer writes between two
	// samples of its socket.
	paceSampleBytes = 8 << 10
	// paceMinBacklog is the least backlog that paces a connection: what a
	// writer may hand over at once (maxInflightBytes), which a client that
	// reads may hold unacknowledged for a moment.
	paceMinBacklog = maxInflightBytes
	// paceSlack is added to the round trip in the rate-tied part of the
	// threshold: a client's scheduling and delayed ACKs.
	paceSlack = 20 * time.Millisecond
	// paceFirstCheck and paceMaxCheck bound the interval between the
	// pacer's samples of a paced connection (doubling from the first while
	// its backlog does not shrink).
	paceFirstCheck = 5 * time.Millisecond
	paceMaxCheck   = 100 * time.Millisecond
	// paceProbeAfter is how long a paced connection waits before one frame
	// is handed over anyway, to get a fresh window (see above).
	paceProbeAfter = 100 * time.Millisecond
	// paceTick is the pacer's period while it has connections to check.
	paceTick = paceFirstCheck
)

// tcpSample is what the kernel reports of a connection's peer.
type tcpSample struct {
	wnd     uint32        // the receive window the peer advertised last, in bytes
	unacked uint32        // bytes sent and not acknowledged
	notsent uint32        // bytes written and not sent yet
	rtt     time.Duration // the least round trip seen lately
}

// idle reports that everything written was acknowledged.
func (s tcpSample) idle() bool { return s.unacked == 0 && s.notsent == 0 }

// pacing is a connection's pacing state, guarded by its outMu.
type pacing struct {
	maxWnd uint32 // the largest window the peer advertised: its reference
	paced  bool   // frames wait in the outbox, not in the writer
	// at is the backlog that paced the connection; under half of it the
	// frames go again.
	at     int64
	polled bool // in the pacer's set
	// next is when the pacer samples the connection next, every the
	// interval after that; last the backlog it saw.
	next  time.Time
	every time.Duration
	last  int64
	// since is when the connection was paced or last probed.
	since time.Time
	// probing: a probe frame was handed over while the peer advertised
	// probeWnd, and has not been seen acknowledged yet.
	probing  bool
	probeWnd uint32
}

// paceThreshold is the backlog that paces a connection sent rate bytes a
// second over a round trip of rtt.
func paceThreshold(rate float64, rtt time.Duration) int64 {
	return paceMinBacklog + int64(rate*(rtt+paceSlack).Seconds())
}

// observe takes a sample of the socket and reports whether the connection is
// paced after it (the rule above). justWritten is what the writer wrote just
// before the sample (0 for the pacer's), which is in flight by right and not
// counted; rate is the writer's measure of what the connection is sent a
// second.
func (p *pacing) observe(s tcpSample, justWritten int, rate float64) bool {
	if p.probing && s.idle() {
		p.probing = false
		if s.wnd >= p.probeWnd {
			// The client took the probe: it reads, and its window is
			// smaller for reasons of its own.
			p.maxWnd = s.wnd
		}
	}
	p.maxWnd = max(p.maxWnd, s.wnd)
	backlog := int64(p.maxWnd-s.wnd) + int64(s.unacked) + int64(s.notsent)
	if p.paced {
		p.paced = backlog >= p.at/2
		return p.paced
	}
	if at := paceThreshold(rate, s.rtt); backlog-int64(justWritten) >= at {
		p.paced, p.at = true, at
	}
	return p.paced
}

// pacer is the goroutine that samples the paced connections holding frames
// and hands their frames over again when their clients read; the Server owns
// it and stops it in Shutdown.
type pacer struct {
	srv   *Server
	mu    sync.Mutex
	conns map[*conn]struct{} // guarded by mu; each with pace.polled set
	wake  chan struct{}      // capacity 1
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newPacer(srv *Server) *pacer {
	p := &pacer{srv: srv, conns: make(map[*conn]struct{}),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

// add puts c in the set; the caller holds c.outMu (the lock order: a
// connection's outMu, then the pacer's mu).
func (p *pacer) add(c *conn) {
	p.mu.Lock()
	p.conns[c] = struct{}{}
	first := len(p.conns) == 1
	p.mu.Unlock()
	if first {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// remove takes c out of the set; the caller holds c.outMu.
func (p *pacer) remove(c *conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// close stops the pacer and waits for it; safe to call more than once.
func (p *pacer) close() {
	p.once.Do(func() { close(p.stop) })
	<-p.done
}

func (p *pacer) run() {
	defer close(p.done)
	t := time.NewTimer(paceTick)
	defer t.Stop()
	var batch []*conn
	for {
		p.mu.Lock()
		n := len(p.conns)
		p.mu.Unlock()
		var tick <-chan time.Time
		if n > 0 {
			t.Reset(paceTick)
			tick = t.C
		}
		select {
		case <-p.stop:
			return
		case <-p.wake:
		case <-tick:
			batch = p.pass(batch[:0])
		}
	}
}

// pass samples every connection in the set whose time has come.
func (p *pacer) pass(batch []*conn) []*conn {
	p.mu.Lock()
	for c := range p.conns {
		batch = append(batch, c)
	}
	p.mu.Unlock()
	now := time.Now()
	for i, c := range batch {
		c.recheckPace(now)
		batch[i] = nil
	}
	return batch
}

// ---- the connection's side ----

// sampleAfterWrite runs on the connection's writer goroutine after a frame of
// n bytes was written: every paceSampleBytes it samples the socket, outside
// outMu (a system call). ok is false when it did not.
func (c *conn) sampleAfterWrite(n int) (s tcpSample, ok bool) {
	if c.sock == nil {
		return tcpSample{}, false
	}
	c.sentSinceSample += n
	if c.sentSinceSample < paceSampleBytes {
		return tcpSample{}, false
	}
	now := time.Now()
	if dt := now.Sub(c.sampledAt).Seconds(); !c.sampledAt.IsZero() && dt > 0 {
		c.sendRate = (c.sendRate + float64(c.sentSinceSample)/dt) / 2
	}
	c.sentSinceSample, c.sampledAt = 0, now
	return sampleSocket(c.sock)
}

// observeLocked applies a sample taken by the writer: the connection may
// become paced.
func (c *conn) observeLocked(s tcpSample, justWritten int, rate float64, now time.Time) {
	was := c.pace.paced
	if !c.pace.observe(s, justWritten, rate) || was {
		return
	}
	c.srv.metrics.paced.Inc()
	c.pace.since = now
	c.pace.every = paceFirstCheck
	c.pollLocked(now)
}

// pollLocked puts a paced connection that holds frames in the pacer's set.
func (c *conn) pollLocked(now time.Time) {
	if !c.pace.paced || c.pace.polled || len(c.queue) == 0 || c.released {
		return
	}
	c.pace.polled = true
	c.pace.every = max(c.pace.every, paceFirstCheck)
	c.pace.next = now.Add(c.pace.every)
	c.srv.pacer.add(c)
}

// unpollLocked takes the connection out of the pacer's set.
func (c *conn) unpollLocked() {
	if c.pace.polled {
		c.pace.polled = false
		c.srv.pacer.remove(c)
	}
}

// recheckPace is the pacer's sample of a paced connection: it hands its
// frames over again if its client has read, or a probe if it waited long.
func (c *conn) recheckPace(now time.Time) {
	c.outMu.Lock()
	if c.pace.next.After(now) {
		c.outMu.Unlock()
		return
	}
	sock := c.sock
	c.outMu.Unlock()
	s, ok := sampleSocket(sock)
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if !c.pace.polled {
		return
	}
	if c.released || c.ms == nil || !ok {
		c.pace.paced = false
		c.unpollLocked()
		return
	}
	if !c.pace.observe(s, 0, 0) {
		c.unpollLocked()
		c.pumpLocked()
		return
	}
	backlog := int64(c.pace.maxWnd-s.wnd) + int64(s.unacked) + int64(s.notsent)
	if len(c.queue) == 0 {
		c.unpollLocked() // nothing to hand over; the next frame polls it again
		return
	}
	// No probe for a closed window: the client's kernel announces its
	// opening by itself (from 0, any read doubles it).
	if c.inflight == 0 && s.wnd > 0 && s.idle() && !c.pace.probing && now.Sub(c.pace.since) >= paceProbeAfter {
		c.pace.probing, c.pace.probeWnd, c.pace.since = true, s.wnd, now
		c.pumpFramesLocked(true)
	}
	if backlog < c.pace.last {
		c.pace.every = paceFirstCheck // it moves: look again soon
	} else {
		c.pace.every = min(2*c.pace.every, paceMaxCheck)
	}
	c.pace.last = backlog
	c.pace.next = now.Add(c.pace.every)
}

// rawConnOf is the raw socket of a TCP connection, or nil.
func rawConnOf(tc interface {
	SyscallConn() (syscall.RawConn, error)
}) syscall.RawConn {
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}
