package server

import (
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/presence"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// docState is the pure state of one open document: its content and version,
// the window of latest ops, the (sid, seq) marks that make resubmissions
// idempotent, its presence (the peers, their selections, how many
// subscriptions each sid has here), and the rules over them: which submitted
// ops are resubmissions, refused, or moved past what was committed since
// their version (prepare, state_prepare.go), and where a caret made at an
// older version goes now (movePresence). It does no I/O, starts no goroutine
// and reads no clock: the actor (actor.go) owns one and does the mailbox,
// the store, the bus and the timing around it; where a rule needs what only
// the store has (ops older than the window, a (sid, seq) older than the
// marks), the state says so and the actor reads it and calls again. The
// table tests in state_test.go drive it alone.
//
// Every committed op, whichever way it came (a commit of this node, a
// catch-up from the store, another node's op from the bus), goes through
// applyCommitted, or applyBatch for a batch this node prepared, which share
// everything but applying the content, so the content, the window, the marks
// and the carets never disagree.
type docState struct {
	typ doctype.Type
	doc doctype.Content // the content at v, changed in place by Apply
	v   int64
	// window is the latest ops, window[i].Version == v-len(window)+i, as
	// records; cold holds, encoded, the ops before them that windowAge
	// keeps (state_cold.go). Together they are the op window.
	window []store.OpRecord
	cold   coldOps
	// opWindow is how many ops window keeps at least (Config.OpWindow); it
	// holds between opWindow and twice that, so trimming is amortised.
	opWindow int
	// windowAge and windowMax (Config.OpWindowAge, OpWindowMax) keep, beyond
	// opWindow, the ops committed within windowAge of the newest, in cold,
	// up to windowMax ops in the whole window (plus up to opWindow between
	// trims). Zero: count only.
	windowAge time.Duration
	windowMax int
	// windowMaxBytes (Config.OpWindowMaxBytes) bounds what windowAge keeps by
	// the ops' sizes: past it the window keeps opWindow ops only. windowBytes
	// is the size of every op in the window (cold included).
	windowMaxBytes int
	windowBytes    int
	last           map[string]seqMark
	pres           *presence.Set
	presDue        bool            // presence changed since the last flush
	flushBuf       []presence.Peer // takePresence's buffer, empty between flushes
	sidRefs        map[string]int  // subscriptions per presence sid (a tab may reconnect before its old socket is gone)

	limits prepLimits
	prep   prepState
}

// prepState is prepare's: its buffers, and the content after the batch it
// prepared last (next, whose first op is first) for applyBatch. Anything
// that moves the version forgets next.
type prepState struct {
	reads   prepReads
	answers []answer
	// inBatch finds a batch's resubmissions once it is past shortBatch
	// (inBatchOf); inBatchOn says it holds the current batch.
	inBatch   map[sidSeq]*pending
	inBatchOn bool
	// ops and sids are the ops a batch's ops move past, and their authors:
	// the history, then the batch so far.
	ops   []doctype.Op
	sids  []string
	next  doctype.Content
	first *pending
}

// seqMark is the latest committed (seq, version) of one sid.
type seqMark struct {
	seq int64
	v   int64
}

// newDocState returns the state of a document of type typ whose content is
// doc at version v, with the ops window (the latest ops, in order, ending at
// v) already committed.
func newDocState(typ doctype.Type, doc doctype.Content, v int64, window []store.OpRecord, opWindow int) (*docState, error) {
	if n := int64(len(window)); n > v || (n > 0 && window[0].Version != v-n) {
		return nil, fmt.Errorf("a window of %d ops does not end at version %d", n, v)
	}
	s := &docState{typ: typ, doc: doc, v: v, window: window, opWindow: max(opWindow, 1),
		last: make(map[string]seqMark), pres: presence.NewSet(), sidRefs: make(map[string]int),
		limits: prepLimits{maxBatch: 1 << 30, maxOpBytes: 1 << 62, maxDocBytes: 1 << 62}}
	for _, r := range window {
		s.windowBytes += r.Op.Size()
		s.noteSeq(r)
	}
	return s, nil
}

// applyCommitted makes rec, an op committed at version s.v, the state: the
// content applies it, the window and the marks remember it (with the op as
// applied), every caret moves through it, and sel, the author's selection
// after it, is fitted to the new content. When adopt is set and sel
// survives, it becomes the author's selection (presence then has a change to
// flush). It returns the record and the selection to broadcast. On error
// (a version out of order, an op that does not apply) nothing changed.
func (s *docState) applyCommitted(rec store.OpRecord, sel doctype.Selection, adopt bool) (store.OpRecord, doctype.Selection, error) {
	if rec.Version != s.v {
		return rec, nil, fmt.Errorf("op at version %d applied to a document at %d", rec.Version, s.v)
	}
	applied, err := s.doc.Apply(rec.Op)
	if err != nil {
		return rec, nil, fmt.Errorf("op at version %d does not apply: %w", rec.Version, err)
	}
	s.prep.next, s.prep.first = nil, nil // prepared against the content before
	rec.Op = applied
	if sel != nil {
		if sel, err = s.doc.FitSelection(sel); err != nil {
			sel = nil // a caret that does not fit is dropped, the edit is not
		}
	}
	s.committed(rec, sel, adopt)
	return rec, sel, nil
}

// committed is what applyCommitted and applyBatch share once the content
// holds rec: the version, the window, the marks and the carets move.
func (s *docState) committed(rec store.OpRecord, sel doctype.Selection, adopt bool) {
	s.v++
	s.remember(rec)
	// Without a new selection the author's caret follows its own insert,
	// which is also how receivers move it.
	s.pres.Transform(rec.Op, rec.SID)
	if sel != nil && adopt {
		s.pres.Update(rec.SID, sel, nil, false)
		s.presDue = true
	}
}

// applyBatch makes batch, which prepare returned and the store has now
// stored, the state, with each op's record and selection as applied (in
// p.rec and p.sel): as applyCommitted would one by one, but the content is
// the one prepare built after the batch, so no op is applied a second time
// (and the selections were fitted there). The author's selection is adopted
// where p.adopt is set. When the content moved since prepare (a catch-up in
// between), it applies op by op.
func (s *docState) applyBatch(batch []*pending) error {
	pr := &s.prep
	if len(batch) == 0 || pr.next == nil || pr.first != batch[0] || batch[0].rec.Version != s.v {
		for _, p := range batch {
			rec, sel, err := s.applyCommitted(p.rec, p.sel, p.adopt)
			if err != nil {
				return err
			}
			p.rec, p.sel = rec, sel
		}
		return nil
	}
	next := pr.next
	pr.next, pr.first = nil, nil
	for _, p := range batch {
		if p.rec.Version != s.v {
			return fmt.Errorf("prepared op at version %d applied to a document at %d", p.rec.Version, s.v)
		}
		s.committed(p.rec, p.sel, p.adopt)
	}
	s.doc = next
	return nil
}

// remember appends a committed op to the window and trims it.
func (s *docState) remember(r store.OpRecord) {
	s.window = append(s.window, r)
	s.windowBytes += r.Op.Size()
	if len(s.window) > 2*s.opWindow {
		s.trimWindow()
	}
	s.noteSeq(r)
}

// trimWindow moves the oldest ops past the latest opWindow out of window,
// once it holds twice that, so that trimming costs an amortised constant
// per op: into cold when windowAge keeps them, and drops from cold the ops
// that are no longer within windowAge of the newest (or beyond windowMax
// ops in the whole window); past windowMaxBytes of ops, cold goes whole.
// Commit times come from the records, so the state still reads no clock;
// records without one count as old.
func (s *docState) trimWindow() {
	n := len(s.window)
	move := n - s.opWindow
	newest := s.window[n-1].CreatedAt
	overBytes := s.windowMaxBytes > 0 && s.windowBytes > s.windowMaxBytes
	if s.windowAge > 0 && !newest.IsZero() && !overBytes {
		for i := range s.window[:move] {
			r := &s.window[i]
			s.cold.add(r, r.Op.Size()) // its size stays in windowBytes
		}
		drop := s.cold.firstAfter(newest.Add(-s.windowAge))
		if s.windowMax > 0 {
			drop = max(drop, s.cold.len()-max(s.windowMax-s.opWindow, 0))
		}
		before := s.cold.bytes
		s.cold.dropFirst(drop)
		s.windowBytes -= before - s.cold.bytes
	} else {
		for _, r := range s.window[:move] {
			s.windowBytes -= r.Op.Size()
		}
		s.windowBytes -= s.cold.bytes
		s.cold.reset()
	}
	// A new array: the records are shared (windowSince), never overwritten.
	s.window = append([]store.OpRecord(nil), s.window[move:]...)
}

// windowStart is the version of the oldest op in the window.
func (s *docState) windowStart() int64 {
	if s.cold.len() > 0 {
		return s.cold.first
	}
	return s.v - int64(len(s.window))
}

// noteSeq records a committed op for deduplication.
func (s *docState) noteSeq(r store.OpRecord) {
	if r.Seq <= 0 {
		return // no client seq (a REST op with a server-made sid): nothing to deduplicate
	}
	if m, ok := s.last[r.SID]; !ok || r.Seq > m.seq {
		s.last[r.SID] = seqMark{seq: r.Seq, v: r.Version}
	}
}

// seqLookup is what the state knows of a (sid, seq).
type seqLookup int

const (
	seqNew       seqLookup = iota + 1 // never committed
	seqCommitted                      // committed at the version returned
	seqAsk                            // the state cannot tell: ask the store
)

// lookupSeq reports whether (sid, seq) was committed, from the marks and the
// window. seqs increase with versions per sid, so a seq above the sid's latest
// one is new without asking the store; known says the sid has a mark (a seq
// below it that the store does not hold is then out of order).
func (s *docState) lookupSeq(sid string, seq int64) (v int64, res seqLookup, known bool) {
	m, known := s.last[sid]
	if known {
		if seq > m.seq {
			return 0, seqNew, true
		}
		if seq == m.seq {
			return m.v, seqCommitted, true
		}
		for i := len(s.window) - 1; i >= 0; i-- {
			if r := &s.window[i]; r.SID == sid && r.Seq == seq {
				return r.Version, seqCommitted, true
			}
		}
		for i := s.cold.len() - 1; i >= 0; i-- {
			if s.cold.recs[i].seq == seq && string(s.cold.sidBytes(i)) == sid {
				return s.cold.first + int64(i), seqCommitted, true
			}
		}
	}
	if s.windowStart() == 0 && !known {
		return 0, seqNew, false // the window is the whole history
	}
	return 0, seqAsk, known
}

// windowSince returns the committed ops [from, v) when the window reaches
// back that far (ok false otherwise: read the store). The records are shared
// and must not be modified. Ops from cold are decoded, as a store read
// would; one that does not decode makes it answer ok false.
func (s *docState) windowSince(from int64) (ops []store.OpRecord, ok bool) {
	if from >= s.v {
		return nil, true
	}
	start := s.v - int64(len(s.window))
	if from >= start {
		return s.window[from-start:], true
	}
	if s.cold.len() == 0 || from < s.cold.first {
		return nil, false
	}
	ops = make([]store.OpRecord, 0, s.v-from)
	for i := int(from - s.cold.first); i < s.cold.len(); i++ {
		r, err := s.cold.record(s.typ, i)
		if err != nil {
			return nil, false
		}
		ops = append(ops, r)
	}
	return append(ops, s.window...), true
}

// needOps is a rule's answer when it needs committed ops the window no
// longer holds: the actor reads [from, v) from the store and asks again with
// them.
type needOps struct{ from int64 }

func (e *needOps) Error() string { return fmt.Sprintf("needs the ops from version %d", e.from) }

// addPeer records a subscription of the peer p: it joins the presence (again,
// when another subscription of its sid is here already: a tab that
// reconnected).
func (s *docState) addPeer(p wire.PeerInfo) {
	s.sidRefs[p.SID]++
	s.pres.Join(peerFromWire(p))
	s.presDue = true
}

// dropPeer ends a subscription of sid; the last one takes the peer out of
// the presence, and dropPeer then reports true.
func (s *docState) dropPeer(sid string) bool {
	s.sidRefs[sid]--
	if s.sidRefs[sid] > 0 {
		return false
	}
	delete(s.sidRefs, sid)
	s.pres.Leave(sid)
	s.presDue = true
	return true
}

// movePresence makes sel, a selection made at version v, and data (when not
// nil) sid's presence: sel moves through every op committed since v and must
// fit the content. older holds those ops when the window does not (nil
// otherwise); without them the answer is a *needOps. A selection that cannot
// be taken is answered with a *wire.Error (bad_request).
func (s *docState) movePresence(sid string, v int64, sel doctype.Selection, data msgpack.RawMessage, older []store.OpRecord) error {
	if v > s.v {
		return &wire.Error{Code: wire.CodeBadRequest, Msg: fmt.Sprintf("presence: version %d is ahead of the document (%d)", v, s.v)}
	}
	if sel != nil && v < s.v {
		ops, ok := s.windowSince(v)
		if !ok {
			if int64(len(older)) != s.v-v || older[0].Version != v {
				return &needOps{from: v}
			}
			ops = older
		}
		for _, r := range ops {
			if sel = sel.Transform(r.Op, sid == r.SID); sel == nil {
				break
			}
		}
	}
	sel, err := s.doc.FitSelection(sel)
	if err != nil {
		return &wire.Error{Code: wire.CodeBadRequest, Msg: "presence: " + err.Error(), Err: err}
	}
	s.pres.Update(sid, sel, data, data != nil)
	s.presDue = true
	return nil
}

// takePresence returns the presence changes since the last flush, as the
// event every subscriber gets, or nil when there are none.
func (s *docState) takePresence(doc string) *Event {
	if !s.presDue {
		return nil
	}
	s.presDue = false
	changed, gone := s.pres.FlushAppend(s.flushBuf[:0])
	defer func() { clear(changed); s.flushBuf = changed[:0] }() // keep the array, not the peers
	if len(changed) == 0 && len(gone) == 0 {
		return nil
	}
	ev := &Event{Kind: EventPresence, Doc: doc, V: s.v, Gone: gone}
	ev.Peers = make([]wire.PeerInfo, len(changed))
	for i, p := range changed {
		ev.Peers[i] = peerToWire(p)
	}
	return ev
}

// peerList is every peer, as a joined message lists them.
func (s *docState) peerList() []wire.PeerInfo {
	peers := s.pres.Peers()
	out := make([]wire.PeerInfo, len(peers))
	for i, p := range peers {
		out[i] = peerToWire(p)
	}
	return out
}

func peerFromWire(p wire.PeerInfo) presence.Peer {
	return presence.Peer{SID: p.SID, User: p.User, Sel: p.Sel, Data: p.Data}
}

func peerToWire(p presence.Peer) wire.PeerInfo {
	return wire.PeerInfo{SID: p.SID, User: p.User, Sel: p.Sel, Data: p.Data}
}
