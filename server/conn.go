package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/olahol/melody"
	"golang.org/x/time/rate"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/wire"
)

// maxInflight bounds the frames handed to melody's writer and not yet written.
// It stays below melody's MessageBufferSize, so melody never drops a frame; what
// does not fit waits in the connection's own outbox, where it can be coalesced
// and where its size is bounded (see send).
const maxInflight = 4

// maxInflightBytes bounds the bytes handed to melody's writer and not yet
// written (one frame may be larger: it goes alone). Frames the writer holds
// cannot be taken back from a client that stopped reading: they are freed
// only when the socket is, so this is what one stalled connection pins
// beyond its queue, and a thousand of them pin a thousand times that.
// Coalescing into 32 KiB frames already saves almost every write a larger
// bound would (a whole committed batch of 256 typed characters is ~15 KiB).
const maxInflightBytes = 32 << 10

// keptQueueCap is the largest outbox array a connection keeps once drained.
const keptQueueCap = 64

// melodyBuffer is melody's per-session channel size: the in-flight frames plus
// room for the close frame. Nothing else writes through that channel (pings
// are written by melody's writer directly), and every idle connection holds
// the channel's slots.
const melodyBuffer = maxInflight + 2

// conn is one WebSocket connection.
//
// Goroutines: melody runs a read loop (which calls onBinary and onText in
// order) and a write goroutine (which calls onSent) per connection. The read
// loop runs on the connection's own goroutine, Server.runConn, which serveWS
// starts and Server.connWG counts (the HTTP handler returns once the socket
// is hijacked); the write goroutine is melody's, started from it. Both end
// when the socket closes. Actors call the connection's subscribers' Deliver.
//
// State: the hello fields and the rate limiters belong to the read goroutine.
// joined is guarded by joinMu; the outbox by outMu; the token's expiry by
// authMu (conn_auth.go). None of them is held while another is taken.
type conn struct {
	srv       *Server
	ms        *melody.Session // guarded by outMu; set by attach once the socket is upgraded
	principal auth.Principal  // replaced by auth (conn_auth.go, which says how it is guarded)
	authErr   error
	log       *slog.Logger
	ctx       context.Context // ends when the connection does; bounds waits on full mailboxes
	cancel    context.CancelFunc

	// Read goroutine only.
	greeted bool
	sid     string
	user    wire.User
	opLim   *rate.Limiter
	presLim *rate.Limiter
	// typeOf is c.docType as a func value, made once: a method value taken
	// per frame is an allocation per client message (docs/benchmarks.md,
	// fleet).
	typeOf func(doc string) doctype.Type

	joinMu sync.Mutex
	joined map[string]*wsSub // guarded by joinMu

	authMu   sync.Mutex
	expiry   *time.Timer // guarded by authMu; nil while the principal never expires
	authDone bool        // guarded by authMu; the socket is gone, the timer stopped

	outMu         sync.Mutex
	inflight      int      // frames given to melody, not yet written
	inflightBytes int      // their size
	queue         [][]byte // frames waiting for room in flight
	queuedBytes   int
	outClosed     bool   // no more frames are accepted (markClosedLocked)
	closeCode     int    // close frame to send once the queue is flushed
	closeReason   string // its reason
	closeSent     bool
	released      bool        // the connection is gone and its claim returned
	hardClose     *time.Timer // cuts a connection closed for the budget off after budgetCloseGrace
	// closingCounted: outClosed, and the claim is counted in the budget's
	// closing total (outbox.go).
	closingCounted bool
	// pace says whether frames wait in the outbox because the client is
	// not reading (pacing.go).
	pace pacing
	// sock is the TCP socket under the WebSocket, sampled for pacing; nil
	// without pacing. Set by attach before any frame is written, and not
	// changed after.
	sock syscall.RawConn

	// sentSinceSample is what the writer wrote since it last sampled sock
	// (at sampledAt), and sendRate its measure of the bytes written a
	// second: melody's write goroutine only (onSent).
	sentSinceSample int
	sampledAt       time.Time
	sendRate        float64

	// claim is queuedBytes + inflightBytes, plus writerBufferCost while
	// inflight > 0; written under outMu and read without it by the outbox
	// budget (outbox.go).
	claim atomic.Int64
}

