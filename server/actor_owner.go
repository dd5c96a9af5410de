package server

import (
	"context"
	"time"

	"github.com/tandem-collab/tandem/bus"
)

// One owner per document (Config.Leases set).
//
// Of the nodes that have a document open, the one holding its lease (bus/lease.go)
// sequences it: its actor is the only one that appends the ops of WebSocket
// clients to the store. The other nodes' actors forward their clients' ops to
// it over the bus (busForward, on the owner's own topic of the document,
// nodeTopic, so that the other non-owners do not receive them; replies go
// to the forwarding node's the same way) and learn the outcome
// from what the owner publishes anyway: the commit itself (busOps, which every
// node applies in version order, so the forwarding node acks its client at
// the moment it applies that version), or a reply (busReply) for an op that
// was refused or was a duplicate. So an ack is only ever sent for a version
// the owner has stored, and a client's acks and the ops it receives come in
// version order, with no gap, whichever node it is connected to.
//
// Forwarded ops keep their order: each node numbers its forwarded ops per
// document (fseq) and sends, with every forward, the lowest fseq still
// waiting for an outcome (low). The owner takes a node's ops only in fseq
// order: an op past the next one it expects reveals a lost forward and is
// dropped, and the forwarding node sends everything still waiting again (at
// a change of owner, after a bus loss, and when nothing was resolved for a
// lease tick). An op sent again that was already committed is found by its
// (sid, seq) and answered as a duplicate: exactly once.
//
// The lease is claimed at load and then every lease tick (a third of the
// lease's TTL, itself half of PresenceTTL) by a goroutine of the actor's
// (claimer), so that a commit waiting on a slow store does not let the lease
// lapse: the holder extends it, the others find out who holds it and take it
// when it expired. The owner commits only
// while its lease is valid by its own clock (ttl*3/4 after the claim was
// sent); past that its clients' ops wait like everyone's. The store's version
// check stays the last guard: an old owner that was paused between its check
// and its append finds the document at another version and catches up. A node
// that takes the lease catches up from the store before it commits anything,
// announces itself (busOwner) so that the others send it what they have
// waiting, and then commits its own clients' waiting ops.
//
// REST ops (SubmitOp, which waits for the answer in the caller) are committed
// by the node that received them, owner or not, through the store's version
// check as before owners existed: they are rare, and it keeps them free of a
// round trip through the bus.

// ownerState is an actor's view of its document's ownership. Everything in it
// belongs to the actor goroutine, except the channels it shares with its
// claimer goroutine (claimC, claimKick, claimStop, claimDone).
type ownerState struct {
	leaser bus.Leaser // nil: no owners; every node commits, the store orders them
	ttl    time.Duration
	tick   *time.Ticker
	tickC  <-chan time.Time // nil (never ready) without a leaser

	// The claimer (claimer) claims every tick on its own goroutine, so that
	// an actor busy in a slow commit does not let its lease lapse.
	claimC    chan claimResult // buffered 1: the latest result
	claimKick chan struct{}    // buffered 1: claim now
	claimStop chan struct{}    // closed by ownStop
	claimDone chan struct{}    // closed when the claimer returns

	holder     bus.Lease // the holder last heard of; Node "" when unknown
	mine       bool      // this node took the lease under holder.Token
	announce   bool      // mine: tell the other nodes at the next successful claim
	validUntil time.Time // mine: the lease is surely ours until then

	// Forwarding side: this node's clients' ops sent to the owner, in the
	// order they were submitted, waiting for their outcome.
	fwd        []fwdOp
	fwdNext    int64     // the next fseq
	progressAt time.Time // when something in fwd was last resolved, or fwd stopped being empty

	// Owning side.
	expect  map[string]int64 // per forwarding node, the next fseq taken
	inbound []*opMsg         // forwarded ops accepted, to commit after the current message
}

type fwdOp struct {
	m *opMsg
	f int64
}

type claimResult struct {
	l       bus.Lease
	err     error
	started time.Time
}

func (a *actor) leaseTTL() time.Duration { return max(a.cfg().PresenceTTL/2, 3*time.Millisecond) }

// ownStart sets up the ownership state and makes the first claim, in line,
// so that the document's first ops know where to go (run, after load).
func (a *actor) ownStart() {
	o := &a.own
	o.leaser = a.srv.cfg.Leases
	if o.leaser == nil || a.srv.bus.alone || a.retired() {
		o.leaser = nil
		return
	}
	o.ttl = a.leaseTTL()
	o.claimC = make(chan claimResult, 1)
	o.claimKick = make(chan struct{}, 1)
	o.claimStop = make(chan struct{})
	o.claimDone = make(chan struct{})
	o.expect = make(map[string]int64)
	o.tick = time.NewTicker(o.ttl / 3)
	o.tickC = o.tick.C
	ctx, cancel := context.WithTimeout(a.srv.baseCtx, min(o.ttl, 2*time.Second))
	defer cancel()
	started := time.Now()
	l, err := o.leaser.Claim(ctx, a.id, a.srv.bus.bus.Node(), o.ttl)
	go a.claimer(o.leaser, a.id, a.srv.bus.bus.Node(), o.ttl, o.claimC, o.claimKick, o.claimStop, o.claimDone)
	a.onClaim(claimResult{l: l, err: err, started: started})
}

