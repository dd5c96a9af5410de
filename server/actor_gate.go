package server

// The ordering rules of an actor whose append is in flight (actor_commit.go).
//
// While a batch of ops is being appended, the actor goes on serving its
// mailbox: a caret move or a join does not wait for a commit it has nothing
// to do with. What a message must still wait for is an unresolved message of
// the same sender that came before it, because the protocol orders each
// connection's messages:
//
//   - an op of subscriber S (or of presence sid P) is unresolved from the
//     moment it arrives until it is acknowledged or refused;
//   - a presence, join or leave of S (or of sid P) waits behind S's (P's)
//     unresolved ops and behind S's (P's) messages already waiting, so it is
//     served in the order it was sent: a leave after an op comes after the
//     op's ack, a join of a tab that reconnected while its op was in flight
//     sees that op in its joined state (and the op is not broadcast to it as
//     someone else's);
//   - a join made at a version ahead of this node (a client that moved here
//     from another node) waits while an append is in flight: it makes the
//     actor catch up from the store, which must not move the version under
//     the append;
//   - a delete waits for everything before it, and everything after it waits
//     for it.
//
// Messages of other senders are served at once: presence is relative to the
// version its sender has seen, which is committed (a client sends presence
// only once its ops are acknowledged), so the in-flight ops move it later,
// when they are applied, exactly as they move every other caret. A join is
// answered at the committed version, and the in-flight ops reach the new
// subscriber afterwards like any broadcast: no gap.
//
// orderGate is that rule as data: the senders that have something unresolved.
// It over-approximates (it may hold a message back a little longer than it
// must, never shorter): the actor rebuilds it from what is unresolved whenever
// an append starts or ends, and adds to it as messages arrive.
type orderGate struct {
	subs    map[Subscriber]int // unresolved messages per subscriber
	sids    map[string]int     // unresolved messages per presence sid
	n       int                // unresolved messages in all (REST and forwarded ops too)
	barrier bool               // a delete is waiting: everything waits behind it
}

func newOrderGate() orderGate {
	return orderGate{subs: make(map[Subscriber]int), sids: make(map[string]int)}
}

// reset forgets everything (before a rebuild).
func (g *orderGate) reset() {
	clear(g.subs)
	clear(g.sids)
	g.n = 0
	g.barrier = false
}

// add records m (from the sender whose presence sid is sid, "" when not a
// peer) as unresolved.
func (g *orderGate) add(m actorMsg, sid string) {
	g.n++
	if _, del := m.(*deleteMsg); del {
		g.barrier = true
		return
	}
	if sub := msgSub(m); sub != nil {
		g.subs[sub]++
	}
	if sid != "" {
		g.sids[sid]++
	}
}

// blocks reports whether m (from sid) must wait. frozen says an append is in
// flight; ahead, that m is a join at a version this node has not reached.
func (g *orderGate) blocks(m actorMsg, sid string, frozen, ahead bool) bool {
	if g.barrier {
		return true
	}
	switch m.(type) {
	case *deleteMsg:
		return frozen || g.n > 0
	case *joinMsg:
		if frozen && ahead {
			return true
		}
	}
	if sub := msgSub(m); sub != nil && g.subs[sub] > 0 {
		return true
	}
	return sid != "" && g.sids[sid] > 0
}

// msgSub is the subscriber a message comes from (nil: a REST op, a forwarded
// op, a delete).
func msgSub(m actorMsg) Subscriber {
	switch m := m.(type) {
	case *opMsg:
		return m.sub
	case *joinMsg:
		return m.sub
	case *leaveMsg:
		return m.sub
	case *presenceMsg:
		return m.sub
	}
	return nil
}
