package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/presence"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// actorMsg is anything a document actor's mailbox carries.
type actorMsg interface{ actorMsg() }

// joinMsg subscribes sub. peer is the presence identity of a WebSocket session
// (nil for a subscriber that is not a peer, such as an SSE stream).
type joinMsg struct {
	sub  Subscriber
	v    *int64
	mode auth.Mode
	peer *wire.PeerInfo
}

// leaveMsg unsubscribes sub; its peers see it gone.
type leaveMsg struct{ sub Subscriber }

// opMsg submits an op made against version v. A WebSocket op carries its
// session's subscriber (acks and errors are delivered to it); SubmitOp carries a
// reply channel instead.
type opMsg struct {
	sub    Subscriber
	reply  chan opResult
	v      int64
	seq    int64
	sid    string
	userID string
	op     doctype.Op
	sel    doctype.Selection
	// rawOp and rawSel are the op and selection as sent, when the connection
	// did not know the document's type yet (its joined was on the way): the
	// actor decodes them with its type (decodeRaw) before anything else.
	rawOp, rawSel msgpack.RawMessage
	// from is the node that forwarded the op to this one, its owner
	// (actor_owner.go); "" for an op of this node's own clients.
	from string
}

type opResult struct {
	v   int64
	err error
}

// presenceMsg is a selection (and optional data) at version v.
type presenceMsg struct {
	sub  Subscriber
	v    int64
	sel  doctype.Selection
	data msgpack.RawMessage
	// rawSel is the selection as sent when the connection did not know the
	// document's type yet, as in opMsg.
	rawSel msgpack.RawMessage
}

// deleteMsg tells the actor its document was deleted.
type deleteMsg struct{}

func (*joinMsg) actorMsg()     {}
func (*leaveMsg) actorMsg()    {}
func (*opMsg) actorMsg()       {}
func (*presenceMsg) actorMsg() {}
func (*deleteMsg) actorMsg()   {}

// subState is what the actor knows of one subscriber.
type subState struct {
	mode auth.Mode
	sid  string // presence sid; "" for a subscriber that is not a peer
}

// actor owns one open document. Everything below the mailbox is touched only by
// its goroutine (run), so none of it needs a lock: the actor serialises every
// join, op and presence change of the document, which is what makes a joined
// state consistent and the broadcast order the commit order.
type actor struct {
	srv   *Server
	id    string
	log   *slog.Logger
	inbox chan actorMsg
	refs  int // guarded by hub.mu

	stopOnce sync.Once
	stop     chan struct{} // closed by requestStop (shutdown)
	done     chan struct{} // closed when run returns

	// Owned by the actor goroutine.
	loadErr error // the document could not be loaded: every message is answered with it
	deleted bool  // the document was deleted: every message gets not_found
	// The document's pure state (state.go), nil until loaded: content,
	// version, op window, (sid, seq) marks, presence.
	*docState
	// prepare's buffers: the ops a batch's ops move past.
	sinceOps  []doctype.Op
	sinceSIDs []string
	subs      map[Subscriber]*subState
	sidRefs   map[string]int // subscriptions per presence sid (a tab may reconnect before its old socket is gone)
	nodes     actorNodes     // cross-node state (actor_bus.go)
	own       ownerState     // the document's owner (actor_owner.go)
	cm        commitState    // the append pipeline (actor_commit.go)

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
		srv:     srv,
		id:      id,
		log:     srv.log.With("doc", id),
		inbox:   make(chan actorMsg, srv.cfg.MailboxSize),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		subs:    make(map[Subscriber]*subState),
		sidRefs: make(map[string]int),
		cm:      newCommitState(),
	}
}

