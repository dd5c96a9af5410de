package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-collab/tandem/bus"
	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/presence"
	"github.com/tandem-collab/tandem/store"
)

// Cross-node operation of a document actor.
//
// A document may be open on several nodes at once. Each node's actor commits
// through the store's optimistic concurrency (Postgres decides the order),
// then publishes what it committed on the bus. An actor applies the ops it
// hears from other nodes strictly in version order: a message that starts at
// its version is applied, one entirely behind it is a duplicate or late and is
// dropped, and one that starts ahead of it reveals a gap, which is filled from
// the store. Every op applied, whichever way it came, goes through remember,
// so the (sid, seq) marks of other nodes' ops deduplicate resubmissions here
// too. The bus may lose the last message of a burst; each node's heartbeat
// carries its version, so a node that is behind notices within a heartbeat,
// and after a bus reconnect (BusLost) every actor reads the store.
//
// Presence crosses nodes as coalesced changes of each node's own peers plus a
// heartbeat with its full peer list, each at the publisher's version; a node
// that has not reached that version yet holds the message until the commits
// in between arrive (onRemotePresence). Peers relayed from another node carry
// an expiry, refreshed by each heartbeat: the peers of a node that died vanish
// within PresenceTTL. Presence does not go through the document's owner
// (docs/architecture.md says why).
//
// Committed ops arrive with the frame the publisher encoded for its own
// subscribers, which this node's subscribers get as is (applyOne).

// Kinds of bus messages.
const (
	busOps      = 1 // Ops committed by the publisher, the first at V
	busPresence = 2 // changed peers of the publisher (selections at V) and Gone
	busBeat     = 3 // heartbeat: the publisher is at V; Peers is its full peer list
	busDeleted  = 4 // the document was deleted
	busForward  = 5 // ops of the publisher's clients for the owner To (actor_owner.go); V is the lowest fseq waiting
	busReply    = 6 // the owner's answers to To's forwarded ops: refused (Code) or already committed at V
	busOwner    = 7 // the publisher took the lease under token Tok; it is at V
)

// docTopic is the bus topic of a document's events.
func docTopic(docID string) string { return "doc:" + docID }

// nodeTopic is the bus topic of a document's messages for one node: the
// forwards to it as the owner and the owner's replies to it as a forwarding
// node (busForward, busReply). On the document's topic every forward also
// reached every other non-owner, which only dropped it.
func nodeTopic(docID, node string) string { return "doc:" + docID + ":node:" + node }

// serverBus is a Server's end of the bus.
type serverBus struct {
	bus   bus.Bus
	owned bool // created by New (a LocalBus): closed by Shutdown
	// alone: no Bus was configured, so no other node can hear this one (a
	// LocalBus never delivers back to its publisher). Actors then neither
	// subscribe, beat nor encode what they commit: single-node commits pay
	// nothing for scale-out.
	alone bool

	remoteApply prometheus.Histogram
	published   prometheus.Counter
	received    prometheus.Counter
	gapFills    prometheus.Counter
	lost        prometheus.Counter
	dropped     prometheus.Counter
	// Owners (actor_owner.go).
	forwarded prometheus.Counter
}

func newServerBus(s *Server) *serverBus {
	sb := &serverBus{bus: s.cfg.Bus}
	if sb.bus == nil {
		sb.bus, sb.owned, sb.alone = bus.NewLocalBus(), true, true
	}
	sb.remoteApply = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "tandem_bus_remote_apply_seconds", Help: "From another node's commit (its clock) to applying its ops here.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
	})
	sb.published = prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_bus_published_total", Help: "Bus messages published."})
	sb.received = prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_bus_received_total", Help: "Bus messages received from other nodes."})
	sb.gapFills = prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_bus_gap_fills_total", Help: "Catch-ups from the store after a gap, a lost message or a heartbeat ahead."})
	sb.lost = prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_bus_lost_total", Help: "Signals that bus messages may have been lost (reconnects, overflows)."})
	sb.dropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_bus_publish_dropped_total", Help: "Messages the bus could not queue."})
	sb.forwarded = prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_ops_forwarded_total", Help: "Ops of this node's clients sent to their document's owner (sends again included)."})
	s.metrics.reg.MustRegister(sb.remoteApply, sb.published, sb.received, sb.gapFills, sb.lost, sb.dropped, sb.forwarded)
	return sb
}

