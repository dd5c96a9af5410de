package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// subState is what the actor knows of one subscriber.
type subState struct {
	mode auth.Mode
	sid  string // presence sid; "" for a subscriber that is not a peer
}

// actor owns one open document. Everything below the mailbox is touched only by
// its goroutine (run), so none of it needs a lock: the actor serialises every
// join, op and presence change of the document, which is what makes a joined
// state consistent and the broadcast order the commit order.
//
// The document itself, and every rule over it, is the pure docState
// (state.go, state_prepare.go); the actor is the mailbox, the I/O and the
// timing around it. This file has the loop and the messages' handlers; the
// rest of the actor is in actor_msg.go (what the mailbox carries),
// actor_deliver.go (handing events to subscribers), actor_store.go (the store
// reads), actor_commit.go and actor_gate.go (the append pipeline),
// actor_bus.go and actor_owner.go (other nodes).
type actor struct {
	srv   *Server
	id    string
	log   *slog.Logger
	inbox chan actorMsg
	// poke wakes the actor for its mailbox while an append is in flight,
	// when the actor does not wait on inbox itself (see post).
	poke chan struct{}
	refs int // guarded by hub.mu

	stopOnce sync.Once
	stop     chan struct{} // closed by requestStop (shutdown)
	done     chan struct{} // closed when run returns

	// Owned by the actor goroutine.
	loadErr error // the document could not be loaded: every message is answered with it
	deleted bool  // the document was deleted: every message gets not_found
	// The document's pure state (state.go), nil until loaded: content,
	// version, op window, (sid, seq) marks, presence, and the rules over
	// them.
	*docState
	subs  map[Subscriber]*subState
	nodes actorNodes  // cross-node state (actor_bus.go)
	own   ownerState  // the document's owner (actor_owner.go)
	cm    commitState // the append pipeline (actor_commit.go)

	// While holding, deliver collects events per subscriber instead of handing
	// them over one by one; releaseHeld then gives each subscriber its events
	// together (one coalesced WebSocket frame for a whole committed batch, not
	// one frame and one write per op and receiver).
	holding   bool
	holdDepth int // nested holds (holdOnce); the outermost release delivers
	held      map[Subscriber][]*Event
	heldOrder []Subscriber
	shared    SharedBatch // releaseHeld's memo of a broadcast's array frame
}

func newActor(srv *Server, id string) *actor {
	return &actor{
		srv:   srv,
		id:    id,
		log:   srv.log.With("doc", id),
		inbox: make(chan actorMsg, srv.cfg.MailboxSize),
		poke:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		subs:  make(map[Subscriber]*subState),
		cm:    newCommitState(),
	}
}

// post puts m in the mailbox, waiting while it is full. Only call it between
// hub.acquire and hub.release.
func (a *actor) post(ctx context.Context, m actorMsg) error {
	select {
	case a.inbox <- m:
		a.pokeFor(m)
		return nil
	default:
	}
	select {
	case a.inbox <- m:
		a.pokeFor(m)
		return nil
	case <-a.done:
		return fmt.Errorf("document %q: %w", a.id, ErrShuttingDown)
	case <-ctx.Done():
		return fmt.Errorf("posting to document %q: %w", a.id, ctx.Err())
	}
}

// pokeFor wakes the actor for m, posted, if m is not an op. While an append
// is in flight the actor does not wait on its mailbox but on poke: ops
// arriving then wait in the mailbox, as they would behind a synchronous
// commit, and are taken when the append lands, all at once, for the next
// append. Waking the actor for each of them (a goroutine switch and a pass
// of its select per op, under a busy document's load most ops arrive while
// an append is in flight) only moved them from the mailbox to the queue.
// Anything else (presence, joins, leaves, a delete) is served at once, as
// before: the actor takes the mailbox up to it, in order, so the ops before
// it are queued first and the gate sees them (actor_gate.go). A mailbox half
// full of ops pokes too, so that ops still move to the queue under a flood
// and the mailbox's back-pressure stays on what is past the queue.
func (a *actor) pokeFor(m actorMsg) {
	if _, op := m.(*opMsg); op && len(a.inbox) < cap(a.inbox)/2 {
		return
	}
	select {
	case a.poke <- struct{}{}:
	default: // already poked
	}
}

func (a *actor) requestStop() { a.stopOnce.Do(func() { close(a.stop) }) }

func (a *actor) cfg() *Config { return &a.srv.cfg }

func (a *actor) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(a.srv.baseCtx, a.cfg().StoreTimeout)
}