// post puts m in the mailbox, waiting while it is full. Only call it between
// hub.acquire and hub.release.
func (a *actor) post(ctx context.Context, m actorMsg) error {
	select {
	case a.inbox <- m:
		return nil
	default:
	}
	select {
	case a.inbox <- m:
		return nil
	case <-a.done:
		return fmt.Errorf("document %q: %w", a.id, ErrShuttingDown)
	case <-ctx.Done():
		return fmt.Errorf("posting to document %q: %w", a.id, ctx.Err())
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
	batch := make([]actorMsg, 0, a.cfg().MaxBatch)

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
		busIn, busKick, claimC := a.nodes.in, a.nodes.kick, a.own.claimC
		if flying {
			busIn, busKick, claimC = nil, nil, nil
		}
		fromBus := false
		select {
		case m := <-a.inbox:
			batch = a.drainInbox(append(batch[:0], m))
			a.handle(batch)
			clear(batch)
		case d := <-a.cm.done:
			a.landed(d)
		case <-pres.C:
			presArmed = false
			a.flushPresence()
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
			pres.Reset(a.cfg().PresenceInterval)
			presArmed = true
		}
		// Other nodes' traffic does not keep a document nobody here watches
		// loaded.
		if !retired && len(a.subs) == 0 && !fromBus {
			idle.Reset(a.cfg().IdleUnload)
		}
	}
}

// drainInbox appends to batch what is waiting in the mailbox, without
// waiting, up to batch's capacity.
func (a *actor) drainInbox(batch []actorMsg) []actorMsg {
	for len(batch) < cap(batch) {
		select {
		case m := <-a.inbox:
			batch = append(batch, m)
		default:
			return batch
		}
	}
	return batch
}

// finish runs at shutdown: commit and answer what is already in the mailbox,
// send the last presence, and detach every subscriber.
func (a *actor) finish() {
	for {
		a.settle()
		batch := a.drainInbox(make([]actorMsg, 0, a.cfg().MaxBatch))
		if len(batch) == 0 {
			break
		}
		a.handle(batch)
	}
	a.flushPresence()
	a.srv.metrics.joined.Sub(float64(len(a.subs)))
	clear(a.subs)
}

// load reads the document and the latest window of ops.
func (a *actor) load() {
	ctx, cancel := a.storeCtx()
	defer cancel()
	st, err := a.read(ctx)
	if err != nil {
		a.loadErr = fmt.Errorf("load document %q: %w", a.id, err)
		if !errors.Is(err, store.ErrNotFound) {
			a.log.Error("loading document failed", "err", err)
		}
		a.srv.hub.retire(a)
		return
	}
	a.docState = st
}

// read builds the document's state from the store: the latest content and
// the window of ops before it (from the oldest version kept, when the log
// was compacted).
func (a *actor) read(ctx context.Context) (*docState, error) {
	d, snap, err := a.srv.store.Load(ctx, a.id)
	if err != nil {
		return nil, err
	}
	if snap.Version != d.Version {
		return nil, fmt.Errorf("store returned a snapshot at %d for version %d", snap.Version, d.Version)
	}
	typ, err := doctype.Lookup(d.Type)
	if err != nil {
		return nil, err
	}
	var ops []store.OpRecord
	if v := d.Version; v > 0 {
		from := max(0, v-int64(a.cfg().OpWindow))
		ops, err = a.srv.store.ReadOps(ctx, a.id, from, int(v-from))
		if ce := (*store.CompactedError)(nil); errors.As(err, &ce) {
			// The log was compacted (store.Retention): the window starts at
			// the oldest version kept.
			from = ce.Oldest
			ops, err = a.srv.store.ReadOps(ctx, a.id, from, int(v-from))
		}
		if err != nil {
			return nil, err
		}
		if len(ops) != int(v-from) || (len(ops) > 0 && ops[0].Version != from) {
			return nil, fmt.Errorf("store returned %d ops from %d, want %d", len(ops), from, v-from)
		}
	}
	st, err := newDocState(typ, snap.Content, d.Version, ops, a.cfg().OpWindow)
	if err != nil {
		return nil, err
	}
	st.windowAge, st.windowMax, st.windowMaxBytes = a.cfg().OpWindowAge, a.cfg().OpWindowMax, a.cfg().OpWindowMaxBytes
	return st, nil
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
		a.deliver(m.sub, &Event{Kind: EventError, Doc: a.id, Code: e.Code, Msg: e.Msg, JoinFailed: true})
	case *presenceMsg:
		a.deliver(m.sub, &Event{Kind: EventError, Doc: a.id, Code: e.Code, Msg: e.Msg})
	case *leaveMsg:
		a.leave(m.sub)
	}
}

