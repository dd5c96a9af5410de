// Package presence keeps the peers of one document: who is there, their carets
// and selections, and their free "data" map, plus what changed since the last
// presence broadcast.
//
// A Set is pure data owned by one goroutine (the document actor): it is not
// safe for concurrent use. The actor calls Transform for every committed op,
// Flush on its presence interval (50 ms by default) to build one coalesced
// presence message, and Expire on a timer for peers relayed from other nodes.
package presence

import (
	"slices"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

// User is a peer's identity as the server states it: the wire's one User
// type.
type User = wire.User

// Peer is one connection (sid) joined to the document.
//
// A Set keeps the Sel and Data slices it is given and never writes into them:
// Transform replaces a moved selection with a new slice. So a Peer returned by
// any method stays valid (it may be queued for encoding) while the Set moves on.
type Peer struct {
	// SID is the client's session id, unique within the document.
	SID string
	// User is who the peer is.
	User User
	// Sel is the selection at the document's current version, of the
	// document's type; nil is hidden.
	Sel doctype.Selection
	// Data is the peer's raw MessagePack data map; nil when it sent none.
	Data msgpack.RawMessage
	// Node is the server node the peer is connected to ("" for this node).
	Node string
	// Expires, when set, is when a peer relayed from another node is dropped
	// unless refreshed (its node may have died without saying so).
	Expires time.Time
}

type entry struct {
	Peer
	// announced is set once a Flush has reported the peer: receivers then know
	// it, so its departure must be reported too.
	announced bool
	// dirty marks a change not yet reported by Flush.
	dirty bool
	// ownSel is set while Sel is a slice this Set allocated and has not handed
	// out since: Transform may then move it in place instead of copying.
	ownSel bool
}

// Set is the presence state of one document. The zero value is not usable;
// call NewSet. Not safe for concurrent use.
type Set struct {
	list   []entry        // unordered; removal swaps the last entry in
	index  map[string]int // sid -> position in list
	gone   map[string]struct{}
	nDirty int
}

// NewSet returns an empty set.
func NewSet() *Set {
	return &Set{index: make(map[string]int), gone: make(map[string]struct{})}
}

// Join adds p, or replaces the peer with the same SID (a reconnect), and marks
// it changed.
func (s *Set) Join(p Peer) {
	if ts, ok := p.Sel.(ot.Selection); ok && ts == nil {
		p.Sel = nil // a nil text selection in an interface is still hidden
	}
	if i, ok := s.index[p.SID]; ok {
		e := &s.list[i]
		e.Peer = p
		e.ownSel = false
		s.markDirty(e)
		return
	}
	_, wasGone := s.gone[p.SID]
	if wasGone {
		// Left and came back within one interval: receivers still hold it, so
		// report a change (which replaces it) instead of a departure.
		delete(s.gone, p.SID)
	}
	s.index[p.SID] = len(s.list)
	s.list = append(s.list, entry{Peer: p, announced: wasGone})
	s.markDirty(&s.list[len(s.list)-1])
}

// Update sets the selection of sid, already transformed to the current
// version, and its data when hasData (data nil then clears it). It marks the
// peer changed and reports false when sid is unknown.
func (s *Set) Update(sid string, sel doctype.Selection, data msgpack.RawMessage, hasData bool) bool {
	i, ok := s.index[sid]
	if !ok {
		return false
	}
	if ts, ok := sel.(ot.Selection); ok && ts == nil {
		sel = nil // a nil text selection in an interface is still hidden
	}
	e := &s.list[i]
	e.Sel = sel
	e.ownSel = false
	if hasData {
		e.Data = data
	}
	s.markDirty(e)
	return true
}

// Leave removes sid and reports it gone at the next Flush if receivers had
// been told about it. It reports false when sid is unknown.
func (s *Set) Leave(sid string) bool {
	i, ok := s.index[sid]
	if !ok {
		return false
	}
	e := &s.list[i]
	if e.announced {
		s.gone[sid] = struct{}{}
	}
	if e.dirty {
		s.nDirty--
	}
	last := len(s.list) - 1
	if i != last {
		s.list[i] = s.list[last]
		s.index[s.list[i].SID] = i
	}
	s.list[last] = entry{} // drop references for the GC
	s.list = s.list[:last]
	delete(s.index, sid)
	return true
}

func (s *Set) markDirty(e *entry) {
	if !e.dirty {
		e.dirty = true
		s.nDirty++
	}
}

// Transform moves every selection through op, a committed op written by
// author, with its type's Selection.Transform; own is true for the author's
// own selection. For text that is the caret rule of docs/protocol.md
// ("Carets and selections"): an insert strictly before a caret moves it
// right, an insert exactly at someone else's caret leaves it before the
// inserted text, and a delete containing a caret moves it to the delete's
// start. The author's own selection follows its own insert: an op that came
// without a selection moves the author's caret as the author's editor moved
// it. An op that came with one is followed by Update, which replaces it.
//
// It does not mark peers changed: every receiver applies the same op to its
// own copy of the remote carets. For text (the hot path: every keystroke
// moves every caret) it skips ranges entirely before the op's first change
// without walking op, and allocates only for a selection that moves and was
// handed out (by Get, Peers or Flush) since it last moved: a burst of typing
// between two presence flushes copies each moving selection once, then moves
// it in place.
func (s *Set) Transform(op doctype.Op, author string) {
	if top, ok := op.(ot.Op); ok {
		s.transformText(top, author)
		return
	}
	for i := range s.list {
		e := &s.list[i]
		if e.Sel != nil {
			e.Sel = e.Sel.Transform(op, e.SID != "" && e.SID == author)
			e.ownSel = false
		}
	}
}

// transformText is Transform for a text op.
func (s *Set) transformText(op ot.Op, author string) {
	first, ok := firstChange(op)
	if !ok {
		return
	}
	for i := range s.list {
		e := &s.list[i]
		sel, isText := e.Sel.(ot.Selection)
		if !isText || sel == nil {
			if e.Sel != nil {
				e.Sel = e.Sel.Transform(op, e.SID != "" && e.SID == author)
			}
			continue
		}
		owner := e.SID
		if e.ownSel {
			moveInPlace(sel, op, first, owner, author)
		} else if moved := transformSel(sel, op, first, owner, author); moved != nil {
			e.Sel = moved
			e.ownSel = true
		}
	}
}

// firstChange is the position of op's first insert or delete: carets before it
// cannot move (one exactly at it can, by an insert). ok is false for an op that
// changes nothing.
func firstChange(op ot.Op) (pos int, ok bool) {
	for _, c := range op {
		if c.Retain > 0 && c.Insert == "" && c.Delete == 0 {
			pos += c.Retain
			continue
		}
		return pos, true
	}
	return 0, false
}

// transformSel returns sel, the selection of owner, moved through op, or nil
// when no range moves.
func transformSel(sel ot.Selection, op ot.Op, first int, owner, author string) ot.Selection {
	var out ot.Selection
	for j, r := range sel {
		if r.Anchor < first && r.Head < first {
			if out != nil {
				out[j] = r
			}
			continue
		}
		m := moveRange(r, op, owner, author)
		if out == nil {
			if m == r {
				continue
			}
			out = make(ot.Selection, len(sel))
			copy(out, sel[:j])
		}
		out[j] = m
	}
	return out
}

func moveInPlace(sel ot.Selection, op ot.Op, first int, owner, author string) {
	for j, r := range sel {
		if r.Anchor < first && r.Head < first {
			continue
		}
		sel[j] = moveRange(r, op, owner, author)
	}
}

func moveRange(r ot.Range, op ot.Op, owner, author string) ot.Range {
	return ot.Range{
		Anchor: ot.TransformPositionPast(r.Anchor, owner, op, author),
		Head:   ot.TransformPositionPast(r.Head, owner, op, author),
	}
}

// Flush returns what changed since the last Flush, for one presence message:
// the peers joined or updated (each once, in its latest state, ordered by SID)
// and the sids that left (ordered). A peer that joined and left within one
// interval appears nowhere unless an earlier Flush had reported it, in which
// case it is only gone. Both are nil when nothing changed.
func (s *Set) Flush() (changed []Peer, gone []string) { return s.FlushAppend(nil) }

// FlushAppend is Flush with the changed peers appended to dst (returned
// as is when none changed), so that a caller that converts them at once
// reuses one buffer for every flush instead of allocating one per flush.
func (s *Set) FlushAppend(dst []Peer) (changed []Peer, gone []string) {
	changed = dst
	if s.nDirty > 0 {
		changed = slices.Grow(changed, s.nDirty)
		from := len(changed)
		for i := range s.list {
			e := &s.list[i]
			if !e.dirty {
				continue
			}
			changed = append(changed, e.Peer)
			e.ownSel = false
			e.dirty = false
			e.announced = true
		}
		s.nDirty = 0
		sortPeers(changed[from:])
	}
	if len(s.gone) > 0 {
		gone = make([]string, 0, len(s.gone))
		for sid := range s.gone {
			gone = append(gone, sid)
		}
		clear(s.gone)
		slices.Sort(gone)
	}
	return changed, gone
}

// Peers returns every peer ordered by SID, for a joined message.
func (s *Set) Peers() []Peer {
	out := make([]Peer, len(s.list))
	for i := range s.list {
		out[i] = s.list[i].Peer
		s.list[i].ownSel = false
	}
	sortPeers(out)
	return out
}

// Get returns the peer with this sid.
func (s *Set) Get(sid string) (Peer, bool) {
	i, ok := s.index[sid]
	if !ok {
		return Peer{}, false
	}
	s.list[i].ownSel = false
	return s.list[i].Peer, true
}

// Len is the number of peers.
func (s *Set) Len() int { return len(s.list) }

// Expire drops the peers whose Expires is set and before now (relayed from a
// node that stopped refreshing them), reports them gone like Leave, and
// returns their sids in order.
func (s *Set) Expire(now time.Time) []string {
	var dead []string
	for i := range s.list {
		e := &s.list[i]
		if !e.Expires.IsZero() && e.Expires.Before(now) {
			dead = append(dead, e.SID)
		}
	}
	for _, sid := range dead {
		s.Leave(sid)
	}
	slices.Sort(dead)
	return dead
}

func sortPeers(p []Peer) {
	slices.SortFunc(p, func(a, b Peer) int { return strings.Compare(a.SID, b.SID) })
}