// run is the actor goroutine. It exits when it is idle with no subscribers,
// when it is retired (deleted, failed to load) and nobody can still reach it,
// or at shutdown after it has committed and answered everything in its mailbox.
func (a *actor) run() {
	defer close(a.done)
	defer a.busStop()
	a.busStart()
	a.load()
	defer a.ownStop()
	a.ownStart()

	idle := time.NewTimer(a.cfg().IdleUnload)
	defer idle.Stop()
	pres := time.NewTimer(a.cfg().PresenceInterval)
	pres.Stop()
	defer pres.Stop()
	presArmed := false
	var presLast time.Time // the last presence flush
	// The batch grows to MaxBatch only if the mailbox ever holds that many:
	// a document's messages mostly come one or two at a time, and 2,500
	// open documents' arrays of 256 were 10 MB of memory that every
	// collection scanned (docs/benchmarks.md, fleet).
	batch := make([]actorMsg, 0, 4)

	a.pump() // the ops ownStart's claim may have queued
	for {
		flying := a.inFlight()
		retired := a.loadErr != nil || a.deleted
		if retired && !flying {
			if a.srv.hub.tryExit(a) {
				return
			}
			// Someone holds a reference and is about to post: look again soon.
			idle.Reset(5 * time.Millisecond)
		}
		// While an append is in flight the version must not move: the bus
		// and the lease's claims wait (step takes them in between appends).
		// Nor is the actor woken for every op that arrives meanwhile: they
		// wait in the mailbox, and poke wakes it for anything else (post).
		busIn, busKick, claimC, inbox := a.nodes.in, a.nodes.kick, a.own.claimC, a.inbox
		if flying {
			busIn, busKick, claimC, inbox = nil, nil, nil, nil
		}
		fromBus := false
		select {
		case m := <-inbox:
			batch = a.drainInbox(append(batch[:0], m))
			a.handle(batch)
			clear(batch)
		case <-a.poke:
			a.serveInbox(batch)
		case d := <-a.cm.done:
			a.landed(d)
			// The ops that arrived while it was in flight go into the next
			// append, started below.
			a.serveInbox(batch)
		case <-pres.C:
			presArmed = false
			a.flushPresence()
			presLast = time.Now()
		case <-idle.C:
			if !retired && !flying && len(a.subs) == 0 && a.srv.hub.tryExit(a) {
				return
			}
		case <-a.stop:
			a.finish()
			return
		case in := <-busIn:
			a.onBus(in)
			fromBus = true
		case <-busKick:
			a.onBusLost()
			fromBus = true
		case <-a.nodes.beatC:
			a.onBeat()
			fromBus = true
		case r := <-claimC:
			a.onClaim(r)
			fromBus = true
		case <-a.own.tickC:
			a.onLeaseTick()
			fromBus = true
		}
		if len(a.own.inbound) > 0 && !a.inFlight() {
			// Ops forwarded to this node, the owner: they keep the
			// document loaded like its own clients' ops. Other nodes'
			// forwards already waiting, and this node's clients' ops,
			// share their append.
			fromBus = false
			a.drainBus()
			if len(a.inbox) > 0 {
				batch = a.drainInbox(batch[:0])
				a.handle(batch) // its commit takes the forwarded ops in
				clear(batch)
			}
			a.commitForwarded()
		}
		// Start the next append if none is in flight (and serve what waited
		// for the last one).
		a.pump()
		if a.docState != nil && a.presDue && !presArmed {
			// At most one presence message per interval, sent on its
			// leading edge: a change after a quiet interval goes out now
			// (a caret moved once a second no longer waits the interval
			// out), changes within an interval of the last message are
			// coalesced into the next one, sent when the interval ends.
			if wait := a.cfg().PresenceInterval - time.Since(presLast); wait > 0 {
				pres.Reset(wait)
				presArmed = true
			} else {
				a.flushPresence()
				presLast = time.Now()
			}
		}
		// Other nodes' traffic does not keep a document nobody here watches
		// loaded.
		if !retired && len(a.subs) == 0 && !fromBus {
			idle.Reset(a.cfg().IdleUnload)
		}
	}
}

// drainInbox appends to batch what is waiting in the mailbox, without
// waiting, up to MaxBatch messages.
func (a *actor) drainInbox(batch []actorMsg) []actorMsg {
	for len(batch) < a.cfg().MaxBatch {
		select {
		case m := <-a.inbox:
			batch = append(batch, m)
		default:
			return batch
		}
	}
	return batch
}

// serveInbox handles what waits in the mailbox now, in batches of up to
// batch's capacity (what arrives meanwhile may wait for the next pass).
func (a *actor) serveInbox(batch []actorMsg) {
	for n := len(a.inbox); n > 0; {
		batch = a.drainInbox(batch[:0])
		if len(batch) == 0 {
			return
		}
		n -= len(batch)
		a.handle(batch)
		clear(batch)
	}
}