func newConn(srv *Server, p auth.Principal, authErr error) *conn {
	ctx, cancel := context.WithCancel(srv.baseCtx)
	c := &conn{
		srv:       srv,
		principal: p,
		authErr:   authErr,
		log:       srv.log,
		ctx:       ctx,
		cancel:    cancel,
		opLim:     rate.NewLimiter(rate.Limit(srv.cfg.OpRate), srv.cfg.OpBurst),
		presLim:   rate.NewLimiter(rate.Limit(srv.cfg.PresenceRate), srv.cfg.PresenceBurst),
		joined:    make(map[string]*wsSub),
	}
	c.typeOf = c.docType
	return c
}

// wsSub is a connection's subscription to one document.
type wsSub struct {
	c    *conn
	doc  string
	mode auth.Mode
	// typ is the document's doctype.Type, set by the joined event (written
	// by the actor, read by the read goroutine to decode ops).
	typ atomic.Value

	// batch is DeliverBatch's reused frame list. Only the document's actor
	// delivers to a subscription, so it needs no lock.
	batch [][]byte
}

// Deliver queues the event's shared frame; it never blocks. A connection that
// cannot take it is being closed with 1013, so the actor may detach it.
func (s *wsSub) Deliver(ev *Event) bool {
	frame, ok := s.frame(ev)
	return ok && s.c.send(frame)
}

// DeliverBatch queues several events at once (the acks and ops of one
// committed batch); they go out coalesced into as few array frames as the
// size bound allows, instead of one frame and one socket write each.
func (s *wsSub) DeliverBatch(evs []*Event, shared *SharedBatch) bool {
	frames := s.batch[:0]
	defer func() { clear(frames); s.batch = frames[:0] }() // keep the slice, not the frames
	for _, ev := range evs {
		frame, ok := s.frame(ev)
		if !ok {
			return false
		}
		frames = append(frames, frame)
	}
	return s.c.sendAll(frames, func() []byte { return shared.Frame(evs, frames) })
}

// frame does what receiving ev means for the subscription and returns its
// shared frame; false means the connection is being closed.
func (s *wsSub) frame(ev *Event) ([]byte, bool) {
	switch {
	case ev.Kind == EventDeleted, ev.Kind == EventError && ev.JoinFailed:
		s.c.forget(s)
	case ev.Kind == EventJoined:
		if t, err := doctype.Lookup(ev.joinState().DocType); err == nil {
			s.typ.Store(t)
		}
	}
	if ev.Kind == EventError || ev.Kind == EventDeleted {
		code := ev.failure().Code
		if ev.Kind == EventDeleted {
			code = wire.CodeDeleted
		}
		s.c.srv.metrics.errors.WithLabelValues(code).Inc()
	}
	frame, err := ev.Frame()
	if err != nil {
		s.c.log.Error("encoding an event failed", "doc", s.doc, "kind", ev.Kind, "err", err)
		s.c.closeWith(melody.CloseInternalServerErr, "internal error")
		return nil, false
	}
	return frame, true
}

// forget drops s from the joined set if it is still the current subscription.
func (c *conn) forget(s *wsSub) {
	c.joinMu.Lock()
	if c.joined[s.doc] == s {
		delete(c.joined, s.doc)
	}
	c.joinMu.Unlock()
}

// ---- outbound ----

// send queues one encoded frame. It never blocks: when the outbox is over its
// bounds the connection is closed with 1013 (the client re-joins with its v and
// catches up) and send reports false, so that no frame is ever dropped without
// the client knowing.
func (c *conn) send(frame []byte) bool {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.outClosed {
		return false
	}
	if len(c.queue) == 0 && c.writerHasRoomLocked() {
		return c.writeLocked(frame)
	}
	return c.enqueueLocked(frame)
}