// claimer is the actor's claim goroutine: it claims every third of the
// lease's TTL (and when kicked) and hands the latest result to the actor,
// replacing one the actor has not taken yet. It stops when stop is closed;
// a claim in progress ends within its timeout first.
func (a *actor) claimer(leaser bus.Leaser, doc, node string, ttl time.Duration, out chan claimResult, kick, stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		case <-kick:
		}
		ctx, cancel := context.WithTimeout(a.srv.baseCtx, min(ttl/2, 2*time.Second))
		started := time.Now()
		l, err := leaser.Claim(ctx, doc, node, ttl)
		cancel()
		r := claimResult{l: l, err: err, started: started}
		select {
		case out <- r:
		default:
			select {
			case <-out: // the actor has not taken the older one: replace it
			default:
			}
			select {
			case out <- r:
			default:
			}
		}
	}
}

// ownStop gives the lease up (actor exit), so that another node need not
// wait for it to expire.
func (a *actor) ownStop() {
	o := &a.own
	if o.leaser == nil {
		return
	}
	o.tick.Stop()
	close(o.claimStop)
	<-o.claimDone
	if o.mine {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if err := o.leaser.Release(ctx, a.id, a.srv.bus.bus.Node(), o.holder.Token); err != nil {
			a.log.Warn("releasing the document's lease failed; it expires by itself", "err", err)
		}
		o.mine = false
	}
}

// owning reports whether this node may commit its clients' ops now.
func (a *actor) owning() bool {
	o := &a.own
	return o.leaser == nil || (o.mine && time.Now().Before(o.validUntil))
}

// onLeaseTick sends again forwarded ops that got no outcome for a whole
// tick.
func (a *actor) onLeaseTick() {
	o := &a.own
	if a.retired() {
		return
	}
	if len(o.fwd) > 0 && time.Since(o.progressAt) >= o.ttl/3 {
		// Nothing resolved for a tick: a forward (or its outcome) may have
		// been lost, and the owner drops what follows a lost one.
		a.sendForwards(o.fwd)
	}
}

// claimNow asks the claimer for a claim at once.
func (a *actor) claimNow() {
	select {
	case a.own.claimKick <- struct{}{}:
	default:
	}
}

// onClaim takes in the outcome of a claim.
func (a *actor) onClaim(r claimResult) {
	o := &a.own
	if r.err != nil {
		if o.mine && !time.Now().Before(o.validUntil) {
			o.mine = false
			a.log.Warn("the document's lease could not be extended; this node stops committing until it can", "err", r.err)
		} else if !o.mine {
			a.log.Debug("claiming the document's lease failed", "err", r.err)
		}
		return
	}
	me := a.srv.bus.bus.Node()
	prev := o.holder
	o.holder = r.l
	if r.l.Node != me {
		if o.mine {
			a.log.Warn("this node lost the document's lease", "owner", r.l.Node, "token", r.l.Token)
		}
		o.mine = false
		if prev != r.l {
			a.sendForwards(o.fwd)
		}
		return
	}
	o.validUntil = r.started.Add(o.ttl * 3 / 4)
	if !o.mine || prev.Token != r.l.Token {
		o.mine = true
		o.announce = true
		clear(o.expect)
		if a.docState != nil {
			// The previous owner may have committed what this node has not
			// heard of yet.
			a.fillGap("took the document's lease")
		}
		a.log.Debug("this node owns the document", "token", r.l.Token)
	}
	if o.announce && a.docState != nil {
		o.announce = false
		a.publish(&busMsg{Kind: busOwner, V: a.v, Tok: r.l.Token})
	}
	// This node's clients' ops that waited for an owner (or for this
	// node's lease to be extended after its validity ran out): commit them.
	if len(o.fwd) > 0 {
		msgs := make([]*opMsg, len(o.fwd))
		for i, f := range o.fwd {
			msgs[i] = f.m
		}
		o.fwd = o.fwd[:0]
		a.submitOps(msgs)
	}
}

// onOwner takes in another node's announcement that it took the lease.
func (a *actor) onOwner(from string, m *busMsg) {
	o := &a.own
	if o.leaser == nil || m.Tok < o.holder.Token {
		return // an announcement older than what this node knows
	}
	if o.mine && m.Tok > o.holder.Token {
		o.mine = false
		a.log.Warn("another node took the document's lease", "owner", from, "token", m.Tok)
	}
	if o.holder.Node != from || o.holder.Token != m.Tok {
		o.holder = bus.Lease{Node: from, Token: m.Tok}
	}
	// Sent even to an owner already known: it announces after losing
	// messages too, so that what it missed is sent again.
	a.sendForwards(o.fwd)
}