func (sb *serverBus) close() {
	if sb.owned {
		_ = sb.bus.Close()
	}
}

// publishDeleted tells the other nodes that docID is gone.
func (s *Server) publishDeleted(docID string) {
	if s.bus.alone {
		return
	}
	p := encodeBusMsg(&busMsg{Kind: busDeleted, At: time.Now().UnixNano()})
	if err := s.bus.bus.Publish(s.baseCtx, docTopic(docID), p); err != nil {
		s.bus.dropped.Inc()
		s.log.Warn("telling other nodes of a deletion failed (they find out on their next store call)", "doc", docID, "err", err)
		return
	}
	s.bus.published.Inc()
}

// actorNodes is an actor's cross-node state. in, kick and lost are shared
// with the bus goroutine; everything else belongs to the actor goroutine.
type actorNodes struct {
	in     chan busIn    // payloads handed over by the bus
	kick   chan struct{} // wakes the actor when lost is set
	lost   atomic.Bool   // messages may have been lost: read the store
	cancel func()        // ends the bus subscription

	beat     *time.Ticker        // nil when the node is alone
	beatC    <-chan time.Time    // beat.C, or nil (never ready) when alone
	lastBeat int64               // version sent in the last heartbeat; -1 before the first
	remote   map[string]string   // sid -> node of the peers relayed from other nodes
	dirty    map[string]struct{} // own peers changed since the last publish
	gone     map[string]struct{} // own peers gone since the last publish
	warnedAt time.Time           // rate limit of publish warnings
	ahead    []aheadPresence     // other nodes' presence at versions not reached yet (onRemotePresence)
}

type busIn struct {
	from    string
	payload []byte
}

// actorBusInbox bounds the bus payloads waiting for one actor; past it they
// are dropped and the actor reads the store instead, so a busy bus never
// blocks the bus goroutine (which serves every document).
const actorBusInbox = 512

// busSub hands bus deliveries to the actor without blocking; self is this
// node's id.
type busSub struct {
	n    *actorNodes
	self string
}

func (s busSub) BusMessage(from string, payload []byte) {
	if busAddressedElsewhere(payload, s.self) {
		return // another node's forward or reply: not worth waking the actor
	}
	select {
	case s.n.in <- busIn{from: from, payload: payload}:
	default:
		s.BusLost()
	}
}

func (s busSub) BusLost() {
	s.n.lost.Store(true)
	select {
	case s.n.kick <- struct{}{}:
	default:
	}
}

// busStart subscribes to the document's topic. It runs before the document
// is loaded, so that every op committed after the load is heard; what arrives
// before the load is behind it and dropped by version.
func (a *actor) busStart() {
	n := &a.nodes
	n.kick = make(chan struct{}, 1)
	n.lastBeat = -1
	n.remote = make(map[string]string)
	n.dirty = make(map[string]struct{})
	n.gone = make(map[string]struct{})
	if a.srv.bus.alone {
		return // n.in stays nil: nothing arrives from a bus (and 512 slots per document are saved)
	}
	n.in = make(chan busIn, actorBusInbox)
	n.beat = time.NewTicker(a.beatInterval())
	n.beatC = n.beat.C
	ctx, cancel := context.WithTimeout(a.srv.baseCtx, time.Second)
	defer cancel()
	self := a.srv.bus.bus.Node()
	sub := busSub{n: n, self: self}
	topics := []string{docTopic(a.id)}
	if a.srv.cfg.Leases != nil {
		topics = append(topics, nodeTopic(a.id, self))
	}
	// Both at once: each waits for Redis to confirm.
	cancels := make([]func(), len(topics))
	errs := make([]error, len(topics))
	var wg sync.WaitGroup
	for i, t := range topics {
		wg.Go(func() { cancels[i], errs[i] = a.srv.bus.bus.Subscribe(ctx, t, sub) })
	}
	wg.Wait()
	n.cancel = func() {
		for _, c := range cancels {
			c()
		}
	}
	for _, err := range errs {
		if err != nil && !errors.Is(err, bus.ErrClosed) {
			// Registered anyway: BusLost comes when it is confirmed.
			a.log.Warn("bus subscription not confirmed; other nodes' edits arrive through the store until it is", "err", err)
			break
		}
	}
}

