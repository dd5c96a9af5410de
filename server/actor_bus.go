package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/bus"
	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/presence"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
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
// heartbeat with its full peer list. Peers relayed from another node carry an
// expiry, refreshed by each heartbeat: the peers of a node that died vanish
// within PresenceTTL.

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

// busMsg is one bus payload (MessagePack, short keys).
type busMsg struct {
	Kind  uint8     `msgpack:"k"`
	V     int64     `msgpack:"v"`
	At    int64     `msgpack:"at"` // the publisher's clock (unix ns), for the latency metric
	Ops   []busOp   `msgpack:"o,omitempty"`
	Peers []busPeer `msgpack:"p,omitempty"`
	Gone  []string  `msgpack:"g,omitempty"`
	To    string    `msgpack:"to,omitempty"` // busForward, busReply: the one node it is for
	Tok   int64     `msgpack:"t,omitempty"`  // busForward: the owner's token as the sender knows it; busOwner: the new token
}

// busOp is one committed op. Op and Sel travel in their type's MessagePack
// form; decodeBusMsg decodes them with the document's type into op and sel.
type busOp struct {
	Op      msgpack.RawMessage `msgpack:"op"`
	SID     string             `msgpack:"s"`
	Seq     int64              `msgpack:"q"`
	UserID  string             `msgpack:"u"`
	Created int64              `msgpack:"c"` // unix ns
	Sel     msgpack.RawMessage `msgpack:"sel"`
	F       int64              `msgpack:"f,omitempty"` // busForward: the sender's fseq
	Base    int64              `msgpack:"b,omitempty"` // busForward: the version the op was made against
	Code    string             `msgpack:"e,omitempty"` // busReply: the error code of a refused op
	Msg     string             `msgpack:"m,omitempty"` // busReply: its message

	op  doctype.Op
	sel doctype.Selection
}

// busPeer is one peer; Sel is encoded and decoded like busOp's.
type busPeer struct {
	SID   string             `msgpack:"s"`
	ID    string             `msgpack:"i"`
	Name  string             `msgpack:"n"`
	Color string             `msgpack:"c"`
	Sel   msgpack.RawMessage `msgpack:"sel"`
	Data  msgpack.RawMessage `msgpack:"d"`

	sel doctype.Selection
}

// encodeSel is a selection's bus form: MessagePack nil when hidden.
func encodeSel(sel doctype.Selection) msgpack.RawMessage {
	if sel == nil {
		return msgpack.RawMessage{0xc0}
	}
	return sel.AppendMsgpack(nil)
}

// decodeSel decodes a selection of typ from its bus form; nil when hidden.
func decodeSel(typ doctype.Type, b msgpack.RawMessage) (doctype.Selection, error) {
	if len(b) == 0 || (len(b) == 1 && b[0] == 0xc0) {
		return nil, nil
	}
	return typ.DecodeSelection(b)
}

func encodeBusMsg(m *busMsg) ([]byte, error) {
	b, err := msgpack.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode bus message: %w", err)
	}
	return b, nil
}

// errBusMsg marks a payload that is not a valid bus message.
var errBusMsg = errors.New("malformed bus message")

// decodeBusMsg decodes and checks a payload; the ops and selections are
// decoded (so validated) by typ, the document's type, so nothing malformed
// reaches the document.
func decodeBusMsg(p []byte, typ doctype.Type) (*busMsg, error) { return decodeBusMsgFor(p, typ, "") }

// decodeBusMsgFor is decodeBusMsg for node self: a message addressed to
// another node is returned undecoded (only its header is read).
func decodeBusMsgFor(p []byte, typ doctype.Type, self string) (*busMsg, error) {
	var m busMsg
	// msgpack allocates what an array header claims: check the claims first.
	// A bus message nests a peer's data (itself at most wire.MaxDepth deep)
	// three levels down.
	if err := wire.CheckClaims(p, 4); err != nil {
		return nil, fmt.Errorf("%w: %w", errBusMsg, err)
	}
	if err := msgpack.Unmarshal(p, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", errBusMsg, err)
	}
	if m.Kind < busOps || m.Kind > busOwner || m.V < 0 {
		return nil, fmt.Errorf("%w: kind %d at version %d", errBusMsg, m.Kind, m.V)
	}
	if m.To != "" && m.To != self || m.Kind == busReply {
		return &m, nil // not for this node, or no ops to decode
	}
	for i := range m.Ops {
		o := &m.Ops[i]
		if len(o.Op) == 0 || (len(o.Op) == 1 && o.Op[0] == 0xc0) {
			return nil, fmt.Errorf("%w: op %d is nil", errBusMsg, i)
		}
		var err error
		if o.op, err = typ.DecodeOp(o.Op); err != nil {
			return nil, fmt.Errorf("%w: op %d: %w", errBusMsg, i, err)
		}
		if o.sel, err = decodeSel(typ, o.Sel); err != nil {
			return nil, fmt.Errorf("%w: op %d: sel: %w", errBusMsg, i, err)
		}
	}
	for i := range m.Peers {
		var err error
		if m.Peers[i].sel, err = decodeSel(typ, m.Peers[i].Sel); err != nil {
			return nil, fmt.Errorf("%w: peer %d: sel: %w", errBusMsg, i, err)
		}
		if d := m.Peers[i].Data; len(d) == 1 && d[0] == 0xc0 {
			m.Peers[i].Data = nil
		}
	}
	return &m, nil
}