// sendAll queues frames in order and lets the pump coalesce them: when the
// writer has room they leave at once as one array frame (within
// CoalesceMaxBytes). Like send it never blocks, and over the outbox bounds it
// closes the connection with 1013 and reports false. shared, when not nil,
// returns that array frame of all the frames encoded once for every
// connection given the same ones (a broadcast): it is used when nothing
// waits before them and they fit in one write, which is when the pump would
// have built the same frame for this connection alone.
func (c *conn) sendAll(frames [][]byte, shared func() []byte) bool {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.outClosed {
		return false
	}
	if shared != nil && len(frames) > 1 && len(c.queue) == 0 && c.ms != nil && c.writerHasRoomLocked() {
		size := 0
		for _, f := range frames {
			size += len(f)
		}
		if size <= min(c.srv.cfg.CoalesceMaxBytes, maxInflightBytes-c.inflightBytes) {
			c.srv.metrics.coalesced.Inc()
			return c.writeLocked(shared())
		}
	}
	for _, f := range frames {
		if !c.enqueueLocked(f) {
			return false
		}
	}
	c.pumpLocked()
	return !c.outClosed
}

// enqueueLocked puts a frame in the outbox, or closes the connection with
// 1013 when that would exceed the outbox bounds.
func (c *conn) enqueueLocked(frame []byte) bool {
	if c.queuedBytes+len(frame) > c.srv.cfg.OutboxMaxBytes || len(c.queue) >= c.srv.cfg.OutboxMaxFrames {
		c.log.Info("closing a connection that cannot keep up", "sid", c.sid, "queued_frames", len(c.queue), "queued_bytes", c.queuedBytes)
		c.closeSlowLocked("cannot keep up; re-join to catch up") // the client catches up by re-joining
		return false
	}
	if !c.chargeLocked(len(frame)) {
		c.closeRefusedLocked(len(frame))
		return false
	}
	c.queue = append(c.queue, frame)
	c.queuedBytes += len(frame)
	if c.pace.paced && !c.pace.polled {
		c.pollLocked(time.Now())
	}
	return true
}

// writeLocked hands a frame to melody's writer. melody's buffer always has room
// (inflight < melodyBuffer), so WriteBinary only fails on a closed session.
func (c *conn) writeLocked(frame []byte) bool {
	cost := c.handOverCostLocked(len(frame))
	if !c.chargeLocked(cost) {
		c.closeRefusedLocked(cost)
		return false
	}
	if err := c.ms.WriteBinary(frame); err != nil {
		c.chargeLocked(-cost)
		c.markClosedLocked()
		return false
	}
	c.inflight++
	c.inflightBytes += len(frame)
	return true
}

// handOverCostLocked is what handing a frame of n bytes to the writer adds
// to the claim: the frame, and the writer's buffer if it held nothing.
func (c *conn) handOverCostLocked(n int) int {
	if c.inflight == 0 {
		return n + writerBufferCost
	}
	return n
}

// closeRefusedLocked closes the connection whose charge of n bytes the
// outbox budget refused even after closing the larger claims (outbox.go):
// its socket is cut off at once, as memory is short.
func (c *conn) closeRefusedLocked(n int) {
	c.log.Info("closing a connection: the server's outbox budget refused its frame", "sid", c.sid, "frame_bytes", n, "claimed_bytes", c.claim.Load())
	c.closeForBudgetLocked(c.srv.budget.used.Load(), c.srv.budget.limit, 0)
}

// onSent runs on melody's write goroutine after a binary frame was written: it
// moves what waits in the queue into the freed slot, coalesced into one array
// frame.
func (c *conn) onSent(frame []byte) {
	c.srv.metrics.messagesSent.Inc()
	sample, sampled := c.sampleAfterWrite(len(frame))
	rate := c.sendRate
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.released {
		return // melody's writer may finish a frame after the disconnect
	}
	if sampled {
		c.observeLocked(sample, len(frame), rate, time.Now())
	}
	c.inflight--
	c.inflightBytes -= len(frame)
	freed := len(frame)
	if c.inflight == 0 {
		freed += writerBufferCost
	}
	c.chargeLocked(-freed)
	c.pumpLocked()
}

