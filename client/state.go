package client

import (
	"fmt"

	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

// historyLen is how many recent server ops a document keeps at least to bring
// a presence update stamped with an older version up to date (see remember).
const historyLen = 256

// inflightOp is the one op sent and not yet acknowledged.
type inflightOp struct {
	op  ot.Op
	seq int64
}

// probeState exists while the client holds unacknowledged work but the server
// answered a re-join with the whole text instead of the missed ops. The client
// then cannot tell whether its in-flight op is already inside that text, so it
// resubmits the op against the version it was made on (the server either
// deduplicates it by (sid, seq) or transforms it) and freezes its local view
// until it knows an exact server state that contains the op.
type probeState struct {
	// oldBase and oldV are the server state the in-flight op was made against.
	oldBase *ot.Doc
	oldV    int64
	// acked is set once the op's ack came with a version the client has not
	// seen the op of; a re-join then fetches that exact op.
	acked bool
}

// peerSet is the remote peers of a document by session id, also kept as a
// slice: every committed op walks all of them (their selections move), and a
// slice walks several times faster than a map.
type peerSet struct {
	list  []*peerState
	index map[string]int // sid -> position in list
}

func (ps *peerSet) reset() {
	clear(ps.list)
	ps.list = ps.list[:0]
	ps.index = nil
}

// put adds or replaces the peer with session id sid.
func (ps *peerSet) put(sid string, p *peerState) {
	if i, ok := ps.index[sid]; ok {
		ps.list[i] = p
		return
	}
	if ps.index == nil {
		ps.index = map[string]int{}
	}
	ps.index[sid] = len(ps.list)
	ps.list = append(ps.list, p)
}

// remove drops the peer with session id sid, if any.
func (ps *peerSet) remove(sid string) {
	i, ok := ps.index[sid]
	if !ok {
		return
	}
	last := len(ps.list) - 1
	if i != last {
		ps.list[i] = ps.list[last]
		ps.index[ps.list[i].info.SID] = i
	}
	ps.list[last] = nil
	ps.list = ps.list[:last]
	delete(ps.index, sid)
}

// peerState is a remote peer's presence, its selection in server coordinates
// at the document's current version.
type peerState struct {
	info Peer
}

// histEntry is one committed server op and its author, kept to transform
// stale presence.
type histEntry struct {
	v   int64
	op  ot.Op
	sid string
}

// effects is what one state-machine step asks the connection layer to do once
// the document lock is released: messages to send (queued in order while the
// lock is held), and notifications for the application.
type effects struct {
	// noChanges: nobody listens for changes (no OnChange), so none are
	// collected; a passive client then allocates nothing per remote op here.
	noChanges bool
	changes   []Change
	acks      []AckInfo
	errs      []error
	presence  bool
}

// docState is the OT client state machine of one document (the classic
// synchronised / awaiting ack / awaiting ack with buffer machine). It is pure:
// no locks, no I/O. Messages it wants sent go through send, which the owner
// wires to the connection; every method is called with the owner's lock held.
//
// Invariants: base with basePending applied is exactly the server's document
// at version; text is what the user sees, equal to that with inflight then
// buffer applied (except while probing, see probeState).
//
// Both are ropes (ot.Doc), so a remote op costs O(log n) on each instead of
// copying and re-validating the whole text, which is what a client pays for
// every op any peer commits. They are treated as immutable values: a new
// state is built with withOp, never by applying to the Doc in place, because
// an older one may still be held (probeState.oldBase). The text as a Go string
// is built only when asked for (Text, Edit) and cached until text changes.
//
// The base is brought up to date lazily: a server op that arrives while an op
// of ours is in flight is queued in basePending (its fit is checked against
// baseLen) rather than applied, because the ack usually follows and then,
// with nothing buffered, the base is simply the local text. Every client pays
// for every op its peers commit, so this halves that cost; readers of the
// base go through baseDoc.
type docState struct {
	docID string
	sid   string
	send  func(wire.Message)

	base *ot.Doc // nil is the empty document, as for every *ot.Doc here
	// basePending are server ops after base, up to version, not yet applied
	// to it; baseLen is the length in code points of base with them applied.
	basePending []ot.Op
	baseLen     int
	version     int64
	text        *ot.Doc
	// textStr is text as a string when textOK; see textString.
	textStr string
	textOK  bool

	inflight *inflightOp
	buffer   ot.Op // nil when nothing is buffered
	lastSeq  int64

	// joined: a joined answer was seen on the current session, so ops may be sent.
	joined bool
	// rejoining: a join was sent to close a gap; ops and acks are ignored until
	// the joined answer, which carries everything after version.
	rejoining bool
	// gaps counts the re-joins made because the server's stream was not
	// what it must be (Doc.Gaps).
	gaps int
	// synced: the document has been joined at least once (base is meaningful).
	synced bool
	probe  *probeState
	mode   string

	sel      ot.Selection
	selData  []byte // raw MessagePack of the presence data map, nil when none
	selDirty bool

	peers   peerSet
	history []histEntry

	// dead is set once the document is detached (deleted, closed).
	dead error
}

func newDocState(docID, sid string, lastSeq int64, send func(wire.Message)) *docState {
	return &docState{docID: docID, sid: sid, lastSeq: lastSeq, send: send}
}

// withOp returns d with op applied, leaving d untouched. Clone shares every
// node of the rope, so this costs what Apply costs: O(log n) for a small op.
// The op is validated and must fit d (errors as ot.Apply's).
func withOp(d *ot.Doc, op ot.Op) (*ot.Doc, error) {
	next := d.Clone()
	if err := next.Apply(op); err != nil {
		return nil, err
	}
	return next, nil
}

// maxBasePending bounds the ops queued for the base, so that a client whose
// op stays in flight for long does not keep a growing list.
const maxBasePending = 64

// setBase sets the server's document at the current version.
func (s *docState) setBase(d *ot.Doc) {
	s.base, s.basePending, s.baseLen = d, s.basePending[:0], d.Len()
}

// baseDoc is the server's document at version, with pending ops applied.
func (s *docState) baseDoc() (*ot.Doc, error) {
	if len(s.basePending) == 0 {
		return s.base, nil
	}
	d := s.base.Clone()
	for i, op := range s.basePending {
		if err := d.Apply(op); err != nil {
			return nil, fmt.Errorf("client: server op v%d does not apply to %q: %w", s.version-int64(len(s.basePending)-i), s.docID, err)
		}
	}
	s.setBase(d)
	return d, nil
}

// mustBase is baseDoc for callers that cannot go on without it: on error the
// document fails (the ops were checked to fit on arrival, so this means a
// broken server) and the stale base is returned.
func (s *docState) mustBase() *ot.Doc {
	d, err := s.baseDoc()
	if err != nil {
		s.fail(err)
		return s.base
	}
	return d
}

// advanceBase records the committed server op op at the current version
// onto the base: applied now when nothing of ours is pending (serverOp then
// uses the result as the local text too), queued otherwise.
func (s *docState) advanceBase(op ot.Op) error {
	if len(s.basePending) < maxBasePending && (s.inflight != nil || s.buffer != nil) {
		// The op was validated by the decoder; only its fit depends on the
		// base. Applying it later (baseDoc) checks everything again.
		if op.BaseLen() > s.baseLen {
			return fmt.Errorf("%w: op reads %d code points of a %d code point document", ot.ErrDoesNotFit, op.BaseLen(), s.baseLen)
		}
		s.basePending = append(s.basePending, op)
		s.baseLen += op.TargetLen() - op.BaseLen()
		return nil
	}
	base, err := s.baseDoc()
	if err != nil {
		return err
	}
	next, err := withOp(base, op)
	if err != nil {
		return err
	}
	s.setBase(next)
	return nil
}

// setText replaces the local view; its string form is rebuilt on demand.
func (s *docState) setText(d *ot.Doc) {
	s.text, s.textStr, s.textOK = d, "", false
}

// textString is the local view as a string. It is built at most once per
// change of the text, and not at all for a client that never reads it (a
// receiving bot, or a load generator's passive clients).
func (s *docState) textString() string {
	if !s.textOK {
		s.textStr, s.textOK = s.text.String(), true
	}
	return s.textStr
}

// isSynced reports that nothing local is waiting for the server.
func (s *docState) isSynced() bool {
	return s.joined && !s.rejoining && s.inflight == nil && s.buffer == nil && s.probe == nil
}

// pending counts the local ops not yet acknowledged: the one in flight and
// the buffered composition.
func (s *docState) pending() int {
	n := 0
	if s.inflight != nil {
		n++
	}
	if s.buffer != nil {
		n++
	}
	return n
}

// editSeq is the seq of the op that carries the newest local edit (Doc.EditSeq):
// the buffer goes out as the op after the last one sent (flush), else the
// newest edit rode in the last op sent.
func (s *docState) editSeq() int64 {
	if s.buffer != nil {
		return s.lastSeq + 1
	}
	return s.lastSeq
}

// local applies an edit the user made against the current local text.
func (s *docState) local(op ot.Op) error {
	if s.dead != nil {
		return s.dead
	}
	if s.synced && s.mode == wire.ModeRead {
		return ErrReadOnly
	}
	text, err := withOp(s.text, op)
	if err != nil {
		return fmt.Errorf("client: local op on %q: %w", s.docID, err)
	}
	op = op.Normalize()
	if op.IsNoop() {
		return nil
	}
	s.setText(text)
	// The user's own caret after the user's own insert ends after it.
	s.sel = transformSel(s.sel, s.sid, op, s.sid)
	if s.buffer == nil {
		s.buffer = op
	} else {
		c, err := ot.Compose(s.buffer, op)
		if err != nil {
			return fmt.Errorf("client: compose local edits on %q: %w", s.docID, err)
		}
		s.buffer = c.Normalize()
	}
	s.flush()
	return nil
}

// setSelection records the user's selection (local coordinates) and sends it
// when the protocol allows.
func (s *docState) setSelection(sel ot.Selection, data []byte) {
	s.sel = sel
	s.selData = data
	s.selDirty = true
	s.flush()
}

// flush sends the buffered edits when nothing is in flight, or the pending
// selection when nothing at all is unacknowledged.
func (s *docState) flush() {
	if !s.joined || s.rejoining || s.probe != nil || s.inflight != nil || s.dead != nil {
		return
	}
	if s.buffer != nil {
		s.lastSeq++
		s.inflight = &inflightOp{op: s.buffer, seq: s.lastSeq}
		s.buffer = nil
		m := &wire.Op{Doc: s.docID, V: s.version, Seq: s.inflight.seq, Op: s.inflight.op}
		if s.selDirty {
			// With nothing else pending, the local text is exactly the document
			// after this op, so the local selection is in the op's coordinates.
			m.Sel = s.sel
			s.selDirty = false
		}
		s.send(m)
		return
	}
	if s.selDirty {
		s.selDirty = false
		s.send(&wire.Presence{Doc: s.docID, V: s.version, Sel: s.sel, Data: s.selData})
	}
}

// onSession is called when a new session is ready: the document (re-)joins,
// with its version when it has one so that only missed ops come back.
func (s *docState) onSession() {
	s.joined = false
	s.rejoining = false
	if s.dead != nil {
		return
	}
	if s.sel != nil {
		// Peers forgot this client's caret when the old connection dropped.
		s.selDirty = true
	}
	j := &wire.Join{Doc: s.docID}
	if s.synced {
		v := s.version
		j.V = &v
	}
	s.send(j)
}

// onDisconnect is called when the session carrying this document ends.
func (s *docState) onDisconnect() {
	s.joined = false
	s.rejoining = false
}

// rejoin asks for everything after version, to recover from a gap or a
// dropped op.
func (s *docState) rejoin() {
	if s.rejoining || !s.joined {
		return
	}
	s.rejoining = true
	v := s.version
	s.send(&wire.Join{Doc: s.docID, V: &v})
}

// onJoined handles the answer to a join.
func (s *docState) onJoined(j *wire.Joined, fx *effects) {
	if s.dead != nil {
		return
	}
	if j.DocType != "" && j.DocType != textdoc.Name {
		// This client edits text documents only.
		s.fail(&ServerError{Code: CodeWrongType, Msg: fmt.Sprintf("document %q is of type %q; this client edits text", s.docID, j.DocType), Doc: s.docID})
		return
	}
	s.joined = true
	s.rejoining = false
	s.mode = j.Mode
	if j.Content != nil {
		s.joinedText(textdoc.String(j.Content), j.V, fx)
	} else {
		for i := range j.Ops {
			e := &j.Ops[i]
			if e.V < s.version {
				continue
			}
			if !s.serverOp(e.V, textdoc.Op(e.Op), e.SID, e.Seq, nil, fx) {
				return
			}
		}
		if s.version != j.V {
			// The ops did not reach the announced version: ask again.
			s.gaps++
			s.rejoin()
			return
		}
		if s.probe != nil {
			if s.probe.acked {
				// The op list is exact and the acked probe op was among it.
				s.resolveProbe(fx)
			} else {
				// Unknown yet whether it is in: submit it again from its base.
				s.send(&wire.Op{Doc: s.docID, V: s.probe.oldV, Seq: s.inflight.seq, Op: s.inflight.op})
			}
		}
	}
	s.peers.reset()
	for _, p := range j.Peers {
		if p.SID == s.sid {
			continue
		}
		s.peers.put(p.SID, &peerState{info: peerFromWire(p)})
	}
	fx.presence = true
	if s.inflight != nil && s.probe == nil {
		// Resubmit with the same seq: if the old submission was committed after
		// all, the server recognises (sid, seq) and only acknowledges it.
		s.send(&wire.Op{Doc: s.docID, V: s.version, Seq: s.inflight.seq, Op: s.inflight.op})
	}
	s.flush()
}

// joinedText handles a joined answer carrying the whole text at version v.
func (s *docState) joinedText(text string, v int64, fx *effects) {
	doc, err := ot.NewDoc(text)
	if err != nil {
		s.fail(fmt.Errorf("client: joined text of %q at v%d: %w", s.docID, v, err))
		return
	}
	switch {
	case !s.synced:
		s.setBase(doc)
		s.version, s.synced = v, true
		// The string is at hand: the first Text after a join costs nothing.
		s.text, s.textStr, s.textOK = doc, text, true
		if s.buffer != nil {
			// Edits made before the first join were made on an empty document.
			s.buffer = rebaseOnto(s.buffer, "", text)
			if t, err := withOp(doc, s.buffer); err == nil {
				s.setText(t)
			} else {
				s.buffer = nil
			}
		}
	case s.probe != nil && s.probe.acked:
		// Asked for the op the probe was acked as; this newer text contains it.
		s.setBase(doc)
		s.version = v
		s.resolveProbe(fx)
	case s.probe != nil:
		// Still unknown whether the probe op is in: probe again from here.
		s.setBase(doc)
		s.version = v
		s.send(&wire.Op{Doc: s.docID, V: s.probe.oldV, Seq: s.inflight.seq, Op: s.inflight.op})
	case s.inflight == nil:
		old, oldBase := s.textString(), s.mustBase()
		s.setBase(doc)
		s.version = v
		if s.buffer != nil {
			s.buffer = rebaseOnto(s.buffer, oldBase.String(), text)
		}
		s.resetLocal(old, fx)
	case v == s.version:
		// Nothing was committed since our base: the in-flight op is resubmitted.
	default:
		s.probe = &probeState{oldBase: s.mustBase(), oldV: s.version}
		s.setBase(doc)
		s.version = v
		s.send(&wire.Op{Doc: s.docID, V: s.probe.oldV, Seq: s.inflight.seq, Op: s.inflight.op})
	}
}

// onAck handles the acknowledgement of one of this client's ops.
func (s *docState) onAck(seq, v int64, fx *effects) {
	if !s.joined || s.rejoining || s.dead != nil {
		return
	}
	if s.probe != nil {
		s.probeAck(seq, v, fx)
		return
	}
	if s.inflight == nil || seq != s.inflight.seq {
		if v < s.version {
			return // a duplicate answer to a resubmission already settled
		}
		s.gaps++
		s.rejoin()
		return
	}
	switch {
	case v < s.version:
		// Our op was committed at a version we already hold without having
		// recognised it: the local state cannot be trusted.
		s.gaps++
		s.rejoin()
		return
	case v > s.version:
		s.gaps++
		s.rejoin()
		return
	}
	s.ackInflight(fx)
}

// ackInflight moves the in-flight op into the base.
func (s *docState) ackInflight(fx *effects) {
	if s.buffer == nil {
		// text is base, pending ops and inflight applied: exactly the new base.
		s.setBase(s.text)
	} else {
		base, err := s.baseDoc()
		if err == nil {
			base, err = withOp(base, s.inflight.op)
		}
		if err != nil {
			s.fail(fmt.Errorf("client: acknowledged op does not apply to %q at v%d: %w", s.docID, s.version, err))
			return
		}
		s.setBase(base)
	}
	s.remember(s.version, s.inflight.op, s.sid)
	fx.acks = append(fx.acks, AckInfo{Seq: s.inflight.seq, V: s.version})
	s.version++
	for _, p := range s.peers.list {
		p.info.Sel = transformSel(p.info.Sel, p.info.SID, s.inflight.op, s.sid)
	}
	s.inflight = nil
	s.flush()
}

// onOp handles an op broadcast by the server.
func (s *docState) onOp(m *wire.OpBroadcast, fx *effects) {
	if !s.joined || s.rejoining || s.dead != nil {
		return
	}
	if m.V < s.version {
		return
	}
	if m.V > s.version {
		s.gaps++
		s.rejoin()
		return
	}
	s.serverOp(m.V, textdoc.Op(m.Op), m.SID, m.Seq, textdoc.OfSelection(m.Sel), fx)
}

// serverOp applies the committed op at version v (== s.version). It reports
// false when it had to give up (and re-join).
func (s *docState) serverOp(v int64, op ot.Op, sid string, seq int64, sel ot.Selection, fx *effects) bool {
	if sid == s.sid && s.inflight != nil && seq == s.inflight.seq {
		if s.probe != nil {
			// The probe op is committed: the base now contains it.
			if err := s.advanceBase(op); err != nil {
				s.fail(fmt.Errorf("client: server op v%d does not apply to %q: %w", v, s.docID, err))
				return false
			}
			s.remember(v, op, sid)
			fx.acks = append(fx.acks, AckInfo{Seq: seq, V: v})
			s.version++
			s.resolveProbe(fx)
			return true
		}
		// Our own op, committed while we were away: it is an acknowledgement.
		s.ackInflight(fx)
		return s.dead == nil
	}
	if err := s.advanceBase(op); err != nil {
		s.fail(fmt.Errorf("client: server op v%d does not apply to %q: %w", v, s.docID, err))
		return false
	}
	s.remember(v, op, sid)
	s.version++
	for _, p := range s.peers.list {
		if p.info.SID == sid && sel != nil {
			p.info.Sel = sel
			continue
		}
		// Without a new selection the author's caret follows its own insert.
		p.info.Sel = transformSel(p.info.Sel, p.info.SID, op, sid)
	}
	if s.probe != nil {
		return true // the local view stays frozen until the probe resolves
	}
	// The server op was committed first; where it and ours insert at one
	// spot, the authors' sids decide which goes left.
	local := op
	if s.inflight != nil {
		inf, l2, err := ot.TransformPair(s.inflight.op, s.sid, local, sid)
		if err != nil {
			s.fail(fmt.Errorf("client: transform against in-flight op on %q: %w", s.docID, err))
			return false
		}
		s.inflight.op, local = inf, l2
	}
	if s.buffer != nil {
		buf, l2, err := ot.TransformPair(s.buffer, s.sid, local, sid)
		if err != nil {
			s.fail(fmt.Errorf("client: transform against buffered op on %q: %w", s.docID, err))
			return false
		}
		s.buffer, local = buf, l2
	}
	if s.inflight == nil && s.buffer == nil {
		// Nothing of ours is pending, so the local text was the base, to which
		// advanceBase has just applied op: one apply serves both.
		s.setText(s.base)
	} else {
		text, err := withOp(s.text, local)
		if err != nil {
			s.fail(fmt.Errorf("client: transformed server op v%d does not apply to local %q: %w", v, s.docID, err))
			return false
		}
		s.setText(text)
	}
	// Someone else's insert at the user's caret stays after it.
	s.sel = transformSel(s.sel, s.sid, local, sid)
	if !fx.noChanges {
		fx.changes = append(fx.changes, Change{Op: local, V: v, SID: sid, Seq: seq})
	}
	return true
}

// probeAck handles an ack while probing (see probeState).
func (s *docState) probeAck(seq, v int64, fx *effects) {
	if s.inflight == nil || seq != s.inflight.seq {
		return
	}
	fx.acks = append(fx.acks, AckInfo{Seq: seq, V: v})
	if v < s.version {
		// Every op from the text's version on went through serverOp, which
		// would have recognised ours: so it was already inside the text.
		s.resolveProbe(fx)
		return
	}
	// Committed now, transformed by the server in a way we cannot reproduce
	// exactly: fetch that op (a re-join from our exact base returns it).
	s.probe.acked = true
	s.rejoin()
}

// resolveProbe ends probing once the base contains the in-flight op: the
// buffered edits are rebased onto the base and the local view catches up.
func (s *docState) resolveProbe(fx *effects) {
	p := s.probe
	s.probe = nil
	old := s.textString()
	withInflight, err := withOp(p.oldBase, s.inflight.op)
	s.inflight = nil
	if err != nil {
		withInflight = p.oldBase
	}
	if s.buffer != nil {
		s.buffer = rebaseOnto(s.buffer, withInflight.String(), s.mustBase().String())
	}
	s.resetLocal(old, fx)
	s.flush()
}

// resetLocal recomputes the local text from base and buffer after a jump the
// state machine could not follow op by op, and reports it as one change. old
// is the local text before the jump. It is O(n) (diffOp compares the texts),
// which only re-joins and rejections pay.
func (s *docState) resetLocal(old string, fx *effects) {
	base := s.mustBase()
	text := base
	if s.buffer != nil {
		t, err := withOp(base, s.buffer)
		if err != nil {
			s.buffer = nil
		} else {
			text = t
		}
	}
	s.setText(text)
	d := diffOp(old, s.textString())
	s.sel = transformSel(s.sel, s.sid, d, "")
	if !d.IsNoop() {
		fx.changes = append(fx.changes, Change{Op: d, V: s.version, Reset: true})
	}
}

// onError handles an error the server sent about this document.
func (s *docState) onError(e *wire.Error, fx *effects) (retry bool) {
	switch e.Code {
	case wire.CodeDeleted:
		s.dead = &ServerError{Code: e.Code, Msg: e.Msg, Doc: s.docID}
		fx.errs = append(fx.errs, s.dead)
		return false
	case wire.CodeRateLimited:
		if e.Seq != 0 && s.inflight != nil && e.Seq == s.inflight.seq {
			return true
		}
		if e.Seq == 0 && s.sel != nil {
			s.selDirty = true
			return true
		}
		return false
	case wire.CodeInvalidOp, wire.CodeTooLarge, wire.CodeForbidden, wire.CodeBadRequest:
		if e.Seq == 0 || s.inflight == nil || e.Seq != s.inflight.seq {
			fx.errs = append(fx.errs, &ServerError{Code: e.Code, Msg: e.Msg, Doc: s.docID, Seq: e.Seq})
			return false
		}
		// The op is dropped for good, and what was buffered was built on it.
		rej := &RejectedError{ServerError: ServerError{Code: e.Code, Msg: e.Msg, Doc: s.docID, Seq: e.Seq}, Op: s.inflight.op}
		old := s.textString()
		s.inflight, s.buffer, s.probe = nil, nil, nil
		s.resetLocal(old, fx)
		fx.errs = append(fx.errs, rej)
		s.rejoin()
		return false
	case wire.CodeInternal:
		fx.errs = append(fx.errs, &ServerError{Code: e.Code, Msg: e.Msg, Doc: s.docID, Seq: e.Seq})
		s.rejoin()
		return false
	}
	fx.errs = append(fx.errs, &ServerError{Code: e.Code, Msg: e.Msg, Doc: s.docID, Seq: e.Seq})
	return false
}

// retry resends what a rate limit dropped.
func (s *docState) retry() {
	if !s.joined || s.rejoining || s.dead != nil {
		return
	}
	if s.inflight != nil && s.probe == nil {
		s.send(&wire.Op{Doc: s.docID, V: s.version, Seq: s.inflight.seq, Op: s.inflight.op})
		return
	}
	s.flush()
}

// onPresence merges a presence update.
func (s *docState) onPresence(m *wire.PresenceMsg, fx *effects) {
	if !s.joined || s.dead != nil {
		return
	}
	for _, sid := range m.Gone {
		s.peers.remove(sid)
	}
	for _, p := range m.Peers {
		if p.SID == s.sid {
			continue
		}
		info := peerFromWire(p)
		sel, ok := s.catchUp(info.Sel, p.SID, m.V)
		if !ok {
			sel = nil
		}
		info.Sel = sel
		s.peers.put(p.SID, &peerState{info: info})
	}
	fx.presence = true
}

// catchUp transforms owner's selection at version v to the current version
// through the remembered ops.
func (s *docState) catchUp(sel ot.Selection, owner string, v int64) (ot.Selection, bool) {
	if v == s.version || sel == nil {
		return sel, v <= s.version
	}
	if v > s.version || len(s.history) == 0 || s.history[0].v > v {
		return nil, false
	}
	for _, h := range s.history {
		if h.v >= v {
			sel = transformSel(sel, owner, h.op, h.sid)
		}
	}
	return sel, true
}

// remember keeps op in the history. Once full, the history holds the last
// historyLen to 2*historyLen-1 ops: the older ones are dropped in one go when
// the next op would make 2*historyLen, so that remembering costs O(1)
// amortised instead of moving historyLen entries for every op.
func (s *docState) remember(v int64, op ot.Op, sid string) {
	if len(s.history) >= 2*historyLen-1 {
		n := copy(s.history, s.history[len(s.history)-historyLen+1:])
		clear(s.history[n:])
		s.history = s.history[:n]
	}
	s.history = append(s.history, histEntry{v: v, op: op, sid: sid})
}

// peersView returns the peers with their selections moved through the local
// pending ops, so they line up with Text.
func (s *docState) peersView() []Peer {
	out := make([]Peer, 0, len(s.peers.list))
	for _, p := range s.peers.list {
		info := p.info
		if s.probe == nil {
			if s.inflight != nil {
				info.Sel = transformSel(info.Sel, info.SID, s.inflight.op, s.sid)
			}
			if s.buffer != nil {
				info.Sel = transformSel(info.Sel, info.SID, s.buffer, s.sid)
			}
		}
		out = append(out, info)
	}
	return out
}

// fail detaches the document after an internal inconsistency; it should never
// happen with a conforming server.
func (s *docState) fail(err error) {
	if s.dead == nil {
		s.dead = err
	}
}