// busStop ends the subscription and the heartbeat (actor exit).
func (a *actor) busStop() {
	if a.nodes.cancel != nil {
		a.nodes.cancel()
	}
	if a.nodes.beat != nil {
		a.nodes.beat.Stop()
	}
}

func (a *actor) beatInterval() time.Duration { return max(a.cfg().PresenceTTL/3, time.Millisecond) }

func (a *actor) retired() bool { return a.loadErr != nil || a.deleted }

func (a *actor) publish(m *busMsg) { a.publishOn(docTopic(a.id), m) }

// publishOn publishes m on topic, a topic of the actor's document.
func (a *actor) publishOn(topic string, m *busMsg) {
	m.At = time.Now().UnixNano()
	if err := a.srv.bus.bus.Publish(a.srv.baseCtx, topic, encodeBusMsg(m)); err != nil {
		a.srv.bus.dropped.Inc()
		if time.Since(a.nodes.warnedAt) > 10*time.Second {
			a.nodes.warnedAt = time.Now()
			a.log.Warn("publishing on the bus failed; other nodes catch up from the store", "err", err)
		}
		return
	}
	a.srv.bus.published.Inc()
}

// publishOps announces a committed batch (called after apply).
func (a *actor) publishOps(batch []*pending) {
	if len(batch) == 0 || a.srv.bus.alone {
		return
	}
	m := &busMsg{Kind: busOps, V: batch[0].rec.Version, Ops: make([]busOp, len(batch))}
	for i, p := range batch {
		r := &p.rec
		o := busOp{op: r.Op, SID: r.SID, Seq: r.Seq, UserID: r.UserID, Created: r.CreatedAt.UnixNano(), sel: p.sel}
		if p.ev != nil {
			// The frame this node's subscribers got: the other nodes
			// relay it to theirs instead of encoding it again.
			o.Frame, _ = p.ev.Frame()
			o.op, o.sel = p.ev.Op.Op, p.ev.Sel
		}
		m.Ops[i] = o
	}
	a.publish(m)
}

// ownPeerChanged records that a peer connected here joined or moved.
func (a *actor) ownPeerChanged(sid string) {
	if a.nodes.dirty == nil || a.srv.bus.alone {
		return
	}
	a.nodes.dirty[sid] = struct{}{}
	delete(a.nodes.gone, sid)
	delete(a.nodes.remote, sid) // it is ours now (a client that moved here)
}

// ownPeerGone records that a peer connected here left.
func (a *actor) ownPeerGone(sid string) {
	if a.nodes.gone == nil || a.srv.bus.alone {
		return
	}
	delete(a.nodes.dirty, sid)
	a.nodes.gone[sid] = struct{}{}
}

func (a *actor) ownPeer(sid string) (busPeer, bool) {
	p, ok := a.pres.Get(sid)
	if !ok {
		return busPeer{}, false
	}
	return busPeer{SID: p.SID, ID: p.User.ID, Name: p.User.Name, Color: p.User.Color, sel: p.Sel, Data: p.Data}, true
}