// attach records the upgraded session and sends a close requested before it
// existed (Shutdown racing the upgrade).
func (c *conn) attach(ms *melody.Session) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	c.ms = ms
	if c.srv.cfg.OutboxPacing {
		if tc := tcpConnOf(ms.WebsocketConnection().NetConn()); tc != nil {
			c.sock = rawConnOf(tc)
		}
	}
	c.pumpLocked()
}

// session is the melody session, nil before the upgrade completed.
func (c *conn) session() *melody.Session {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	return c.ms
}

// pumpLocked hands what waits in the queue to the writer, coalesced, as far
// as the writer has room and the connection is not paced; then the close
// frame if one is due.
func (c *conn) pumpLocked() { c.pumpFramesLocked(false) }

// pumpFramesLocked is pumpLocked; with probe, it hands over the queue's
// first frame alone, paced or not (the pacer's probe, pacing.go).
func (c *conn) pumpFramesLocked(probe bool) {
	if c.ms == nil {
		return
	}
	for (probe || c.writerHasRoomLocked()) && len(c.queue) > 0 {
		n, size := 0, 0
		limit := min(c.srv.cfg.CoalesceMaxBytes, maxInflightBytes-c.inflightBytes)
		if probe {
			limit, probe = 0, false // the first frame only, and once
		}
		for n < len(c.queue) && (n == 0 || size+len(c.queue[n]) <= limit) {
			size += len(c.queue[n])
			n++
		}
		frame := wire.EncodeBatch(c.queue[:n])
		// The queued frames' claim becomes the writer's: the coalesced copy
		// (a few bytes more) and the writer's buffer if it held nothing.
		if cost := c.handOverCostLocked(len(frame)) - size; !c.chargeLocked(cost) {
			c.closeRefusedLocked(cost)
			return
		}
		if n > 1 {
			c.srv.metrics.coalesced.Inc()
		}
		sent := c.queue
		clear(c.queue[:n])
		c.queue = c.queue[n:]
		c.queuedBytes -= size
		if len(c.queue) == 0 {
			// Start again at the front of the same (small) array: a queue that
			// fills and drains every commit would otherwise grow a new one
			// each time. A large one, left by a backlog, is let go.
			c.queue = nil
			if cap(sent) <= keptQueueCap {
				c.queue = sent[:0]
			}
		}
		if c.ms.WriteBinary(frame) != nil {
			c.chargeLocked(-c.handOverCostLocked(len(frame)))
			c.dropQueueLocked()
			return
		}
		c.inflight++
		c.inflightBytes += len(frame)
	}
	if c.closeCode != 0 && len(c.queue) == 0 && !c.closeSent {
		c.closeSent = true
		_ = c.ms.CloseWithMsg(melody.FormatCloseMessage(c.closeCode, c.closeReason))
	}
}

// writerHasRoomLocked reports whether another frame may be handed to the
// writer: the connection is not paced (pacing.go), and fewer than
// maxInflight frames and maxInflightBytes bytes (or none) are waiting there.
func (c *conn) writerHasRoomLocked() bool {
	return !c.pace.paced && (c.inflight == 0 || (c.inflight < maxInflight && c.inflightBytes < maxInflightBytes))
}

// closeWith closes the connection with code after every frame already queued.
func (c *conn) closeWith(code int, reason string) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	c.closeLocked(code, reason)
}

func (c *conn) closeLocked(code int, reason string) {
	if c.closeCode != 0 {
		return
	}
	c.markClosedLocked()
	c.closeCode, c.closeReason = code, reason
	c.cancel()
	c.pumpLocked()
}

