package server

import (
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// The actor's append pipeline.
//
// A document has at most one append in flight. The actor prepares a batch
// (transforms, validates, numbers it from its version), hands the store call
// to a worker of the server's append pool (launch, appendpool.go), and goes
// back to its mailbox: presence, joins and leaves of other senders are served
// while Postgres commits, and ops that arrive meanwhile wait for the next
// append (in the mailbox, without waking the actor: pokeFor).
// The outcome comes back on cm.done, a message like any other; only then is
// the batch applied, acknowledged and broadcast (apply), in version order, so
// acks still follow durability and every socket still sees versions without
// a gap. Messages that must not overtake an op of their own sender wait
// (actor_gate.go).
//
// While an append is in flight nothing may move the document's version: the
// batch was numbered from it. So the actor does not read the bus then (its
// payloads wait in their channel, and every prepare drains them first), a
// join that would catch up from the store waits, and the lease's claims are
// taken in between appends (step). A failed append is handled as it always
// was: a lost version race catches up and prepares again, a duplicate
// (sid, seq) is acknowledged at its version, a deleted document answers
// not_found, anything else fails the batch's ops.
//
// A store whose appends never wait on I/O (the memory store: inlineAppender)
// is called by the actor itself, and the outcome is taken in at once
// (landed), as a synchronous commit would: there is no Postgres commit to
// serve the mailbox during, and the pool's hand-offs (a goroutine woken
// for the call, the actor woken for its outcome) cost more than such an
// append. The order is the same: applied, acknowledged and broadcast only
// once stored, in version order.

// commitState is the pipeline's state; only the actor goroutine touches it,
// except done, which the server's append pool (appendpool.go) sends each
// outcome on.
type commitState struct {
	queue   []*opMsg        // ops waiting for the next commit job, in arrival order
	job     *commitJob      // the ops being committed; nil when none
	flight  *flight         // the append in flight; nil when none
	done    chan appendDone // buffered 1: the outcome of the flight
	waiting []actorMsg      // messages the gate holds back, in mailbox order
	spare   []actorMsg      // release's buffer
	// gate is consulted through gateNow, which rebuilds it first when it
	// is stale (an append started or ended since): built only when a
	// message other than an op arrives, or one waits, rather than on every
	// append's start and end (three clears of its maps per append, one per
	// op under a hot document's load, where nothing but ops arrive).
	gate      orderGate
	gateStale bool
	// queued is len(queue), readable from any goroutine (as len(inbox) is):
	// the ops that reached the actor and wait for an append.
	queued atomic.Int64
}

// commitJob is one group of ops across the attempts it takes to commit
// them (lost races, duplicates, a batch split at MaxBatch).
type commitJob struct {
	todo    []*opMsg
	attempt int
}

// flight is an append sent to the store.
type flight struct {
	batch []*pending
	rest  []*opMsg // ops of the job past MaxBatch: the next append
}

// appendDone is a flight's outcome.
type appendDone struct {
	err  error
	took time.Duration
}

func newCommitState() commitState {
	return commitState{done: make(chan appendDone, 1), gate: newOrderGate()}
}

// inFlight reports whether an append is in flight.
func (a *actor) inFlight() bool { return a.cm.flight != nil }

// submitOps queues ops for the next append (pump starts it).
func (a *actor) submitOps(msgs []*opMsg) {
	for _, m := range msgs {
		a.submitOp(m)
	}
}

func (a *actor) submitOp(m *opMsg) {
	if !a.cm.gateStale { // a stale gate takes the queue in when rebuilt
		a.cm.gate.add(m, m.sid)
	}
	a.cm.queue = append(a.cm.queue, m)
	a.cm.queued.Add(1)
}

// takeQueue empties the queue and returns what it held.
func (a *actor) takeQueue() []*opMsg {
	q := a.cm.queue
	a.cm.queue = nil
	a.cm.queued.Add(-int64(len(q)))
	return q
}

// commit commits msgs and waits until they, and everything queued before
// them, are answered: the synchronous form, for shutdown and tests.
func (a *actor) commit(msgs []*opMsg) {
	a.submitOps(msgs)
	a.settle()
}

// settle runs the pipeline until nothing is queued or in flight.
func (a *actor) settle() {
	for {
		a.pump()
		if !a.inFlight() {
			return
		}
		a.landed(<-a.cm.done)
	}
}

// dispatch handles one mailbox message: ops queue for an append, anything
// else is served now unless it must wait behind its sender's unresolved
// messages (the gate).
func (a *actor) dispatch(m actorMsg) {
	if a.retired() {
		a.reject(m, a.failure())
		return
	}
	// Only a waiting delete holds ops back (the gate's barrier); with
	// nothing waiting there is none, and no need to build the gate.
	if op, ok := m.(*opMsg); ok && (len(a.cm.waiting) == 0 || !a.gateNow().barrier) {
		a.submitOp(op)
		return
	}
	g := a.gateNow()
	sid := a.senderSID(m)
	if g.blocks(m, sid, a.inFlight(), a.joinAhead(m)) {
		a.cm.waiting = append(a.cm.waiting, m)
		g.add(m, sid)
		return
	}
	switch m := m.(type) {
	case *opMsg: // only ever here after waiting behind a delete
		a.submitOp(m)
	case *joinMsg:
		a.join(m)
	case *leaveMsg:
		a.leave(m.sub)
	case *presenceMsg:
		a.presence(m)
	case *deleteMsg:
		a.markDeleted()
	}
}

// senderSID is the presence sid of m's sender, "" when it has none.
func (a *actor) senderSID(m actorMsg) string {
	switch m := m.(type) {
	case *opMsg:
		return m.sid
	case *joinMsg:
		if m.peer != nil {
			return m.peer.SID
		}
	case *presenceMsg:
		if st := a.subs[m.sub]; st != nil {
			return st.sid
		}
	case *leaveMsg:
		if st := a.subs[m.sub]; st != nil {
			return st.sid
		}
	}
	return ""
}

// joinAhead reports whether m is a join that would make the actor catch up
// from the store (join).
func (a *actor) joinAhead(m actorMsg) bool {
	j, ok := m.(*joinMsg)
	return ok && j.v != nil && a.docState != nil && *j.v > a.v && !a.srv.bus.alone
}

// pump starts the next append when none is in flight, serving first what
// waited and no longer must. With nothing in flight on return, nothing is
// queued or waiting either.
func (a *actor) pump() {
	for !a.inFlight() {
		a.release()
		if a.cm.job == nil && len(a.cm.queue) == 0 {
			return
		}
		a.step()
	}
}

// release dispatches again what waited, in order, against the gate of what
// is unresolved now: what no longer must wait is served.
func (a *actor) release() {
	c := &a.cm
	if len(c.waiting) == 0 {
		c.gateStale = true
		return
	}
	waiting := c.waiting
	c.waiting = c.spare[:0]
	// Rebuilt without the messages taken out: each is added back if it
	// must wait again.
	c.gateStale = true
	for _, m := range waiting {
		a.dispatch(m)
	}
	clear(waiting)
	c.spare = waiting[:0]
}

// gateNow returns the gate, first rebuilt if stale from what is unresolved
// now: the ops in flight, in the job and queued, and the messages waiting.
func (a *actor) gateNow() *orderGate {
	c := &a.cm
	if !c.gateStale {
		return &c.gate
	}
	c.gateStale = false
	c.gate.reset()
	if f := c.flight; f != nil {
		for _, p := range f.batch {
			c.gate.add(p.m, p.m.sid)
			for _, d := range p.dups {
				c.gate.add(d, d.sid)
			}
		}
		for _, m := range f.rest {
			c.gate.add(m, m.sid)
		}
	}
	if c.job != nil {
		for _, m := range c.job.todo {
			c.gate.add(m, m.sid)
		}
	}
	for _, m := range c.queue {
		c.gate.add(m, m.sid)
	}
	for _, m := range c.waiting {
		c.gate.add(m, a.senderSID(m))
	}
	return &c.gate
}

// between takes in, between two appends, what may move the version and so
// waits while one is in flight: a lease claim's result and a bus loss.
func (a *actor) between() {
	select {
	case r := <-a.own.claimC:
		a.onClaim(r)
	default:
	}
	select {
	case <-a.nodes.kick:
		a.onBusLost()
	default:
	}
}

// step moves the pipeline on by one stage with nothing in flight: it starts
// a job from the queue, or prepares the job's next batch and launches its
// append, or ends the job (every op answered, forwarded, or out of retries).
func (a *actor) step() {
	c := &a.cm
	if a.retired() {
		if c.job != nil {
			for _, m := range c.job.todo {
				a.reject(m, a.failure())
			}
			c.job = nil
		}
		for _, m := range a.takeQueue() {
			a.reject(m, a.failure())
		}
		return
	}
	a.between()
	if c.job == nil {
		msgs := a.route(a.takeQueue())
		if len(msgs) == 0 {
			return
		}
		for _, m := range msgs {
			if m.v > a.v {
				// Made against a version this node has not heard of yet (a
				// client of another node, a new owner): look in the store.
				a.drainBus()
				if m.v > a.v {
					a.fillGap("an op ahead of this node")
				}
				break
			}
		}
		c.job = &commitJob{todo: msgs}
		return
	}
	j := c.job
	if j.attempt >= a.cfg().CommitRetries {
		for _, m := range j.todo {
			a.replyErr(m, wire.CodeInternal, "the document is too busy; retry", nil)
		}
		c.job = nil
		return
	}
	if j.attempt > 0 {
		// A retry after a lost race: with owners, only while this node
		// still holds the lease (an owner paused past it finds a new
		// owner's ops in the store and must not commit after them).
		if j.todo = a.route(j.todo); len(j.todo) == 0 {
			c.job = nil
			return
		}
	}
	// Other nodes' commits already heard of: applying them first makes the
	// append at a fresh version, which avoids most version races.
	a.drainBus()
	if len(a.own.inbound) > 0 {
		// Ops forwarded to this owner meanwhile share the append.
		j.todo = append(j.todo, a.own.inbound...)
		a.own.inbound = nil
	}
	batch, rest := a.prepare(j.todo)
	j.todo = nil
	if len(batch) == 0 {
		c.job = nil
		return
	}
	if a.own.leaser != nil && !allREST(batch) && !a.owning() {
		// The lease ran out while the batch was prepared (the node was
		// paused): forward it instead. A pause between here and the append
		// is what the store's version check is for.
		if j.todo = a.route(append(messagesOf(batch), rest...)); len(j.todo) == 0 {
			c.job = nil
			return
		}
		j.attempt++
		return
	}
	a.launch(batch, rest)
}

// launch sends batch to the store through the server's append pool
// (appendpool.go); its outcome comes back on cm.done (landed). A store that
// appends inline is called here and its outcome landed before launch
// returns. Each store call through the pool is bounded by StoreTimeout; the
// actor never exits with one in flight.
func (a *actor) launch(batch []*pending, rest []*opMsg) {
	recs := make([]store.OpRecord, len(batch))
	for i, p := range batch {
		recs[i] = p.rec
	}
	a.cm.flight = &flight{batch: batch, rest: rest}
	// The gate is what is unresolved now: the ops prepare answered are
	// not, the forwarded ops it took in are.
	a.cm.gateStale = true
	if a.srv.inlineAppends {
		// No StoreTimeout: such a store has nothing to wait for that a
		// deadline could cut short, and a timer armed and stopped per
		// append was a twentieth of the actor's time under a hot
		// document's load. Shutdown's cancellation still reaches it.
		t0 := time.Now()
		err := a.srv.store.AppendOps(a.srv.baseCtx, a.id, a.v, recs)
		a.landed(appendDone{err: err, took: time.Since(t0)})
		return
	}
	ctx, cancel := a.storeCtx()
	a.srv.appends.submit(appendJob{ctx: ctx, cancel: cancel, doc: a.id, base: a.v, recs: recs, t0: time.Now(), done: a.cm.done})
}

// landed takes in the outcome of the append in flight: a stored batch is
// applied, acknowledged and broadcast; a failure is handled as described
// above. The job goes on (pump) with what is left.
func (a *actor) landed(d appendDone) {
	c := &a.cm
	f, j := c.flight, c.job
	c.flight = nil
	a.srv.metrics.commitLatency.Observe(d.took.Seconds())
	batch, rest, err := f.batch, f.rest, d.err
	if err == nil {
		a.apply(batch)
		if len(rest) == 0 {
			c.job = nil
			return
		}
		// More than MaxBatch ops (forwarded ones joined in): the rest is a
		// commit of its own.
		j.todo, j.attempt = rest, 0
		return
	}
	var dup *store.DuplicateError
	switch {
	case errors.As(err, &dup):
		// Another node committed one of these (a client that moved).
		// Acknowledge it as the original and retry the others.
		var todo []*opMsg
		for _, p := range batch {
			if p.m.sid == dup.SID && p.m.seq == dup.Seq && dup.Version >= 0 {
				a.replyAck(p.m, dup.Version)
				for _, d := range p.dups {
					a.replyAck(d, dup.Version)
				}
				continue
			}
			todo = append(todo, p.m)
			todo = append(todo, p.dups...)
		}
		todo = append(todo, rest...)
		if err := a.catchUp(); err != nil {
			a.failAll(todo, err)
			c.job = nil
			return
		}
		j.todo = todo
		j.attempt++
	case errors.Is(err, store.ErrConflict):
		a.srv.metrics.conflicts.Inc()
		// Two nodes retrying in lockstep would keep colliding; a short
		// random pause lets one of them through.
		time.Sleep(time.Duration(rand.Int64N(int64(time.Millisecond) << min(j.attempt, 5))))
		if err := a.catchUp(); err != nil {
			a.failAll(append(messagesOf(batch), rest...), err)
			c.job = nil
			return
		}
		j.todo = append(messagesOf(batch), rest...)
		j.attempt++
	case errors.Is(err, store.ErrNotFound):
		for _, m := range append(messagesOf(batch), rest...) {
			a.replyErr(m, wire.CodeNotFound, "no such document", err)
		}
		c.job = nil
		a.markDeleted()
	default:
		a.log.Error("appending ops failed", "ops", len(batch), "err", err)
		a.failAll(append(messagesOf(batch), rest...), err)
		c.job = nil
	}
}

// allREST reports whether every op of batch came through SubmitOp (which any
// node commits, owner or not).
func allREST(batch []*pending) bool {
	for _, p := range batch {
		if p.m.reply == nil {
			return false
		}
	}
	return true
}

// messagesOf lists the messages of batch, resubmissions included.
func messagesOf(batch []*pending) []*opMsg {
	out := make([]*opMsg, 0, len(batch))
	for _, p := range batch {
		out = append(out, p.m)
		out = append(out, p.dups...)
	}
	return out
}

func (a *actor) failAll(msgs []*opMsg, err error) {
	for _, m := range msgs {
		a.replyErr(m, wire.CodeInternal, "the op could not be stored; re-join and resubmit", err)
	}
}