// publishPresence sends the coalesced changes of this node's peers (called
// at each presence flush).
func (a *actor) publishPresence() {
	n := &a.nodes
	if len(n.dirty) == 0 && len(n.gone) == 0 || a.docState == nil {
		return
	}
	m := &busMsg{Kind: busPresence, V: a.v}
	for sid := range n.dirty {
		if p, ok := a.ownPeer(sid); ok && a.sidRefs[sid] > 0 {
			m.Peers = append(m.Peers, p)
		}
	}
	for sid := range n.gone {
		if a.sidRefs[sid] == 0 {
			m.Gone = append(m.Gone, sid)
		}
	}
	clear(n.dirty)
	clear(n.gone)
	if len(m.Peers) > 0 || len(m.Gone) > 0 {
		a.publish(m)
	}
}

// onBeat is the heartbeat tick: drop relayed peers whose node went quiet,
// and tell the other nodes this node's version and peers.
func (a *actor) onBeat() {
	if a.retired() || a.docState == nil {
		return
	}
	a.expireAhead()
	if dead := a.pres.Expire(time.Now()); len(dead) > 0 {
		for _, sid := range dead {
			delete(a.nodes.remote, sid)
		}
		a.presDue = true
	}
	if len(a.sidRefs) == 0 && a.v == a.nodes.lastBeat {
		return // nothing anyone could be missing
	}
	m := &busMsg{Kind: busBeat, V: a.v, Peers: []busPeer{}}
	for sid := range a.sidRefs {
		if p, ok := a.ownPeer(sid); ok {
			m.Peers = append(m.Peers, p)
		}
	}
	a.nodes.lastBeat = a.v
	a.publish(m)
}

// onBusLost reads the store after messages may have been lost.
func (a *actor) onBusLost() {
	if !a.nodes.lost.Swap(false) || a.retired() {
		return
	}
	a.srv.bus.lost.Inc()
	a.fillGap("bus messages may have been lost")
	// Forwards to this node may have been lost with them: the owner says
	// so (busOwner, after its next claim), and the others send what they
	// have waiting; ops this node forwarded may have been lost too.
	if a.own.mine {
		// Redis may have restarted without the lease: commit again only
		// after a claim says the lease is still (or again) this node's,
		// and then announce it.
		a.own.validUntil = time.Now()
		a.own.announce = true
		a.claimNow()
	}
	a.sendForwards(a.own.fwd)
}

// fillGap applies from the store whatever others committed after a.v.
func (a *actor) fillGap(why string) {
	a.srv.bus.gapFills.Inc()
	if err := a.catchUp(); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			a.markDeleted()
			return
		}
		// The next message, heartbeat or commit tries again.
		a.log.Warn("catching up from the store failed", "why", why, "err", err)
	}
	a.releaseAhead()
}

// drainBus handles the bus payloads already waiting (before a commit).
func (a *actor) drainBus() {
	for {
		select {
		case in := <-a.nodes.in:
			a.onBus(in)
		default:
			return
		}
	}
}

// onBus handles one payload from another node.
func (a *actor) onBus(in busIn) {
	if a.retired() {
		return
	}
	a.srv.bus.received.Inc()
	m, err := decodeBusMsgFor(in.payload, a.typ, a.srv.bus.bus.Node())
	if err != nil {
		a.log.Warn("dropping a bad bus message; reading the store instead", "from", in.from, "err", err)
		a.fillGap("bad bus message")
		return
	}
	switch m.Kind {
	case busOps:
		a.onRemoteOps(in.from, m)
	case busPresence:
		a.onRemotePresence(in.from, m, false)
	case busBeat:
		a.onRemotePresence(in.from, m, true)
	case busDeleted:
		a.markDeleted()
	case busForward:
		if m.To == a.srv.bus.bus.Node() {
			a.onForward(in.from, m)
		}
	case busReply:
		if m.To == a.srv.bus.bus.Node() {
			a.onReply(m)
		}
	case busOwner:
		a.onOwner(in.from, m)
	}
}