// sendMsg encodes and queues a message for this connection only.
func (c *conn) sendMsg(m wire.Message) {
	frame, err := wire.Encode(m)
	if err != nil {
		c.log.Error("encoding a message failed", "type", m.Type(), "err", err)
		c.closeWith(melody.CloseInternalServerErr, "internal error")
		return
	}
	c.send(frame)
}

func (c *conn) sendError(code, msg, doc string, seq int64) {
	c.srv.metrics.errors.WithLabelValues(code).Inc()
	c.sendMsg(&wire.Error{Code: code, Msg: msg, Doc: doc, Seq: seq})
}

// ---- inbound (melody's read goroutine) ----

// onOpen runs once the socket is upgraded, before any frame is read.
func (c *conn) onOpen() {
	if c.authErr != nil {
		c.sendError(wire.CodeUnauthorized, c.authErr.Error(), "", 0)
		c.closeWith(melody.ClosePolicyViolation, "unauthorized")
		return
	}
	c.armExpiry()
}

func (c *conn) onText() {
	c.closeWith(melody.CloseUnsupportedData, "frames must be binary MessagePack")
}

// onBinary decodes and routes one client frame. A panic here is a bug: it is
// logged with its stack and closes this connection only.
func (c *conn) onBinary(frame []byte) {
	defer func() {
		if r := recover(); r != nil {
			c.srv.metrics.panics.Inc()
			c.log.Error("panic while handling a frame; closing the connection", "panic", r, "stack", string(debug.Stack()))
			c.closeWith(melody.CloseInternalServerErr, "internal error")
		}
	}()
	if c.authErr != nil || c.ctx.Err() != nil {
		return
	}
	lim := c.srv.limits
	lim.TypeOf = c.typeOf
	msg, err := wire.DecodeClient(frame, lim)
	if err != nil {
		var de *wire.Error
		if errors.As(err, &de) {
			c.sendError(de.Code, de.Msg, de.Doc, de.Seq)
		} else {
			c.sendError(wire.CodeBadRequest, err.Error(), "", 0)
		}
		return
	}
	if h, ok := msg.(*wire.Hello); ok {
		c.hello(h)
		return
	}
	if !c.greeted {
		c.sendError(wire.CodeBadRequest, "send hello first", "", 0)
		return
	}
	switch m := msg.(type) {
	case *wire.Join:
		c.join(m)
	case *wire.Leave:
		c.leave(m)
	case *wire.Op:
		c.op(m)
	case *wire.Presence:
		c.presence(m)
	case *wire.Auth:
		c.auth(m)
	default:
		c.sendError(wire.CodeBadRequest, fmt.Sprintf("unexpected message %q", msg.Type()), "", 0)
	}
}

func (c *conn) hello(h *wire.Hello) {
	if c.greeted {
		c.sendError(wire.CodeBadRequest, "hello was already sent", "", 0)
		return
	}
	if h.Proto != wire.ProtoVersion {
		c.sendError(wire.CodeBadRequest, fmt.Sprintf("unsupported protocol version %d (this server speaks %d)", h.Proto, wire.ProtoVersion), "", 0)
		return
	}
	c.greeted = true
	c.sid = h.SID
	c.user = c.principal.SessionUser(h.SID, h.User)
	c.sendMsg(&wire.Welcome{Proto: wire.ProtoVersion, SID: c.sid, User: c.user})
}

// docType is the type of a joined document, for decoding its ops and
// selections; nil before its joined event (or with no join), which makes the
// decoder keep them raw for the actor, which knows its type, to decode.
func (c *conn) docType(doc string) doctype.Type {
	if s := c.sub(doc); s != nil {
		if t, ok := s.typ.Load().(doctype.Type); ok {
			return t
		}
	}
	return nil
}

func (c *conn) sub(doc string) *wsSub {
	c.joinMu.Lock()
	defer c.joinMu.Unlock()
	return c.joined[doc]
}