// deliver hands ev to sub and detaches a subscriber that cannot take it.
func (a *actor) deliver(sub Subscriber, ev *Event) {
	if sub == nil {
		return
	}
	if a.holding {
		evs, seen := a.held[sub]
		if !seen {
			a.heldOrder = append(a.heldOrder, sub)
		}
		a.held[sub] = append(evs, ev)
		return
	}
	if !sub.Deliver(ev) {
		a.leave(sub)
	}
}

// batchSubscriber is a Subscriber that can take several events in one call,
// in order, with the same all-or-nothing meaning as Deliver. shared is the
// actor's memo of the last batch encoded as one array frame: subscribers
// given the same events (a broadcast) reuse that frame instead of each
// building a copy of it.
type batchSubscriber interface {
	Subscriber
	DeliverBatch(evs []*Event, shared *SharedBatch) bool
}

// SharedBatch is an encoded array frame of a list of events, reused by the
// subscribers of one release (releaseHeld) that are given the same events.
// Only the actor's goroutine touches it.
type SharedBatch struct {
	evs   []*Event
	frame []byte
}

// Frame is the array frame of evs (whose frames are frames), encoded once
// for as long as the subscribers ask for the same events.
func (b *SharedBatch) Frame(evs []*Event, frames [][]byte) []byte {
	if b.frame != nil && slices.Equal(b.evs, evs) {
		return b.frame
	}
	b.evs = append(b.evs[:0], evs...)
	b.frame = wire.EncodeBatch(frames)
	return b.frame
}

func (b *SharedBatch) reset() {
	clear(b.evs)
	b.evs, b.frame = b.evs[:0], nil
}

// hold starts collecting deliveries; releaseHeld hands them over.
func (a *actor) hold() {
	if a.held == nil {
		a.held = make(map[Subscriber][]*Event)
	}
	a.holding = true
}

// holdOnce is hold that nests: each call is paired with a releaseHeld, and
// only the outermost release delivers.
func (a *actor) holdOnce() {
	if a.holding {
		a.holdDepth++
		return
	}
	a.hold()
}

// releaseHeld delivers what hold collected, each subscriber's events in the
// order they were produced, and detaches subscribers that cannot take them.
func (a *actor) releaseHeld() {
	if a.holdDepth > 0 {
		a.holdDepth--
		return
	}
	a.holding = false
	for _, sub := range a.heldOrder {
		evs := a.held[sub]
		ok := true
		if bs, batched := sub.(batchSubscriber); batched && len(evs) > 1 {
			ok = bs.DeliverBatch(evs, &a.shared)
		} else {
			for _, ev := range evs {
				if ok = sub.Deliver(ev); !ok {
					break
				}
			}
		}
		if !ok {
			a.leave(sub)
		}
	}
	a.shared.reset()
	clear(a.held)
	clear(a.heldOrder)
	a.heldOrder = a.heldOrder[:0]
}