// docTopic is the bus topic of a document's events.
func docTopic(docID string) string { return "doc:" + docID }

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
	p, err := encodeBusMsg(&busMsg{Kind: busDeleted, At: time.Now().UnixNano()})
	if err == nil {
		err = s.bus.bus.Publish(s.baseCtx, docTopic(docID), p)
	}
	if err != nil {
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
}

type busIn struct {
	from    string
	payload []byte
}

// actorBusInbox bounds the bus payloads waiting for one actor; past it they
// are dropped and the actor reads the store instead, so a busy bus never
// blocks the bus goroutine (which serves every document).
const actorBusInbox = 512

// busSub hands bus deliveries to the actor without blocking.
type busSub struct{ n *actorNodes }

func (s busSub) BusMessage(from string, payload []byte) {
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
	c, err := a.srv.bus.bus.Subscribe(ctx, docTopic(a.id), busSub{n})
	n.cancel = c
	if err != nil && !errors.Is(err, bus.ErrClosed) {
		// Registered anyway: BusLost comes when it is confirmed.
		a.log.Warn("bus subscription not confirmed; other nodes' edits arrive through the store until it is", "err", err)
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

func (a *actor) publish(m *busMsg) {
	m.At = time.Now().UnixNano()
	p, err := encodeBusMsg(m)
	if err == nil {
		err = a.srv.bus.bus.Publish(a.srv.baseCtx, docTopic(a.id), p)
	}
	if err != nil {
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
		m.Ops[i] = busOp{Op: r.Op.AppendMsgpack(nil), SID: r.SID, Seq: r.Seq, UserID: r.UserID, Created: r.CreatedAt.UnixNano(), Sel: encodeSel(p.sel)}
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
	return busPeer{SID: p.SID, ID: p.User.ID, Name: p.User.Name, Color: p.User.Color, Sel: encodeSel(p.Sel), Data: p.Data}, true
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
		if err := a.applyOne(rec, o.sel, from); err != nil {
			// Never guess: the store has the truth.
			a.log.Error("another node's op does not apply; reading the store", "v", rec.Version, "from", from, "err", err)
			a.fillGap("op does not apply")
			return
		}
	}
	if m.At > 0 {
		a.srv.bus.remoteApply.Observe(time.Since(time.Unix(0, m.At)).Seconds())
	}
}

// applyOne makes one committed op of another node the actor's state and
// broadcasts it, like catchUp, plus the author's selection when it came along.
func (a *actor) applyOne(rec store.OpRecord, sel doctype.Selection, from string) error {
	// The author's selection is adopted only from the node it is connected
	// to (here, when this node forwarded the op).
	adopt := a.nodes.remote[rec.SID] == from || a.forwardedHere(rec.SID, rec.Seq)
	rec, sel, err := a.applyCommitted(rec, sel, adopt)
	if err != nil {
		return fmt.Errorf("apply another node's op to %q: %w", a.id, err)
	}
	a.deliverCommitted(&Event{Kind: EventOp, Doc: a.id, V: rec.Version, Op: &rec, Sel: sel})
	return nil
}

// onRemotePresence merges another node's peers: changes (full false) or its
// heartbeat (full true: the complete list, which also refreshes expiries and
// tells this node's version check where the publisher is).
func (a *actor) onRemotePresence(from string, m *busMsg, full bool) {
	if m.V > a.v {
		// The publisher committed ops this node has not heard of: a lost
		// tail. The selections are at m.V, so catch up first.
		a.fillGap(fmt.Sprintf("%s from a node at %d, here %d", map[bool]string{true: "heartbeat", false: "presence"}[full], m.V, a.v))
		if m.V > a.v {
			return
		}
	}
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