// route splits msgs into the ops this node commits itself and the ops it
// forwards to the owner (or keeps until one is known).
func (a *actor) route(msgs []*opMsg) []*opMsg {
	o := &a.own
	if o.leaser == nil {
		return msgs
	}
	owning := a.owning()
	keep := msgs[:0:0]
	var sent []fwdOp
	for _, m := range msgs {
		switch {
		case m.reply != nil || owning:
			keep = append(keep, m)
		case m.from != "":
			// Forwarded here, but this node is not (or no longer surely)
			// the owner: the forwarding node sends it again to the owner.
		default:
			f := fwdOp{m: m, f: o.fwdNext}
			o.fwdNext++
			if len(o.fwd) == 0 {
				o.progressAt = time.Now()
			}
			o.fwd = append(o.fwd, f)
			sent = append(sent, f)
		}
	}
	if len(sent) > 0 {
		a.sendForwards(sent)
	}
	return keep
}

// sendForwards sends ops of fwd to the owner, if one other than this node
// is known.
func (a *actor) sendForwards(ops []fwdOp) {
	o := &a.own
	if len(ops) == 0 || o.holder.Node == "" || o.mine || a.docState == nil {
		return
	}
	m := &busMsg{Kind: busForward, V: o.fwd[0].f, To: o.holder.Node, Tok: o.holder.Token, Ops: make([]busOp, len(ops))}
	for i, f := range ops {
		r := f.m
		// An op (selection) still raw, sent before its connection knew the
		// document's type, goes as sent: the owner decodes it with the type.
		m.Ops[i] = busOp{op: r.op, Op: r.rawOp, SID: r.sid, Seq: r.seq, UserID: r.userID, sel: r.sel, Sel: r.rawSel, F: f.f, Base: r.v}
	}
	a.srv.bus.forwarded.Add(float64(len(ops)))
	a.publishOn(nodeTopic(a.id, o.holder.Node), m)
}

// onForward takes another node's forwarded ops, in fseq order (see above).
// It reports whether they were addressed to this node.
func (a *actor) onForward(from string, m *busMsg) {
	o := &a.own
	if o.leaser == nil || !a.owning() {
		return
	}
	next, known := o.expect[from]
	if !known || next < m.V {
		next = m.V // everything below low was resolved
	}
	for i := range m.Ops {
		b := &m.Ops[i]
		if b.F > next {
			break // a forward was lost: the node sends again
		}
		if b.F == next {
			next++
		}
		o.inbound = append(o.inbound, &opMsg{from: from, v: b.Base, seq: b.Seq, sid: b.SID, userID: b.UserID, op: b.op, sel: b.sel})
	}
	o.expect[from] = next
}

// commitForwarded commits the forwarded ops taken since the last call.
func (a *actor) commitForwarded() {
	o := &a.own
	if len(o.inbound) == 0 {
		return
	}
	msgs := o.inbound
	o.inbound = nil
	if a.retired() {
		return
	}
	a.submitOps(msgs)
}

// replyForwarded answers a forwarded op that was not committed now: refused
// (code set) or already committed at v.
func (a *actor) replyForwarded(m *opMsg, v int64, code, msg string) {
	a.publishOn(nodeTopic(a.id, m.from), &busMsg{Kind: busReply, V: v, To: m.from, Ops: []busOp{{SID: m.sid, Seq: m.seq, Code: code, Msg: msg}}})
}

// onReply takes the owner's answer to ops this node forwarded.
func (a *actor) onReply(m *busMsg) {
	for _, r := range m.Ops {
		for _, f := range a.takeForwarded(r.SID, r.Seq, r.Code == "" && m.V >= a.v) {
			if r.Code != "" {
				a.replyErr(f, r.Code, r.Msg, nil)
			} else {
				a.replyAck(f, m.V)
			}
		}
	}
}

// takeForwarded removes and returns the waiting forwarded ops with (sid,
// seq), unless keep.
func (a *actor) takeForwarded(sid string, seq int64, keep bool) []*opMsg {
	o := &a.own
	if len(o.fwd) == 0 || keep || seq <= 0 {
		return nil
	}
	var out []*opMsg
	kept := o.fwd[:0]
	for _, f := range o.fwd {
		if f.m.sid == sid && f.m.seq == seq {
			out = append(out, f.m)
		} else {
			kept = append(kept, f)
		}
	}
	clear(o.fwd[len(kept):])
	o.fwd = kept
	if len(out) > 0 {
		o.progressAt = time.Now()
	}
	return out
}

// deliverCommitted delivers ev, an op another node committed, to this
// node's subscribers; an author whose op this node forwarded gets its ack in
// its place.
func (a *actor) deliverCommitted(ev *Event) {
	authors := a.takeForwarded(ev.Op.SID, ev.Op.Seq, false)
	for _, m := range authors {
		a.replyAck(m, ev.V)
	}
subs:
	for sub := range a.subs {
		for _, m := range authors {
			if m.sub == sub {
				continue subs
			}
		}
		a.deliver(sub, ev)
	}
}

// forwardedHere reports whether (sid, seq) is an op this node forwarded and
// waits for.
func (a *actor) forwardedHere(sid string, seq int64) bool {
	for _, f := range a.own.fwd {
		if f.m.sid == sid && f.m.seq == seq {
			return true
		}
	}
	return false
}