// finish runs at shutdown: commit and answer what is already in the mailbox,
// send the last presence, and detach every subscriber.
func (a *actor) finish() {
	for {
		a.settle()
		batch := a.drainInbox(nil)
		if len(batch) == 0 {
			break
		}
		a.handle(batch)
	}
	a.flushPresence()
	a.srv.metrics.joined.Sub(float64(len(a.subs)))
	clear(a.subs)
}

// failure is the protocol error every message gets once the actor is retired.
func (a *actor) failure() *wire.Error {
	if a.deleted || errors.Is(a.loadErr, store.ErrNotFound) {
		return &wire.Error{Code: wire.CodeNotFound, Msg: "no such document", Doc: a.id, Err: store.ErrNotFound}
	}
	return &wire.Error{Code: wire.CodeInternal, Msg: "the document could not be loaded", Doc: a.id, Err: a.loadErr}
}

// handle processes one batch in mailbox order (dispatch): ops queue for the
// next append, anything else is served at once unless it must wait behind an
// op of its own sender (actor_gate.go).
func (a *actor) handle(batch []actorMsg) {
	for _, m := range batch {
		a.dispatch(m)
	}
}

// reject answers m with e (a retired actor answers everything this way).
func (a *actor) reject(m actorMsg, e *wire.Error) {
	switch m := m.(type) {
	case *opMsg:
		a.replyErr(m, e.Code, e.Msg, e.Err)
	case *joinMsg:
		a.deliver(m.sub, &Event{Kind: EventError, Doc: a.id, Fail: &Failure{Code: e.Code, Msg: e.Msg}, JoinFailed: true})
	case *presenceMsg:
		a.deliver(m.sub, &Event{Kind: EventError, Doc: a.id, Fail: &Failure{Code: e.Code, Msg: e.Msg}})
	case *leaveMsg:
		a.leave(m.sub)
	}
}

func (a *actor) join(m *joinMsg) {
	st := a.subs[m.sub]
	if st == nil {
		st = &subState{}
		a.subs[m.sub] = st
		a.srv.metrics.joined.Inc()
		if m.peer != nil {
			st.sid = m.peer.SID
			a.addPeer(*m.peer)
			a.ownPeerChanged(st.sid)
		}
	}
	st.mode = m.mode
	if m.v != nil && *m.v > a.v && !a.srv.bus.alone {
		// The client holds versions this node has not heard of yet (it
		// moved here from another node): catch up rather than send it
		// back in time.
		a.drainBus()
		if *m.v > a.v {
			a.fillGap("a join ahead of this node")
		}
	}
	js := &JoinState{DocType: a.typ.Name(), Mode: m.mode}
	ev := &Event{Kind: EventJoined, Doc: a.id, V: a.v, Join: js, Peers: a.peerList()}
	if m.v != nil && *m.v <= a.v && a.v-*m.v <= int64(a.cfg().MaxJoinOps) {
		ops, err := a.opsSince(*m.v)
		if err == nil {
			js.Ops = ops
			if js.Ops == nil {
				js.Ops = []store.OpRecord{}
			}
		} else if !errors.Is(err, store.ErrCompacted) {
			a.log.Warn("reading ops for a join failed; sending the text", "from", *m.v, "err", err)
		}
	}
	if js.Ops == nil {
		js.Content = a.doc.Clone() // the actor's own goes on changing
	}
	a.deliver(m.sub, ev)
}

func (a *actor) leave(sub Subscriber) {
	st, ok := a.subs[sub]
	if !ok {
		return
	}
	delete(a.subs, sub)
	a.srv.metrics.joined.Dec()
	if st.sid != "" && a.docState != nil && a.dropPeer(st.sid) {
		a.ownPeerGone(st.sid)
	}
}

func (a *actor) markDeleted() {
	for sub := range a.subs {
		sub.Deliver(&Event{Kind: EventDeleted, Doc: a.id})
	}
	a.srv.metrics.joined.Sub(float64(len(a.subs)))
	clear(a.subs)
	if a.docState != nil {
		clear(a.sidRefs)
	}
	a.deleted = true
	a.srv.hub.retire(a)
}