func (c *conn) join(m *wire.Join) {
	mode := c.principal.Access(m.Doc)
	if mode == auth.ModeNone {
		c.sendError(wire.CodeForbidden, "no access to this document", m.Doc, 0)
		return
	}
	c.joinMu.Lock()
	s := c.joined[m.Doc]
	if s == nil {
		s = &wsSub{c: c, doc: m.Doc}
		c.joined[m.Doc] = s
	}
	s.mode = mode
	c.joinMu.Unlock()
	peer := &wire.PeerInfo{SID: c.sid, User: c.user}
	if _, err := c.srv.hub.send(c.ctx, m.Doc, &joinMsg{sub: s, v: m.V, mode: mode, peer: peer}); err != nil {
		c.forget(s)
		c.postFailed(m.Doc, 0, err)
	}
}

func (c *conn) leave(m *wire.Leave) {
	s := c.sub(m.Doc)
	if s == nil {
		return // leaving twice is harmless
	}
	c.forget(s)
	if _, err := c.srv.hub.send(c.ctx, m.Doc, &leaveMsg{sub: s}); err != nil {
		c.postFailed(m.Doc, 0, err)
	}
}

func (c *conn) op(m *wire.Op) {
	s := c.sub(m.Doc)
	if s == nil {
		c.sendError(wire.CodeBadRequest, "join the document first", m.Doc, m.Seq)
		return
	}
	if s.mode != auth.ModeReadWrite {
		c.sendError(wire.CodeForbidden, "read-only access to this document", m.Doc, m.Seq)
		return
	}
	if !c.opLim.Allow() {
		c.sendError(wire.CodeRateLimited, "too many ops; slow down", m.Doc, m.Seq)
		return
	}
	msg := &opMsg{sub: s, v: m.V, seq: m.Seq, sid: c.sid, userID: c.user.ID, op: m.Op, sel: m.Sel}
	if m.Raw != nil {
		msg.rawOp, msg.rawSel = m.Raw.Op, m.Raw.Sel
	}
	if _, err := c.srv.hub.send(c.ctx, m.Doc, msg); err != nil {
		c.postFailed(m.Doc, m.Seq, err)
	}
}

func (c *conn) presence(m *wire.Presence) {
	s := c.sub(m.Doc)
	if s == nil {
		c.sendError(wire.CodeBadRequest, "join the document first", m.Doc, 0)
		return
	}
	if !c.presLim.Allow() {
		c.sendError(wire.CodeRateLimited, "too many presence updates; slow down", m.Doc, 0)
		return
	}
	msg := &presenceMsg{sub: s, v: m.V, sel: m.Sel, data: m.Data}
	if m.Raw != nil {
		msg.rawSel = m.Raw.Sel
	}
	if _, err := c.srv.hub.send(c.ctx, m.Doc, msg); err != nil {
		c.postFailed(m.Doc, 0, err)
	}
}

// postFailed answers a message the actor could not be given.
func (c *conn) postFailed(doc string, seq int64, err error) {
	if c.ctx.Err() != nil {
		return // the connection is closing; nobody would read the answer
	}
	c.sendError(wire.CodeInternal, "the server is shutting down; reconnect", doc, seq)
	c.log.Debug("posting to a document failed", "doc", doc, "err", err)
}

// onClose runs after the socket is gone: detach from every document.
func (c *conn) onClose() {
	c.stopExpiry()
	c.outMu.Lock()
	c.markClosedLocked()
	c.releaseLocked()
	c.outMu.Unlock()
	c.cancel()
	c.joinMu.Lock()
	subs := make([]*wsSub, 0, len(c.joined))
	for _, s := range c.joined {
		subs = append(subs, s)
	}
	clear(c.joined)
	c.joinMu.Unlock()
	for _, s := range subs {
		// Only a loaded actor can hold the subscription; do not load one to
		// say goodbye.
		if _, err := c.srv.hub.sendLoaded(c.srv.baseCtx, s.doc, &leaveMsg{sub: s}); err != nil {
			c.log.Debug("detaching a closed connection failed", "doc", s.doc, "err", err)
		}
	}
}