// onRemoteOps applies another node's committed ops in version order.
func (a *actor) onRemoteOps(from string, m *busMsg) {
	end := m.V + int64(len(m.Ops))
	switch {
	case end <= a.v:
		return // late or duplicated: already applied
	case m.V > a.v:
		a.fillGap(fmt.Sprintf("gap: at %d, heard %d", a.v, m.V))
		return
	}
	created := time.Now().UTC()
	// The batch's ops (and acks of ops forwarded from here) go out to each
	// subscriber together, in one coalesced frame, as the owner's own
	// subscribers get them (apply).
	a.holdOnce()
	defer a.releaseHeld()
	for i := a.v - m.V; i < int64(len(m.Ops)); i++ {
		o := &m.Ops[i]
		if o.Created != 0 {
			created = time.Unix(0, o.Created).UTC()
		}
		rec := store.OpRecord{Version: a.v, Op: o.op, SID: o.SID, Seq: o.Seq, UserID: o.UserID, CreatedAt: created}
		if err := a.applyOne(rec, o.sel, o.Frame, from); err != nil {
			// Never guess: the store has the truth.
			a.log.Error("another node's op does not apply; reading the store", "v", rec.Version, "from", from, "err", err)
			a.fillGap("op does not apply")
			return
		}
	}
	if m.At > 0 {
		a.srv.bus.remoteApply.Observe(time.Since(time.Unix(0, m.At)).Seconds())
	}
	a.releaseAhead()
}

// applyOne makes one committed op of another node the actor's state and
// broadcasts it, like catchUp, plus the author's selection when it came along.
// frame, when the publisher sent it, is the op's broadcast frame as the
// publisher encoded it for its own subscribers: the same bytes this node
// would encode (the same op applied at the same version, the same selection
// fitted to the same content), relayed as is.
func (a *actor) applyOne(rec store.OpRecord, sel doctype.Selection, frame []byte, from string) error {
	// The author's selection is adopted only from the node it is connected
	// to (here, when this node forwarded the op).
	adopt := a.nodes.remote[rec.SID] == from || a.forwardedHere(rec.SID, rec.Seq)
	rec, sel, err := a.applyCommitted(rec, sel, adopt)
	if err != nil {
		return fmt.Errorf("apply another node's op to %q: %w", a.id, err)
	}
	a.deliverCommitted((&Event{Kind: EventOp, Doc: a.id, V: rec.Version, Op: &rec, Sel: sel}).withFrame(frame))
	return nil
}

// onRemotePresence merges another node's peers: changes (full false) or its
// heartbeat (full true: the complete list, which also refreshes expiries and
// tells this node's version check where the publisher is).
//
// The selections are at the publisher's version m.V. When this node has not
// reached it yet, the commits in between are on their way from the node that
// made them (the owner), on the bus like this message but from another
// publisher, so in no set order with it: the message is held (nodes.ahead)
// until they are applied, and the carets are moved then; reading the store
// for them instead cost a store read per caret move under load. Messages
// held behind it wait too, so that one node's changes keep their order. A
// heartbeat ahead of this node is how a lost tail of commits is noticed, so
// it reads the store at once; a change held for a whole heartbeat interval
// (its commits were lost) reads it at the next tick (onBeat).
func (a *actor) onRemotePresence(from string, m *busMsg, full bool) {
	n := &a.nodes
	n.ahead = append(n.ahead, aheadPresence{from: from, m: m, full: full, at: time.Now()})
	if m.V > a.v && (full || len(n.ahead) > maxAheadPresence) {
		a.fillGap(fmt.Sprintf("%s from a node at %d, here %d", map[bool]string{true: "heartbeat", false: "presence"}[full], m.V, a.v))
		return // fillGap released what it could
	}
	a.releaseAhead()
}

// maxAheadPresence bounds the presence messages held (onRemotePresence);
// past it the store is read.
const maxAheadPresence = 256