// presence moves the sender's selection (the state's rules, movePresence),
// reading the ops it moves through when the window no longer has them.
func (a *actor) presence(m *presenceMsg) {
	refuse := func(code, msg string) {
		a.deliver(m.sub, &Event{Kind: EventError, Doc: a.id, Fail: &Failure{Code: code, Msg: msg}})
	}
	sel, err := a.decodeSel(&m.rawSel, m.sel)
	if err != nil {
		refuse(codeForSelErr(err), "sel: "+err.Error())
		return
	}
	st := a.subs[m.sub]
	if st == nil || st.sid == "" {
		refuse(wire.CodeBadRequest, "presence: join the document first")
		return
	}
	err = a.movePresence(st.sid, m.v, sel, m.data, nil)
	if need := (*needOps)(nil); errors.As(err, &need) {
		ops, rerr := a.readOps(need.from)
		if rerr != nil {
			a.log.Warn("reading ops to transform a presence failed", "from", need.from, "err", rerr)
			refuse(wire.CodeInternal, "presence: could not read the document history")
			return
		}
		err = a.movePresence(st.sid, m.v, sel, m.data, ops)
	}
	if we := (*wire.Error)(nil); errors.As(err, &we) {
		refuse(we.Code, we.Msg)
		return
	} else if err != nil {
		refuse(wire.CodeInternal, "presence: "+err.Error())
		return
	}
	a.ownPeerChanged(st.sid)
}

func (a *actor) flushPresence() {
	a.publishPresence()
	a.deliverPresence()
}

// deliverPresence hands the presence changes since the last delivery to
// every subscriber, in one event.
func (a *actor) deliverPresence() {
	if a.docState == nil {
		return
	}
	ev := a.takePresence(a.id)
	if ev == nil {
		return
	}
	a.srv.metrics.presenceFlushs.Inc()
	for sub := range a.subs {
		a.deliver(sub, ev)
	}
}

// prepare has the state decide a batch (state_prepare.go), reading first
// what it asks of the store, and answers the ops it settled without a commit.
func (a *actor) prepare(msgs []*opMsg) (batch []*pending, rest []*opMsg) {
	r := a.planPrepare(msgs)
	a.readForPrepare(msgs, r)
	batch, rest, answers := a.docState.prepare(msgs, r, time.Now().UTC())
	for _, ans := range answers {
		if ans.err == nil {
			a.replyAck(ans.m, ans.v)
		} else {
			a.replyErr(ans.m, ans.err.Code, ans.err.Msg, ans.err.Err)
		}
	}
	return batch, rest
}

// apply makes a stored batch the actor's state, then answers the authors and
// broadcasts the ops in version order, each encoded once for every receiver.
func (a *actor) apply(batch []*pending) {
	a.srv.metrics.batchSize.Observe(float64(len(batch)))
	a.srv.metrics.opsCommitted.Add(float64(len(batch)))
	for _, p := range batch {
		// A forwarded op's author is adopted as bus ops are (applyOne).
		p.adopt = p.m.from == "" || a.nodes.remote[p.rec.SID] == p.m.from
	}
	if err := a.applyBatch(batch); err != nil {
		// prepare applied the same ops to a clone of this document.
		panic(fmt.Sprintf("document %q: a committed op no longer applies: %v", a.id, err))
	}
	a.hold()
	for _, p := range batch {
		p.ev = &Event{Kind: EventOp, Doc: a.id, V: p.rec.Version, Op: &p.rec, Sel: p.sel}
		// A forwarded op is acked by its node when it applies the
		// published commit (publishOps below).
		if p.m.from == "" {
			a.replyAck(p.m, p.rec.Version)
		}
		for _, d := range p.dups {
			if d.from == "" {
				a.replyAck(d, p.rec.Version)
			}
		}
		for sub := range a.subs {
			if sub != p.m.sub {
				a.deliver(sub, p.ev)
			}
		}
	}
	// The other nodes first: their clients' acks (of forwarded ops) wait
	// for this message, and it is durable already.
	a.publishOps(batch)
	a.releaseHeld()
}

func (a *actor) replyAck(m *opMsg, v int64) {
	if m.from != "" {
		a.replyForwarded(m, v, "", "")
		return
	}
	if m.reply != nil {
		m.reply <- opResult{v: v}
		return
	}
	a.deliver(m.sub, &Event{Kind: EventAck, Doc: a.id, V: v, Seq: m.seq})
}

func (a *actor) replyErr(m *opMsg, code, msg string, cause error) {
	if m.from != "" {
		a.replyForwarded(m, 0, code, msg)
		return
	}
	if m.reply != nil {
		m.reply <- opResult{err: &wire.Error{Code: code, Msg: msg, Doc: a.id, Seq: m.seq, Err: cause}}
		return
	}
	a.deliver(m.sub, &Event{Kind: EventError, Doc: a.id, Fail: &Failure{Code: code, Msg: msg}, Seq: m.seq})
}