func (a *actor) join(m *joinMsg) {
	st := a.subs[m.sub]
	if st == nil {
		st = &subState{}
		a.subs[m.sub] = st
		a.srv.metrics.joined.Inc()
		if m.peer != nil {
			st.sid = m.peer.SID
			a.sidRefs[st.sid]++
			a.pres.Join(peerFromWire(*m.peer))
			a.presDue = true
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
	ev := &Event{Kind: EventJoined, Doc: a.id, V: a.v, DocType: a.typ.Name(), Mode: m.mode, Peers: a.peerList()}
	if m.v != nil && *m.v <= a.v && a.v-*m.v <= int64(a.cfg().MaxJoinOps) {
		ops, err := a.opsSince(*m.v)
		if err == nil {
			ev.Ops = ops
			if ev.Ops == nil {
				ev.Ops = []store.OpRecord{}
			}
		} else if !errors.Is(err, store.ErrCompacted) {
			a.log.Warn("reading ops for a join failed; sending the text", "from", *m.v, "err", err)
		}
	}
	if ev.Ops == nil {
		ev.Content = a.doc.Clone() // the actor's own goes on changing
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
	if st.sid == "" {
		return
	}
	a.sidRefs[st.sid]--
	if a.sidRefs[st.sid] <= 0 {
		delete(a.sidRefs, st.sid)
		if a.docState != nil {
			a.pres.Leave(st.sid)
			a.presDue = true
			a.ownPeerGone(st.sid)
		}
	}
}

func (a *actor) markDeleted() {
	for sub := range a.subs {
		sub.Deliver(&Event{Kind: EventDeleted, Doc: a.id})
	}
	a.srv.metrics.joined.Sub(float64(len(a.subs)))
	clear(a.subs)
	clear(a.sidRefs)
	a.deleted = true
	a.srv.hub.retire(a)
}

func (a *actor) presence(m *presenceMsg) {
	sel, err := a.rawSel(&m.rawSel, m.sel)
	if err != nil {
		a.deliver(m.sub, &Event{Kind: EventError, Doc: a.id, Code: codeForSelErr(err), Msg: "sel: " + err.Error()})
		return
	}
	st := a.subs[m.sub]
	if st == nil || st.sid == "" {
		a.deliver(m.sub, &Event{Kind: EventError, Doc: a.id, Code: wire.CodeBadRequest, Msg: "presence: join the document first"})
		return
	}
	if m.v > a.v {
		a.deliver(m.sub, &Event{Kind: EventError, Doc: a.id, Code: wire.CodeBadRequest,
			Msg: fmt.Sprintf("presence: version %d is ahead of the document (%d)", m.v, a.v)})
		return
	}
	if sel != nil && m.v < a.v {
		ops, err := a.opsSince(m.v)
		if err != nil {
			a.log.Warn("reading ops to transform a presence failed", "from", m.v, "err", err)
			a.deliver(m.sub, &Event{Kind: EventError, Doc: a.id, Code: wire.CodeInternal, Msg: "presence: could not read the document history"})
			return
		}
		for _, r := range ops {
			if sel = sel.Transform(r.Op, st.sid == r.SID); sel == nil {
				break
			}
		}
	}
	sel, err = a.doc.FitSelection(sel)
	if err != nil {
		a.deliver(m.sub, &Event{Kind: EventError, Doc: a.id, Code: wire.CodeBadRequest, Msg: "presence: " + err.Error()})
		return
	}
	a.pres.Update(st.sid, sel, m.data, m.data != nil)
	a.presDue = true
	a.ownPeerChanged(st.sid)
}

func (a *actor) flushPresence() {
	a.publishPresence()
	a.deliverPresence()
}

// deliverPresence hands the presence changes since the last delivery to
// every subscriber, in one event.
func (a *actor) deliverPresence() {
	if a.docState == nil || !a.presDue {
		return
	}
	a.presDue = false
	changed, gone := a.pres.Flush()
	if len(changed) == 0 && len(gone) == 0 {
		return
	}
	ev := &Event{Kind: EventPresence, Doc: a.id, V: a.v, Gone: gone}
	ev.Peers = make([]wire.PeerInfo, len(changed))
	for i, p := range changed {
		ev.Peers[i] = peerToWire(p)
	}
	a.srv.metrics.presenceFlushs.Inc()
	for sub := range a.subs {
		a.deliver(sub, ev)
	}
}

func (a *actor) peerList() []wire.PeerInfo {
	peers := a.pres.Peers()
	out := make([]wire.PeerInfo, len(peers))
	for i, p := range peers {
		out[i] = peerToWire(p)
	}
	return out
}

// opsSince returns the committed ops [from, a.v): from the window when it
// reaches back far enough, else from the store. The records are shared and
// must not be modified.
func (a *actor) opsSince(from int64) ([]store.OpRecord, error) {
	if ops, ok := a.windowSince(from); ok {
		return ops, nil
	}
	ctx, cancel := a.storeCtx()
	defer cancel()
	ops, err := a.srv.store.ReadOps(ctx, a.id, from, int(a.v-from))
	if err != nil {
		return nil, fmt.Errorf("read ops %d..%d of %q: %w", from, a.v, a.id, err)
	}
	if len(ops) != int(a.v-from) || ops[0].Version != from {
		return nil, fmt.Errorf("read ops %d..%d of %q: store returned %d ops", from, a.v, a.id, len(ops))
	}
	return ops, nil
}

// errSeqNotIncreasing marks an op whose seq is below its sid's latest
// committed seq without having been committed itself.
var errSeqNotIncreasing = errors.New("seq is not increasing")

// committedAt reports the version (sid, seq) was committed at, if it was:
// from the state's marks and window (docState.lookupSeq), else the store.
func (a *actor) committedAt(sid string, seq int64) (int64, bool, error) {
	v, res, known := a.lookupSeq(sid, seq)
	switch res {
	case seqNew:
		return 0, false, nil
	case seqCommitted:
		return v, true, nil
	}
	ctx, cancel := a.storeCtx()
	defer cancel()
	v, found, err := a.srv.store.FindOp(ctx, a.id, sid, seq)
	if err != nil {
		return 0, false, fmt.Errorf("find op (%s, %d) in %q: %w", sid, seq, a.id, err)
	}
	if !found && known {
		return 0, false, errSeqNotIncreasing
	}
	return v, found, nil
}

// pending is an op of the batch being committed.
type pending struct {
	m    *opMsg
	rec  store.OpRecord
	sel  doctype.Selection
	dups []*opMsg // resubmissions of the same (sid, seq) within the batch
	ev   *Event   // apply's broadcast of it, whose frame publishOps sends along
}

type sidSeq struct {
	sid string
	seq int64
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

// prepare deduplicates, transforms and validates msgs against the current
// document, answering the ones that are settled without a commit (duplicates,
// invalid ops). It returns the ops to append, in version order, and the
// messages left for the next round (none today; the split keeps a batch within
// MaxBatch).
func (a *actor) prepare(msgs []*opMsg) (batch []*pending, rest []*opMsg) {
	working := a.doc.Clone()
	next := a.v
	inBatch := make(map[sidSeq]*pending)
	now := time.Now().UTC()
	// The history of the whole batch, read once: every op moves past the
	// ops committed since its version, then past the batch before it, and
	// all of those are one suffix of hist (from histFrom) and the ops
	// prepared so far. Under pipelined load the ops of a batch lag the head
	// by hundreds of versions; reading each op's history on its own made
	// every op past the window a store read of as many ops, so the actor
	// fell further behind the more it was behind.
	hist, histFrom := a.batchHistory(msgs)
	a.sinceOps, a.sinceSIDs = a.sinceOps[:0], a.sinceSIDs[:0]
	for _, r := range hist {
		a.sinceOps, a.sinceSIDs = append(a.sinceOps, r.Op), append(a.sinceSIDs, r.SID)
	}
	for i, m := range msgs {
		if len(batch) >= a.cfg().MaxBatch {
			return batch, msgs[i:]
		}
		if !a.decodeRaw(m) {
			continue
		}
		key := sidSeq{m.sid, m.seq}
		if p := inBatch[key]; p != nil {
			p.dups = append(p.dups, m)
			continue
		}
		if m.seq > 0 { // seq 0: a REST op without a client (sid, seq): never a duplicate
			v, found, err := a.committedAt(m.sid, m.seq)
			switch {
			case errors.Is(err, errSeqNotIncreasing):
				a.replyErr(m, wire.CodeBadRequest, fmt.Sprintf("seq %d is below the latest committed seq of this sid", m.seq), err)
				continue
			case err != nil:
				a.replyErr(m, wire.CodeInternal, "could not check for a duplicate op", err)
				continue
			case found:
				a.replyAck(m, v)
				continue
			}
		}
		if m.v > a.v {
			a.replyErr(m, wire.CodeInvalidOp, fmt.Sprintf("op version %d is ahead of the document (%d)", m.v, a.v), errVersionAhead)
			continue
		}
		var cs []doctype.Op
		var sids []string
		var nHistory int
		if m.v >= histFrom {
			cs, sids = a.sinceOps[m.v-histFrom:], a.sinceSIDs[m.v-histFrom:]
			nHistory = int(a.v - m.v)
		} else {
			// Older than the batch's history (which could not be read):
			// this op's own, as before.
			history, err := a.opsSince(m.v)
			if ce := (*store.CompactedError)(nil); errors.As(err, &ce) {
				a.replyErr(m, wire.CodeInvalidOp, compactedOpMsg(m.v, ce), err)
				continue
			}
			if err != nil {
				a.replyErr(m, wire.CodeInternal, "could not read the document history", err)
				continue
			}
			cs, sids = sinceOf(history, batch)
			nHistory = len(history)
		}
		// The op must fit the document it was made against, as sent (text:
		// a trailing retain past the end is invalid too, and neither the
		// canonical form nor the transformed op can tell any more): a.doc
		// is that document after its history.
		if err := m.op.CheckBase(a.doc, cs[:nHistory]); err != nil {
			a.replyErr(m, codeForOpErr(err), fmt.Sprintf("op does not fit the document at version %d: %v", m.v, err), err)
			continue
		}
		// Move the op past everything committed since its version (the
		// history, then this batch): concurrent inserts at one spot are
		// ordered by the authors' sids. The author's selection is after its
		// own op: it moves by each committed op as that looks past the
		// author's op.
		op, sel, terr := doctype.TransformAll(m.op, m.sid, cs, sids, m.sel)
		if terr != nil {
			a.replyErr(m, codeForOpErr(terr), "op does not fit the document: "+terr.Error(), terr)
			continue
		}
		if n := op.Size(); n > a.cfg().MaxOpBytes {
			err := fmt.Errorf("op of %d bytes is over the limit of %d: %w", n, a.cfg().MaxOpBytes, doctype.ErrTooLarge)
			a.replyErr(m, wire.CodeTooLarge, err.Error(), err)
			continue
		}
		before := working.Clone()
		applied, err := working.Apply(op)
		if err != nil {
			working = before
			a.replyErr(m, codeForOpErr(err), "op does not fit the document: "+err.Error(), err)
			continue
		}
		if working.Size() > a.cfg().MaxDocBytes {
			working = before
			a.replyErr(m, wire.CodeTooLarge, fmt.Sprintf("the document would exceed %d bytes", a.cfg().MaxDocBytes), nil)
			continue
		}
		if sel != nil {
			if sel, err = working.FitSelection(sel); err != nil {
				// A caret that does not fit is the client's bug; the edit itself is
				// fine, so keep the edit and drop the caret.
				a.log.Debug("dropping a selection that does not fit", "sid", m.sid, "seq", m.seq)
				sel = nil
			}
		}
		p := &pending{m: m, sel: sel, rec: store.OpRecord{
			Version: next, Op: applied, SID: m.sid, Seq: m.seq, UserID: m.userID, CreatedAt: now,
		}}
		next++
		batch = append(batch, p)
		a.sinceOps, a.sinceSIDs = append(a.sinceOps, applied), append(a.sinceSIDs, m.sid)
		if m.seq > 0 {
			inBatch[key] = p
		}
	}
	return batch, nil
}

// sinceOf lists the ops committed after an op's version and their authors:
// its history, then the ops of the batch before it.
func sinceOf(history []store.OpRecord, batch []*pending) ([]doctype.Op, []string) {
	ops, sids := make([]doctype.Op, 0, len(history)+len(batch)), make([]string, 0, len(history)+len(batch))
	for _, r := range history {
		ops, sids = append(ops, r.Op), append(sids, r.SID)
	}
	for _, p := range batch {
		ops, sids = append(ops, p.rec.Op), append(sids, p.rec.SID)
	}
	return ops, sids
}

// batchHistory returns the ops committed since the oldest version an op of
// msgs was made against, [from, a.v): from the window, else with one store
// read for the whole batch. When that read fails (the log was compacted
// there, the store is down) it returns from = a.v+1, and each op then reads
// its own history and answers its own error.
func (a *actor) batchHistory(msgs []*opMsg) (hist []store.OpRecord, from int64) {
	from = a.v
	for _, m := range msgs {
		if m.v >= 0 && m.v < from {
			from = m.v
		}
	}
	hist, err := a.opsSince(from)
	if err != nil {
		return nil, a.v + 1
	}
	return hist, from
}

func codeForOpErr(err error) string {
	if errors.Is(err, doctype.ErrTooLarge) {
		return wire.CodeTooLarge
	}
	return wire.CodeInvalidOp
}

// apply makes a stored batch the actor's state, then answers the authors and
// broadcasts the ops in version order, each encoded once for every receiver.
func (a *actor) apply(batch []*pending) {
	a.srv.metrics.batchSize.Observe(float64(len(batch)))
	a.srv.metrics.opsCommitted.Add(float64(len(batch)))
	a.hold()
	for _, p := range batch {
		// A forwarded op's author is adopted as bus ops are (applyOne).
		adopt := p.m.from == "" || a.nodes.remote[p.rec.SID] == p.m.from
		rec, sel, err := a.applyCommitted(p.rec, p.sel, adopt)
		if err != nil {
			// prepare applied the same ops to a clone of this document.
			panic(fmt.Sprintf("document %q: a committed op no longer applies: %v", a.id, err))
		}
		ev := &Event{Kind: EventOp, Doc: a.id, V: rec.Version, Op: &rec, Sel: sel}
		p.ev = ev
		// A forwarded op is acked by its node when it applies the
		// published commit (publishOps below).
		if p.m.from == "" {
			a.replyAck(p.m, rec.Version)
		}
		for _, d := range p.dups {
			if d.from == "" {
				a.replyAck(d, rec.Version)
			}
		}
		for sub := range a.subs {
			if sub != p.m.sub {
				a.deliver(sub, ev)
			}
		}
	}
	// The other nodes first: their clients' acks (of forwarded ops) wait
	// for this message, and it is durable already.
	a.publishOps(batch)
	a.releaseHeld()
}

// catchUp applies and broadcasts the ops another writer committed after a.v.
func (a *actor) catchUp() error {
	ctx, cancel := a.storeCtx()
	defer cancel()
	ops, err := a.srv.store.ReadOps(ctx, a.id, a.v, 0)
	if err != nil {
		return fmt.Errorf("catch up %q from %d: %w", a.id, a.v, err)
	}
	a.holdOnce()
	defer a.releaseHeld()
	for _, r := range ops {
		rec, _, err := a.applyCommitted(r, nil, false)
		if err != nil {
			return fmt.Errorf("catch up %q: %w", a.id, err)
		}
		a.deliverCommitted(&Event{Kind: EventOp, Doc: a.id, V: rec.Version, Op: &rec})
	}
	return nil
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
	a.deliver(m.sub, &Event{Kind: EventError, Doc: a.id, Code: code, Msg: msg, Seq: m.seq})
}

// decodeRaw decodes an op (and selection) that its connection kept raw
// because it did not know the document's type yet, answering an invalid one
// as the connection would have; false when it was answered.
func (a *actor) decodeRaw(m *opMsg) bool {
	if m.rawOp != nil {
		op, err := a.typ.DecodeOp(m.rawOp)
		if err != nil {
			a.replyErr(m, codeForOpErr(err), "op: "+err.Error(), err)
			return false
		}
		m.op, m.rawOp = op, nil
	}
	sel, err := a.rawSel(&m.rawSel, m.sel)
	if err != nil {
		a.replyErr(m, codeForSelErr(err), "sel: "+err.Error(), err)
		return false
	}
	m.sel = sel
	return true
}

// rawSel decodes *raw, a selection a connection kept raw, with the
// document's type and clears it; sel when there is none.
func (a *actor) rawSel(raw *msgpack.RawMessage, sel doctype.Selection) (doctype.Selection, error) {
	if *raw == nil {
		return sel, nil
	}
	sel, err := a.typ.DecodeSelection(*raw)
	*raw = nil
	return sel, err
}

// codeForSelErr is the code of a selection the document's type refused.
func codeForSelErr(err error) string {
	if errors.Is(err, doctype.ErrTooLarge) {
		return wire.CodeTooLarge
	}
	return wire.CodeBadRequest
}

func peerFromWire(p wire.PeerInfo) presence.Peer {
	return presence.Peer{SID: p.SID, User: p.User, Sel: p.Sel, Data: p.Data}
}

func peerToWire(p presence.Peer) wire.PeerInfo {
	return wire.PeerInfo{SID: p.SID, User: p.User, Sel: p.Sel, Data: p.Data}
}