// aheadPresence is another node's presence message held until this node
// reaches its version.
type aheadPresence struct {
	from string
	m    *busMsg
	full bool
	at   time.Time
}

// releaseAhead merges the held presence messages this node's version has
// reached, in arrival order, up to the first that is still ahead.
func (a *actor) releaseAhead() {
	n := &a.nodes
	i := 0
	for ; i < len(n.ahead) && n.ahead[i].m.V <= a.v; i++ {
		h := n.ahead[i]
		a.mergePresence(h.from, h.m, h.full)
	}
	if i == 0 {
		return
	}
	k := copy(n.ahead, n.ahead[i:])
	clear(n.ahead[k:])
	n.ahead = n.ahead[:k]
	// The publisher coalesced these changes over its own presence
	// interval: holding them here for another one only doubled the delay
	// across nodes.
	a.deliverPresence()
	if len(n.dirty) > 0 || len(n.gone) > 0 {
		a.presDue = true // this node's own changes: the flush timer still publishes them
	}
}

// expireAhead runs at each heartbeat tick: presence held for a whole
// interval means its commits were lost, so the store is read; what is still
// ahead of the store after that is dropped (the publisher's next heartbeat
// has its peers).
func (a *actor) expireAhead() {
	n := &a.nodes
	if len(n.ahead) == 0 || time.Since(n.ahead[0].at) < a.beatInterval() {
		return
	}
	a.fillGap(fmt.Sprintf("presence from a node at %d held for a heartbeat, here %d", n.ahead[0].m.V, a.v))
	for len(n.ahead) > 0 && n.ahead[0].m.V > a.v && time.Since(n.ahead[0].at) >= a.beatInterval() {
		n.ahead[0] = aheadPresence{}
		n.ahead = n.ahead[1:]
		a.releaseAhead()
	}
}

// mergePresence merges a message of onRemotePresence at a version this node
// has reached.
func (a *actor) mergePresence(from string, m *busMsg, full bool) {
	var history []store.OpRecord
	if m.V < a.v {
		var err error
		if history, err = a.opsSince(m.V); err != nil {
			a.log.Warn("reading ops to move remote carets failed", "from", m.V, "err", err)
			return
		}
	}
	expires := time.Now().Add(a.cfg().PresenceTTL)
	seen := make(map[string]struct{}, len(m.Peers))
	for _, bp := range m.Peers {
		seen[bp.SID] = struct{}{}
		if a.sidRefs[bp.SID] > 0 {
			continue // connected here too: ours wins
		}
		sel := bp.sel
		for _, r := range history {
			if sel == nil {
				break
			}
			sel = sel.Transform(r.Op, bp.SID == r.SID)
		}
		if sel != nil {
			var err error
			if sel, err = a.doc.FitSelection(sel); err != nil {
				sel = nil
			}
		}
		p := presence.Peer{SID: bp.SID, User: presence.User{ID: bp.ID, Name: bp.Name, Color: bp.Color},
			Sel: sel, Data: bp.Data, Node: from, Expires: expires}
		if a.nodes.remote[bp.SID] != from {
			a.nodes.remote[bp.SID] = from
			a.pres.Join(p)
			a.presDue = true
			continue
		}
		cur, _ := a.pres.Get(bp.SID)
		if !full || !bytes.Equal(encodeSel(cur.Sel), encodeSel(p.Sel)) || !bytes.Equal(cur.Data, p.Data) || cur.User != p.User {
			a.pres.Join(p)
			a.presDue = true
		} else {
			a.pres.Touch(bp.SID, expires)
		}
	}
	gone := m.Gone
	if full {
		for sid, node := range a.nodes.remote {
			if _, ok := seen[sid]; !ok && node == from {
				gone = append(gone, sid)
			}
		}
	}
	for _, sid := range gone {
		if a.nodes.remote[sid] == from {
			delete(a.nodes.remote, sid)
			a.pres.Leave(sid)
			a.presDue = true
		}
	}
}
